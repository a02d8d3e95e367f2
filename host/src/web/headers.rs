//! Security headers on every answer of the web app: a Content-Security-Policy that lets pages load
//! scripts, frames and connections only from the app itself and the configured Stripe.js origin
//! (no inline script anywhere), no framing by anyone (`frame-ancestors 'none'` and
//! `X-Frame-Options: DENY`), `nosniff`, a same-origin referrer, `Cache-Control: no-store` on
//! everything but the two static files, and HSTS when the app is reached over https.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Stripe's own Stripe.js origin; with it come the origins Stripe's security guide names for it.
const STRIPE_JS_ORIGIN: &str = "https://js.stripe.com";

/// The headers every answer gets.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
    hsts: bool,
}

/// `scheme://host[:port]` of a URL (lower-case scheme and host), or `None` if it has none.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    ))
}

/// Whether a URL's scheme is https, in any case.
pub fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// The policy for pages that load Stripe.js from `stripe_js_url`.
pub fn content_security_policy(stripe_js_url: &str) -> String {
    let stripe = origin_of(stripe_js_url).unwrap_or_default();
    let (mut script, mut frame, mut connect, mut form) = (
        vec!["'self'".to_string(), stripe.clone()],
        vec![stripe.clone()],
        vec!["'self'".to_string(), stripe.clone()],
        vec!["'self'".to_string()],
    );
    if stripe == STRIPE_JS_ORIGIN {
        script.push("https://*.js.stripe.com".into());
        frame.extend([
            "https://*.js.stripe.com".into(),
            "https://hooks.stripe.com".into(),
        ]);
        connect.push("https://api.stripe.com".into());
        // "Manage payment methods in Stripe" redirects the form to Stripe's customer portal.
        form.push("https://billing.stripe.com".into());
    }
    format!(
        "default-src 'none'; script-src {}; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src {}; frame-src {}; form-action {}; base-uri 'none'; frame-ancestors 'none'",
        script.join(" "),
        connect.join(" "),
        frame.join(" "),
        form.join(" ")
    )
}

impl SecurityHeaders {
    /// The headers for an app loading Stripe.js from `stripe_js_url`; `https`: the app is
    /// reached over TLS (HSTS).
    pub fn new(stripe_js_url: &str, https: bool) -> SecurityHeaders {
        SecurityHeaders {
            csp: HeaderValue::from_str(&content_security_policy(stripe_js_url))
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
            hsts: https,
        }
    }
}

/// The middleware: add the headers an answer does not set itself.
pub async fn apply(
    State(headers): State<std::sync::Arc<SecurityHeaders>>,
    request: Request,
    next: Next,
) -> Response {
    let is_static = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let mut set = |name: HeaderName, value: HeaderValue| {
        h.entry(name).or_insert(value);
    };
    set(header::CONTENT_SECURITY_POLICY, headers.csp.clone());
    set(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    set(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    set(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if is_static { "no-cache" } else { "no-store" }),
    );
    if headers.hsts {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_only_the_app_and_the_stripe_js_origin() {
        let p = content_security_policy("http://127.0.0.1:8420/js.stripe.com/v3/");
        assert!(
            p.contains("script-src 'self' http://127.0.0.1:8420;"),
            "{p}"
        );
        assert!(p.contains("frame-ancestors 'none'"), "{p}");
        assert!(
            !p.contains("unsafe-inline") && !p.contains("stripe.com"),
            "{p}"
        );
        let real = content_security_policy("https://JS.stripe.com/v3/");
        assert!(
            real.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;"),
            "{real}"
        );
    }

    #[test]
    fn https_is_recognised_in_any_case() {
        assert!(is_https("HTTPS://pay.example.com"));
        assert!(is_https("https://pay.example.com"));
        assert!(!is_https("http://pay.example.com"));
        assert_eq!(
            origin_of("HTTPS://Pay.Example.com:8443/x?y").as_deref(),
            Some("https://pay.example.com:8443")
        );
    }
}
