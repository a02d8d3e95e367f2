//! The JSON API's extractors: a JSON body, path parameters and a query string, each refusing bad
//! input with the API's one error shape ([`ApiError`]) instead of axum's plain-text rejections —
//! 415 for a body that is not `application/json`, 400 for JSON that does not parse, 422 naming the
//! field for JSON of the wrong shape (unknown, missing or mistyped fields), 413 for a body over the
//! limit, 400 naming the parameter for a path or query parameter that does not parse. Also the
//! router's fallbacks: an unknown route under `/api/` is a JSON 404, a known route with another
//! method a JSON 405.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::web::error::{ApiError, FieldProblem};

/// A JSON request body, read as `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

fn is_json(parts_headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = parts_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Ok(mime) = value.parse::<mime::Mime>() else {
        return false;
    };
    mime.type_() == "application"
        && (mime.subtype() == "json" || mime.suffix().is_some_and(|s| s == "json"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send the body as JSON, with `Content-Type: application/json`",
    )
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this route accepts",
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the request body could not be read",
        )
    }
}

/// JSON Schema's integers include numbers written with a zero fraction (`944.0`): read them as
/// the integers they are, where that is exact.
fn integers_as_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9_007_199_254_740_992.0
            {
                *value = serde_json::Value::from(f as i64);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integers_as_integers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(integers_as_integers),
        _ => {}
    }
}

/// `bytes` as `T`: 400 when it is not JSON, 422 naming the field when it is JSON of another shape.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the request body is not valid JSON: {e}"),
        )
    })?;
    integers_as_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        {
            let field = if path == "." { String::new() } else { path };
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            ApiError::invalid(
                "the request body does not have the documented shape; see the fields",
                vec![FieldProblem {
                    field: if field.is_empty() {
                        "body".into()
                    } else {
                        field
                    },
                    message,
                }],
            )
        }
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse(&bytes).map(JsonBody)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    /// No body at all (no `Content-Type`, nothing sent) is `None`; anything sent must be JSON.
    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if !has_type && bytes.is_empty() {
            return Ok(None);
        }
        // The headers were consumed with the request: a body without a JSON type is refused.
        if !has_type {
            return Err(unsupported_media_type());
        }
        parse(&bytes).map(|v| Some(JsonBody(v)))
    }
}

/// A route's `{tenant}` (checked by the `Caller` extractor) and `{id}`.
#[derive(Debug, serde::Deserialize)]
pub struct IdPath {
    #[allow(dead_code)]
    tenant: String,
    pub id: i64,
}

/// Path parameters, read as `T`; a parameter that does not parse is a 400 naming it.
#[derive(Debug)]
pub struct Path<T>(pub T);

fn parameter_problem(kind: &str, detail: String) -> ApiError {
    // axum's messages name the parameter: "Cannot parse `id` with value `x` to a `i64`".
    let field = detail
        .split('`')
        .nth(1)
        .filter(|_| detail.contains("Cannot parse `"))
        .unwrap_or(kind)
        .to_string();
    let mut e = ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        format!("a {kind} parameter is not valid; see the fields"),
    );
    e.body.error.fields = vec![FieldProblem {
        field,
        message: detail,
    }];
    e
}

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(parameter_problem("path", e.body_text()))
            }
            Err(other) => {
                tracing::error!(error = %other.body_text(), "path parameters missing");
                Err(ApiError::internal("the route's parameters are missing"))
            }
        }
    }
}

/// A query string, read as `T`; a parameter that does not parse is a 400 naming it.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|e| {
                let field = e.path().to_string();
                let mut problem = parameter_problem("query", e.inner().to_string());
                if field != "." {
                    problem.body.error.fields[0].field = field;
                }
                problem
            })
    }
}

/// Unknown routes: a JSON 404 under `/api/`, axum's plain 404 elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no API route `{}`; see /api/openapi.json", uri.path()),
        )
        .into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

/// A known route called with a method it does not have: a JSON 405 under `/api/`.
pub async fn method_not_allowed(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "`{}` does not take this method; see /api/openapi.json",
                uri.path()
            ),
        )
        .into_response()
    } else {
        StatusCode::METHOD_NOT_ALLOWED.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        count: u32,
    }

    #[test]
    fn json_of_the_wrong_shape_names_the_field() {
        let e = parse::<Input>(br#"{"name": "a", "count": -1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body.error.fields[0].field, "count");
        let e = parse::<Input>(br#"{"name": "a", "count": 1, "extra": 2}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.body.error.fields[0].field, "extra");
        assert!(e.body.error.fields[0].message.contains("unknown field"));
        let e = parse::<Input>(br#"{"name": "a"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.body.error.fields[0].message.contains("count"), "{e:?}");
    }

    #[test]
    fn an_integer_written_with_a_zero_fraction_is_an_integer() {
        let input: Input = parse(br#"{"name": "a", "count": 12.0}"#).unwrap();
        assert_eq!(input.count, 12);
        let e = parse::<Input>(br#"{"name": "a", "count": 12.5}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn text_that_is_not_json_is_a_bad_request() {
        for body in [&b"{"[..], b"nope", b"{} {}"] {
            let e = parse::<Input>(body).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body:?}");
            assert_eq!(e.body.error.kind, "bad_request");
        }
    }
}
