//! Fuzzes reading what Stripe posts to the webhook receiver with the plugin's JSON reader
//! (miniserde's parser building the plugin's tree): bytes parsed as a JSON tree (taken exactly
//! when serde_json takes them), as an `Event` (the envelope alone, then with its object read as a
//! `PaymentIntent`, as the plugin does) and as a `PaymentIntent`, mapped to payment states and fed
//! to `should_apply`. Nothing may panic; a well-formed event around a well-formed intent (written
//! by serde_json) always parses with its fields intact; and no observation, at any time, moves a
//! final state (succeeded, canceled).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use paydesk_plugin::domain::payment_state::{from_event, from_intent, should_apply};
use paydesk_plugin::domain::vocabulary::PaymentStatus as Status;
use paydesk_plugin::json;
use paydesk_plugin::stripe::events::Event;
use paydesk_plugin::stripe::payment_intents::PaymentIntent;
use serde_json::{Map, Value, json};

/// Every record status; `_every_status_is_listed` stops compiling when one is added.
const STATUSES: [Status; 6] = [
    Status::RequiresPaymentMethod,
    Status::RequiresAction,
    Status::Processing,
    Status::Succeeded,
    Status::Failed,
    Status::Canceled,
];

fn _every_status_is_listed(s: Status) {
    match s {
        Status::RequiresPaymentMethod
        | Status::RequiresAction
        | Status::Processing
        | Status::Succeeded
        | Status::Failed
        | Status::Canceled => {}
    }
}

const EVENT_TYPES: &[&str] = &[
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "payment_intent.requires_action",
    "payment_intent.created",
    "charge.refunded",
];

const INTENT_STATUSES: &[&str] = &[
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "processing",
    "requires_capture",
    "succeeded",
    "canceled",
];

/// A name Stripe uses, or any string.
#[derive(Debug, Arbitrary)]
enum Pick {
    Known(u8),
    Other(String),
}

impl Pick {
    fn name_in(&self, names: &[&str]) -> String {
        match self {
            Pick::Known(i) => names[usize::from(*i) % names.len()].to_string(),
            Pick::Other(s) => s.clone(),
        }
    }
}

/// A well-formed event around a well-formed intent.
#[derive(Debug, Arbitrary)]
struct Shaped {
    id: String,
    event_type: Pick,
    created: i64,
    intent_id: String,
    status: Pick,
    amount: i64,
    currency: String,
    last_payment_error: Option<(Option<String>, Option<String>)>,
    payment_method: Option<String>,
    metadata: Vec<(String, String)>,
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    /// Bytes as anyone could post them.
    Raw(&'a [u8]),
    Shaped(Box<Shaped>),
}

#[derive(Debug, Arbitrary)]
struct Case<'a> {
    input: Input<'a>,
    /// Earlier observations of the payment record (status index, Stripe time).
    history: Vec<(u8, i64)>,
}

/// No observation moves a final state, whenever either was seen; replaying `history` and then
/// `new` never leaves a final state once reached.
fn check_transitions(new: Status, new_at: i64, history: &[(u8, i64)]) {
    let times = [
        None,
        Some(new_at),
        Some(new_at.saturating_sub(1)),
        Some(new_at.saturating_add(1)),
        Some(i64::MIN),
        Some(i64::MAX),
    ];
    for current in STATUSES.into_iter().filter(|s| s.is_final()) {
        for at in times {
            assert!(
                !should_apply(current, at, new, new_at),
                "{new:?} at {new_at} replaced final {current:?} at {at:?}"
            );
        }
    }
    let observations = history
        .iter()
        .map(|&(i, at)| (STATUSES[usize::from(i) % STATUSES.len()], at))
        .chain([(new, new_at)]);
    let mut state = (Status::RequiresPaymentMethod, None);
    for (status, at) in observations {
        let was = state.0;
        if should_apply(state.0, state.1, status, at) {
            state = (status, Some(at));
        }
        if was.is_final() {
            assert_eq!(state.0, was, "{status:?} at {at} moved final {was:?}");
        }
    }
}

