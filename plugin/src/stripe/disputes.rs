//! Stripe Disputes as they arrive inside `charge.dispute.*` events: the fields paydesk keeps.
//! (paydesk never writes to a dispute: evidence is answered in Stripe's dashboard.)

use crate::json::{self, FromJson, Json};

use super::IdOrObject;

/// A Dispute object (API 2023-08-16).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub id: String,
    /// The disputed charge, an id (or the object, when expanded).
    pub charge: IdOrObject,
    /// Its PaymentIntent, when the charge was made by one.
    pub payment_intent: Option<IdOrObject>,
    /// The disputed amount, minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// Stripe's reason (`fraudulent`, `general`, …).
    pub reason: String,
    /// `warning_needs_response`, …, `won`, `lost`.
    pub status: String,
    pub evidence_details: Option<EvidenceDetails>,
    pub created: i64,
}

/// When evidence is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceDetails {
    pub due_by: Option<i64>,
}

impl Dispute {
    /// When Stripe wants the evidence by, if it asks for any.
    pub fn evidence_due_by(&self) -> Option<i64> {
        self.evidence_details.as_ref().and_then(|e| e.due_by)
    }
}

impl FromJson for Dispute {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Dispute")?;
        let read = Dispute {
            id: f.req("id"),
            charge: f.req("charge"),
            payment_intent: f.opt("payment_intent"),
            amount: f.req("amount"),
            currency: f.req("currency"),
            reason: f.req("reason"),
            status: f.req("status"),
            evidence_details: f.opt("evidence_details"),
            created: f.req("created"),
        };
        f.done(read)
    }
}

impl FromJson for EvidenceDetails {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        Ok(EvidenceDetails {
            due_by: v.object("evidence details")?.opt("due_by")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::events::Event;

    #[test]
    fn reads_the_dispute_inside_an_event() {
        // The shape of Stripe's fixture dispute (fixtures3.json), trimmed.
        let json = r#"{"id":"evt_d1","type":"charge.dispute.created","created":1700000100,
            "data":{"object":{"id":"dp_1","object":"dispute","amount":1000,"currency":"usd",
            "charge":"ch_1","payment_intent":"pi_1","reason":"fraudulent","status":"needs_response",
            "evidence_details":{"due_by":1700900000,"has_evidence":false,"past_due":false,"submission_count":0},
            "created":1700000000,"livemode":false,"metadata":{},"balance_transactions":[]}}}"#;
        let e: Event<Dispute> = json::from_str(json).unwrap();
        let d = e.data.object;
        assert_eq!(d.charge.id(), "ch_1");
        assert_eq!(d.payment_intent.as_ref().map(IdOrObject::id), Some("pi_1"));
        assert_eq!(d.evidence_due_by(), Some(1_700_900_000));
        let no_intent = r#"{"id":"dp_2","charge":{"id":"ch_2"},"payment_intent":null,"amount":5,
            "currency":"usd","reason":"general","status":"warning_needs_response","created":1,
            "evidence_details":{"due_by":null}}"#;
        let d: Dispute = json::from_str(no_intent).unwrap();
        assert_eq!(d.payment_intent, None);
        assert_eq!(d.evidence_due_by(), None);
        assert_eq!(d.charge.id(), "ch_2");
    }
}
