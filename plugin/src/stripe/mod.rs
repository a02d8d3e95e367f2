//! A typed Stripe client without I/O: request builders (`customers`, …) produce [`Request`]s and
//! response transformers turn Stripe's JSON into typed values or a [`StripeFailure`]. The one place
//! that sends a request is `flows::stripe_send`, over the host's `http` import.

pub mod changes;
pub mod customers;
pub mod disputes;
pub mod events;
pub mod form;
pub mod payment_intents;
pub mod payment_methods;
pub mod refunds;
pub mod setup_intents;
pub mod webhook_endpoints;

use crate::json::{self, FromJson, Json};

pub use form::Form;

/// HTTP method of a Stripe call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

/// One Stripe API call, ready to hand to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
}

impl Request {
    pub fn get(path: impl Into<String>, query: Form) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            query: query.into_pairs(),
            form: Vec::new(),
            idempotency_key: None,
        }
    }

    pub fn post(path: impl Into<String>, form: Form) -> Request {
        Request {
            method: Method::Post,
            path: path.into(),
            query: Vec::new(),
            form: form.into_pairs(),
            idempotency_key: None,
        }
    }

    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Request {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Stripe's answer as the host returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub request_id: Option<String>,
    pub retry_after: Option<u32>,
    pub body: String,
}

/// Stripe's `{"error": {...}}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub error_type: Option<String>,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
    pub param: Option<String>,
}

impl FromJson for ErrorBody {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("Stripe's error")?;
        let read = ErrorBody {
            error_type: f.opt("type"),
            code: f.opt("code"),
            decline_code: f.opt("decline_code"),
            message: f.opt("message"),
            param: f.opt("param"),
        };
        f.done(read)
    }
}

/// Stripe's error body's `error`.
fn error_of(body: &str) -> Result<ErrorBody, json::Error> {
    json::parse(body)?
        .object("Stripe's error body")?
        .req("error")
}

/// Why a Stripe answer is not the object we asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeFailure {
    /// Stripe answered with an error status.
    Api {
        status: u16,
        error: Box<ErrorBody>,
        request_id: Option<String>,
    },
    /// A 2xx answer we could not read.
    Malformed {
        detail: String,
        request_id: Option<String>,
    },
}

impl StripeFailure {
    /// A one-line description for humans.
    pub fn message(&self) -> String {
        match self {
            StripeFailure::Api { status, error, .. } => {
                match (self.missing_permission(), &error.message) {
                    (Some(p), _) => format!(
                        "the restricted key lacks the permission {p}; add it to the key in Stripe's dashboard (Developers › API keys) and try again"
                    ),
                    (None, Some(m)) => format!("Stripe: {}", without_keys(m)),
                    (None, None) => format!("Stripe answered HTTP {status}"),
                }
            }
            StripeFailure::Malformed { detail, .. } => {
                format!("Stripe's answer could not be read: {detail}")
            }
        }
    }
}

impl StripeFailure {
    /// The permission a restricted key lacks, when Stripe refused the call for it (HTTP 403,
    /// "… Having the 'rak_charge_write' permission would allow this request to continue.").
    pub fn missing_permission(&self) -> Option<String> {
        let StripeFailure::Api {
            status: 403, error, ..
        } = self
        else {
            return None;
        };
        let message = error.message.as_deref()?;
        let rest = &message[message.find("Having the '")? + "Having the '".len()..];
        let name = &rest[..rest.find('\'')?];
        let well_formed = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        well_formed.then(|| name.to_string())
    }
}

