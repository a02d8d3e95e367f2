//! The constraints the JSON API puts on parameters and fields, each written once here and quoted by
//! the OpenAPI annotations (the patterns below are the ones the document shows), so that the server
//! refuses exactly what the document says is invalid: names that are only white space, dates that
//! are not `YYYY-MM-DD`, Stripe ids of the wrong shape, page sizes out of range, currencies Stripe
//! does not take.

use axum::http::StatusCode;

use crate::web::error::{ApiError, FieldProblem};
use paydesk_plugin::domain::vocabulary::PaymentMethodType;

/// A text with a character that is not white space — in every regex dialect a client may use
/// (ECMA's `\s` has U+FEFF, Python's has U+001C–U+001F; both are refused as blank here too).
pub const NOT_BLANK: &str = r"[^\s\u001c-\u001f\u0085\ufeff]";

fn blank(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}' | '\u{feff}')
}

/// A required text: at most `max` characters, not only white space.
pub fn text(value: &str, max: usize) -> Result<(), String> {
    if value.chars().all(blank) {
        Err("must not be empty".into())
    } else if value.chars().count() > max {
        Err(format!("at most {max} characters"))
    } else {
        Ok(())
    }
}

/// A calendar date written `YYYY-MM-DD` (exactly: four-digit year, two-digit month and day).
pub fn date(value: &str) -> Option<chrono::NaiveDate> {
    let b = value.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shaped
        .then(|| chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
}

/// The years a recurring invoice may start in and a run may be for: a recurring invoice made to
/// start in year 1 would generate some 24,000 invoices at its first run.
pub fn in_range(date: chrono::NaiveDate) -> bool {
    use chrono::Datelike as _;
    (2000..=2099).contains(&date.year())
}

/// A page size: `default` when absent, else 1..=`max`; 400 naming `limit` otherwise.
pub fn limit(value: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(parameter("limit", format!("{n}: use 1 to {max}"))),
    }
}

/// A query parameter the document constrains, refused: 400 naming it.
pub fn parameter(field: &str, message: String) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "a query parameter is not valid; see the fields",
    );
    e.body.error.fields = vec![FieldProblem {
        field: field.into(),
        message,
    }];
    e
}

/// A Stripe id `{prefix}_…` of 1–64 letters and digits (`cus_…`, `pm_…`); 422 naming the field.
pub fn stripe_id(field: &str, value: &str, prefix: &str) -> Result<(), ApiError> {
    let ok = value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| {
            (1..=64).contains(&rest.len()) && rest.bytes().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "not a Stripe id; see the fields",
            vec![FieldProblem {
                field: field.into(),
                message: format!("`{value}` is not a Stripe id `{prefix}_…`"),
            }],
        ))
    }
}

/// A currency as the API takes it: a code Stripe accepts, all lower-case or all upper-case;
/// returned lower-case.
pub fn currency(value: &str) -> Option<&'static str> {
    let lower = value.to_ascii_lowercase();
    let cased = value == lower || value == value.to_ascii_uppercase();
    paydesk_plugin::domain::money::Currency::codes().find(|c| cased && *c == lower)
}

/// The document's schema of a currency field: every code Stripe accepts, in both cases.
pub fn currency_schema() -> utoipa::openapi::Object {
    let codes: Vec<String> = paydesk_plugin::domain::money::Currency::codes()
        .flat_map(|c| [c.to_string(), c.to_ascii_uppercase()])
        .collect();
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some(
            "an ISO 4217 code Stripe accepts, lower- or upper-case (`usd`, `EUR`)",
        ))
        .enum_values(Some(codes))
        .build()
}

/// Stripe's names of the payment method types paydesk knows, in the vocabulary's order.
pub fn method_type_names() -> Vec<&'static str> {
    PaymentMethodType::ALL
        .iter()
        .map(|t| t.wire_name())
        .collect()
}

/// `a, b or c`: the names a field takes, for a message.
pub fn one_of(names: &[&str]) -> String {
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The document's schema of a payment method type.
pub fn method_type_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .description(Some("Stripe's name of a payment method type"))
        .enum_values(Some(method_type_names()))
        .build()
}

