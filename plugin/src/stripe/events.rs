//! Stripe events as they arrive at the webhook receiver: the envelope, and the PaymentIntent inside
//! `payment_intent.*` events.

use serde::Deserialize;

/// A Stripe event.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stripes_event_envelope() {
        let json = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,
            "data":{"object":{"id":"pi_1","object":"payment_intent","status":"succeeded"}},"livemode":false}"#;
        let e: Event = serde_json::from_str(json).unwrap();
        assert_eq!(e.event_type, "payment_intent.succeeded");
        assert_eq!(e.data.object["id"], "pi_1");
    }
}