/// Stripe's message with every API key it quotes (`'rk_test_…'`, `sk_live_…`) replaced by "the key":
/// Stripe names the key a call used, and no message may carry it on.
pub fn without_keys(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = ["sk_", "rk_", "pk_"]
        .iter()
        .filter_map(|p| rest.find(p))
        .min()
    {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
        let end = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*' || c == '…'))
            .map_or(rest.len(), |e| at + e);
        out.push_str(&rest[..at]);
        if starts_word {
            out.push_str("(the key)");
        } else {
            out.push_str(&rest[at..end]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A Stripe list object (`{"object":"list","data":[…],"has_more":…}`).
#[derive(Debug, Clone)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

impl<T: FromJson> FromJson for List<T> {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        let mut f = v.fields("a Stripe list")?;
        let read = List {
            data: f.req("data"),
            has_more: f.or_default("has_more"),
        };
        f.done(read)
    }
}

/// An id, or the object when Stripe expanded it (`"cus_1"` or `{"id": "cus_1", ...}`; localstripe
/// embeds `latest_charge`).
///
/// Accepted: a string, or a map with an `id` string (other keys ignored); anything else is an
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrObject {
    Id(String),
    Object { id: String },
}

/// An empty id: only a placeholder while a struct is read (see [`json::Fields`]).
impl Default for IdOrObject {
    fn default() -> Self {
        IdOrObject::Id(String::new())
    }
}

impl IdOrObject {
    pub fn id(&self) -> &str {
        match self {
            IdOrObject::Id(id) | IdOrObject::Object { id } => id,
        }
    }
}

impl FromJson for IdOrObject {
    fn from_json(v: &Json) -> Result<Self, json::Error> {
        match v {
            Json::String(id) => Ok(IdOrObject::Id(id.to_string())),
            v => Ok(IdOrObject::Object {
                id: v.object("a Stripe id or an object with an id")?.req("id")?,
            }),
        }
    }
}

/// Read a 2xx answer as `T`, or Stripe's error.
pub fn parse<T: FromJson>(response: &Response) -> Result<T, StripeFailure> {
    T::from_json(&answer(response)?).map_err(|e| malformed(response, e))
}

/// A 2xx answer's JSON, or Stripe's error (not generic: one copy for every type read).
fn answer(response: &Response) -> Result<Json, StripeFailure> {
    if (200..300).contains(&response.status) {
        json::parse(&response.body).map_err(|e| malformed(response, e))
    } else {
        let error = Box::new(error_of(&response.body).unwrap_or_default());
        Err(StripeFailure::Api {
            status: response.status,
            error,
            request_id: response.request_id.clone(),
        })
    }
}

fn malformed(response: &Response, e: json::Error) -> StripeFailure {
    StripeFailure::Malformed {
        detail: e.to_string(),
        request_id: response.request_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            request_id: Some("req_1".into()),
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn card_error_keeps_codes_and_request_id() {
        let body = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"lost_card","message":"Your card was declined."}}"#;
        let err = parse::<json::Any>(&response(402, body)).unwrap_err();
        let StripeFailure::Api {
            status,
            error,
            request_id,
        } = err
        else {
            panic!("expected an API error");
        };
        assert_eq!(status, 402);
        assert_eq!(error.decline_code.as_deref(), Some("lost_card"));
        assert_eq!(request_id.as_deref(), Some("req_1"));
    }

    #[test]
    fn an_id_or_an_expanded_object() {
        let read = |json: &str| json::from_str::<Option<IdOrObject>>(json);
        assert_eq!(
            read(r#""ch_1""#).unwrap(),
            Some(IdOrObject::Id("ch_1".into()))
        );
        assert_eq!(
            read(r#"{"object":"charge","id":"ch_2","amount":5,"outcome":{"x":[1,2.5]}}"#).unwrap(),
            Some(IdOrObject::Object { id: "ch_2".into() })
        );
        assert_eq!(read("null").unwrap(), None);
        assert_eq!(
            read(r#""with \"escapes\"""#).unwrap().unwrap().id(),
            "with \"escapes\""
        );
        for bad in [
            "5",
            "true",
            r#"{"object":"charge"}"#,
            r#"{"id":"a","id":"b"}"#,
            r#"{"id":5}"#,
            "[]",
            r#"["ch_3"]"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_permission_is_named_without_the_key() {
        let body = r#"{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_51Abc*****************wxyz' does not have the required permissions for this endpoint on account 'acct_1Xyz'. Having the 'rak_charge_write' permission would allow this request to continue."}}"#;
        let err = parse::<json::Any>(&response(403, body)).unwrap_err();
        assert_eq!(
            err.missing_permission().as_deref(),
            Some("rak_charge_write")
        );
        let message = err.message();
        assert!(
            message.contains("lacks the permission rak_charge_write"),
            "{message}"
        );
        assert!(!message.contains("rk_test"), "{message}");
        // The same words with another status are not a permission refusal.
        let err = parse::<json::Any>(&response(400, body)).unwrap_err();
        assert_eq!(err.missing_permission(), None);
        assert!(!err.message().contains("rk_test"), "{}", err.message());
        assert!(err.message().contains("'(the key)'"), "{}", err.message());
    }

    #[test]
    fn keys_are_taken_out_of_stripe_messages() {
        assert_eq!(
            without_keys("Invalid API Key provided: sk_live_abc*****1234 (rk_test_x) ok"),
            "Invalid API Key provided: (the key) ((the key)) ok"
        );
        assert_eq!(
            without_keys("No such customer: 'cus_1'; task_x"),
            "No such customer: 'cus_1'; task_x"
        );
        assert_eq!(without_keys("ends sk_"), "ends (the key)");
    }

    #[test]
    fn non_json_error_body_still_reports_the_status() {
        let err = parse::<json::Any>(&response(404, "Not Found")).unwrap_err();
        assert_eq!(err.message(), "Stripe answered HTTP 404");
    }
}