/// The document's schema of a list of payment method types: at least one, each once.
pub fn method_types_schema() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(method_type_schema())
        .min_items(Some(1))
        .max_items(Some(PaymentMethodType::ALL.len()))
        .unique_items(true)
        .build()
}

/// Payment method types for new details: at least one, each once (the document's schema is
/// [`method_types_schema`]).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct MethodTypes(pub Vec<String>);

impl utoipa::PartialSchema for MethodTypes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::Schema::Array(method_types_schema()).into()
    }
}

impl utoipa::ToSchema for MethodTypes {}

/// The document's schema of the invoice ids to quote or pay.
pub fn invoice_ids_schema() -> utoipa::openapi::Array {
    utoipa::openapi::ArrayBuilder::new()
        .items(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                ))),
        )
        .min_items(Some(1))
        .max_items(Some(MAX_INVOICES))
        .unique_items(true)
        .description(Some("1–100 invoice ids, each once"))
        .build()
}

/// Invoice ids to quote or pay: 1–100 of them, each once; 422 naming `invoice_ids` otherwise.
pub fn invoice_ids(ids: &[i64]) -> Result<(), ApiError> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let problem = if ids.is_empty() {
        Some("name at least one invoice".to_string())
    } else if ids.len() > MAX_INVOICES {
        Some(format!("at most {MAX_INVOICES} invoices at once"))
    } else if sorted.len() != ids.len() {
        Some("an invoice is named twice".into())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(message) => Err(ApiError::invalid(
            "see the fields",
            vec![FieldProblem {
                field: "invoice_ids".into(),
                message,
            }],
        )),
    }
}

/// An http(s) URL as the document's pattern has it: `^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$`
/// (a host name, a port, a path of visible ASCII); 422 naming the field otherwise.
pub fn http_url(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = value.len() <= 2000
        && ["https://", "http://"].iter().any(|scheme| {
            value.strip_prefix(scheme).is_some_and(|rest| {
                let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
                let (host, port) = match authority.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (authority, None),
                };
                !host.is_empty()
                    && host
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
                    && port.is_none_or(|p| {
                        (1..=5).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit())
                    })
                    && path.bytes().all(|c| (b'!'..=b'~').contains(&c))
            })
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "see the fields",
            vec![FieldProblem {
                field: field.into(),
                message: format!("`{value}` is not an http(s) URL"),
            }],
        ))
    }
}

/// Most invoices one quote or payment names.
pub const MAX_INVOICES: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_texts_are_refused_in_every_dialect_of_white_space() {
        for blank in ["", " ", "\t\n", "\u{feff}", "\u{1c}", "\u{85}", "\u{3000}"] {
            assert!(text(blank, 10).is_err(), "{blank:?}");
        }
        assert!(text(" Acme ", 10).is_ok());
        assert!(text("ééééé", 5).is_ok());
        assert!(text("ééééé!", 5).is_err());
    }

    #[test]
    fn dates_are_exactly_yyyy_mm_dd() {
        assert!(date("2026-12-01").is_some());
        for bad in [
            "2026-1-01",
            "2026-02-30",
            "20261201",
            "+2026-12-01",
            "2026-12-01 ",
        ] {
            assert!(date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn currencies_are_one_case_and_known_to_stripe() {
        assert_eq!(currency("usd"), Some("usd"));
        assert_eq!(currency("JPY"), Some("jpy"));
        assert_eq!(currency("Usd"), None);
        assert_eq!(currency("xyz"), None);
        assert_eq!(currency(" usd"), None);
    }

    #[test]
    fn the_names_a_field_takes_read_as_a_list() {
        assert_eq!(
            one_of(&["none", "own", "customer"]),
            "none, own or customer"
        );
        assert_eq!(one_of(&["card", "link"]), "card or link");
        assert_eq!(one_of(&["card"]), "card");
    }

    #[test]
    fn stripe_ids_have_their_prefix_and_letters_and_digits() {
        assert!(stripe_id("f", "cus_Abc123", "cus").is_ok());
        for bad in ["cus_", "pm_abc", "cus_a/b", "cus_a b"] {
            assert!(stripe_id("f", bad, "cus").is_err(), "{bad}");
        }
    }
}
