//! Stripe events as they arrive at the webhook receiver: the envelope, and the PaymentIntent inside
//! `payment_intent.*` events.

use crate::json::{self, Any, FromJson, Json};

/// A Stripe event whose `data.object` is read as `T`: [`Any`] to read the envelope alone (which
/// kind of event is it?), then the object's type once the event is one paydesk acts on.
#[derive(Debug, Clone)]
pub struct Event<T = Any> {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    pub data: EventData<T>,
}

#[derive(Debug, Clone)]
pub struct EventData<T> {
    pub object: T,
}

impl<T: FromJson> FromJson for Event<T> {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let (id, event_type, created, object) = envelope(v)?;
        let object = T::from_json(object).map_err(|e| e.at("data.object"))?;
        Ok(Event {
            id,
            event_type,
            created,
            data: EventData { object },
        })
    }
}

/// An event's id, type, `created` and `data.object` (not generic: one copy for every object type).
fn envelope(v: &Json) -> Result<(String, String, i64, &Json), json::Error> {
    let o = v.object("a Stripe event")?;
    let id = o.req("id")?;
    let event_type = o.req("type")?;
    let created = o.req("created")?;
    let data = o
        .get("data")?
        .ok_or_else(|| json::Error::new("missing field `data`"))?;
    let object = data
        .object("an event's data")
        .and_then(|d| d.get("object"))
        .map_err(|e| e.at("data"))?
        .ok_or_else(|| json::Error::new("data: missing field `object`"))?;
    Ok((id, event_type, created, object))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stripe::payment_intents::PaymentIntent;

    #[test]
    fn reads_stripes_event_envelope() {
        let json = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,
            "data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded"}},"livemode":false}"#;
        let e: Event = json::from_str(json).unwrap();
        assert_eq!(e.event_type, "payment_intent.succeeded");
        assert_eq!(e.created, 1_700_000_000);
    }

    #[test]
    fn the_envelope_reads_whatever_the_object_is() {
        let json = r#"{"id":"evt_2","type":"customer.created","created":1,"data":{"object":[1,{"a":null},"x",2.5e3]}}"#;
        let e: Event = json::from_str(json).unwrap();
        assert_eq!(e.id, "evt_2");
        assert!(json::from_str::<Event>(r#"{"id":"evt_3","type":"x","created":1}"#).is_err());
    }

    #[test]
    fn reads_the_payment_intent_inside_an_event() {
        let json = r#"{"id":"evt_1","type":"payment_intent.payment_failed","created":5,
            "data":{"object":{"id":"pi_1","status":"requires_payment_method","amount":1080,"currency":"usd",
            "last_payment_error":{"code":"card_declined","decline_code":"lost_card"},
            "metadata":{"paydesk_group":"grp_1"}},"previous_attributes":{}}}"#;
        let e: Event<PaymentIntent> = json::from_str(json).unwrap();
        assert_eq!(e.data.object.id, "pi_1");
        assert_eq!(e.data.object.group(), Some("grp_1"));
        let err = json::from_str::<Event<PaymentIntent>>(
            r#"{"id":"evt_2","type":"payment_intent.succeeded","created":5,"data":{"object":{"id":"cus_1"}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
    }
}
