//! Who is on the other end of a request, for throttling and logs: the peer's address, or — behind a
//! TLS proxy, which connects for everyone — the address the proxy appended to `X-Forwarded-For`
//! (the last entry; earlier ones are whatever the client claimed).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;

/// The client's address.
pub fn address(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if !trust_forwarded_for {
        return peer;
    }
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

/// A mandate's acceptance as the request that accepted it shows it: the client's address (as
/// [`address`] finds it) and its `User-Agent`. For the payer's own browser requests only (the
/// portal's, or a portal user's API token): Stripe keeps them as the proof of the mandate.
pub struct Acceptance(pub crate::contract::debits::MandateAcceptance);

impl axum::extract::FromRequestParts<crate::web::state::AppState> for Acceptance {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::web::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(Acceptance(crate::contract::debits::MandateAcceptance {
            ip_address: address(parts, state.trust_forwarded_for).to_string(),
            user_agent,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(forwarded: &[&str]) -> Parts {
        let mut request = axum::http::Request::builder();
        for f in forwarded {
            request = request.header("x-forwarded-for", *f);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 443))));
        parts
    }

    #[test]
    fn only_the_proxys_own_entry_counts_and_only_behind_a_proxy() {
        let p = parts(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(address(&p, false).to_string(), "10.0.0.1");
        assert_eq!(address(&p, true).to_string(), "203.0.113.9");
        assert_eq!(
            address(&parts(&["1.1.1.1", "198.51.100.7"]), true).to_string(),
            "198.51.100.7"
        );
        assert_eq!(address(&parts(&["garbage"]), true).to_string(), "10.0.0.1");
        assert_eq!(address(&parts(&[]), true).to_string(), "10.0.0.1");
    }
}