fn observe_intent(intent: &PaymentIntent, at: i64, history: &[(u8, i64)]) {
    if let Some(status) = from_intent(&intent.status, intent.last_payment_error.is_some()) {
        check_transitions(status, at, history);
    }
}

/// The event's type as a state; its object as an intent when it reads as one.
fn observe_event(text: &str, history: &[(u8, i64)]) {
    if let Ok(event) = json::from_str::<Event>(text) {
        if let Some(status) = from_event(&event.event_type) {
            check_transitions(status, event.created, history);
        }
        // The plugin's path: the envelope, then the object as an intent.
        if let Ok(typed) = json::from_str::<Event<PaymentIntent>>(text) {
            observe_intent(&typed.data.object, typed.created, history);
        }
    }
}

fn shaped_json(s: &Shaped) -> (Value, Map<String, Value>) {
    let mut metadata = Map::new();
    for (k, v) in &s.metadata {
        metadata.insert(k.clone(), Value::String(v.clone()));
    }
    let error = s
        .last_payment_error
        .as_ref()
        .map(|(code, message)| json!({"type": "card_error", "code": code, "message": message}));
    let intent = json!({
        "id": s.intent_id,
        "object": "payment_intent",
        "status": s.status.name_in(INTENT_STATUSES),
        "amount": s.amount,
        "currency": s.currency,
        "client_secret": null,
        "last_payment_error": error,
        "payment_method": s.payment_method,
        "latest_charge": {"id": "ch_1", "object": "charge"},
        "metadata": metadata,
    });
    let event = json!({
        "id": s.id,
        "object": "event",
        "type": s.event_type.name_in(EVENT_TYPES),
        "created": s.created,
        "data": {"object": intent},
        "livemode": false,
    });
    (event, metadata)
}

fuzz_target!(|case: Case<'_>| {
    let history = &case.history[..case.history.len().min(16)];
    match &case.input {
        Input::Raw(bytes) => {
            // The host hands the plugin text; bytes that are not UTF-8 never reach the reader.
            let Ok(text) = std::str::from_utf8(bytes) else {
                return;
            };
            // The plugin's reader takes a text exactly when serde_json does: never laxer, and no
            // stricter (a key given twice, 127 levels of nesting, numbers out of range alike).
            assert_eq!(
                json::parse(text).is_ok(),
                serde_json::from_str::<Value>(text).is_ok(),
                "{text:?}"
            );
            observe_event(text, history);
            if let Ok(intent) = json::from_str::<PaymentIntent>(text) {
                observe_intent(&intent, 0, history);
            }
        }
        Input::Shaped(s) => {
            let (json, metadata) = shaped_json(s);
            let text = json.to_string();
            let event: Event = json::from_str(&text).expect("a well-formed event parses");
            assert_eq!(event.id, s.id);
            assert_eq!(event.event_type, s.event_type.name_in(EVENT_TYPES));
            assert_eq!(event.created, s.created);
            let typed: Event<PaymentIntent> =
                json::from_str(&text).expect("a well-formed intent in an event parses");
            let intent: PaymentIntent = json::from_str(&json["data"]["object"].to_string())
                .expect("a well-formed intent parses");
            assert_eq!(intent.id, s.intent_id);
            assert_eq!(intent.amount, s.amount);
            assert_eq!(intent.currency, s.currency);
            assert_eq!(
                intent.last_payment_error.is_some(),
                s.last_payment_error.is_some()
            );
            assert_eq!(
                intent.payment_method.as_ref().map(|p| p.id()),
                s.payment_method.as_deref()
            );
            assert_eq!(intent.latest_charge.as_ref().map(|c| c.id()), Some("ch_1"));
            assert_eq!(typed.data.object, intent);
            assert_eq!(intent.metadata.len(), metadata.len());
            for (k, v) in &intent.metadata {
                assert_eq!(metadata.get(k).and_then(Value::as_str), Some(v.as_str()));
            }
            observe_event(&text, history);
        }
    }
});
