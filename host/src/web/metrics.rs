//! `GET /metrics`: the app's metrics ([`crate::metrics`]) in the Prometheus text format, for a
//! scraper holding the metrics token (`Authorization: Bearer …`, `PAYDESK_METRICS_TOKEN`). Without
//! a configured token the route answers 404, as if it did not exist; a missing or wrong token gets
//! 401. The token is compared in constant time (as digests, so not even its length shows) and is
//! never logged. The gauges are read from the database at scrape time, on the blocking pool.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::state::{AppState, WorkerLost, blocking};
use crate::secret::Secret;

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = &state.metrics_token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorized(&headers, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "the metrics token is missing or wrong\n",
        )
            .into_response();
    }
    let text = blocking(&state, |app| {
        Ok::<_, WorkerLost>(app.db().backlog().map(|b| {
            app.services
                .metrics
                .render(b.queued_emails, b.open_payments)
        }))
    })
    .await;
    match text {
        Ok(Ok(text)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "metrics: could not read the backlog");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
        Err(WorkerLost) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether the request carries `Authorization: Bearer <token>`.
pub(super) fn authorized(headers: &HeaderMap, token: &Secret) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    let given = Sha256::digest(given);
    let expected = Sha256::digest(token.expose().as_bytes());
    given.ct_eq(&expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bearer_token_itself_is_authorized() {
        let token = Secret::new("a-metrics-token-of-some-length");
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, value.parse().unwrap());
            h
        };
        assert!(authorized(
            &with("Bearer a-metrics-token-of-some-length"),
            &token
        ));
        assert!(!authorized(
            &with("Bearer a-metrics-token-of-some-lengt"),
            &token
        ));
        assert!(!authorized(
            &with("Bearer a-metrics-token-of-some-length "),
            &token
        ));
        assert!(!authorized(
            &with("Basic a-metrics-token-of-some-length"),
            &token
        ));
        assert!(!authorized(&with("a-metrics-token-of-some-length"), &token));
        assert!(!authorized(&HeaderMap::new(), &token));
    }
}
