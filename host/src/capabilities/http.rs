//! The `http` import: requests to the tenant's Stripe API base and nowhere else. The host builds the
//! URL from the base and a checked `/v1/…` path (no other host, no redirects), adds the secret key
//! and `Stripe-Version`, applies connect / overall timeouts and a response-size cap, keeps Stripe's
//! `Request-Id`, takes webhook signing secrets out of answers before the guest sees them, and keeps
//! to the configured requests-per-second limit ([`super::pacing`]).
//! The secret key is read here only, where the header is built.

use std::num::NonZeroU32;
use std::time::Duration;

use std::sync::Arc;

use super::Observer;
use super::pacing::Pacer;
use crate::db::Database;
use crate::tenant::{StripeAccess, TenantId};

use crate::contract::paydesk::stripe::http::{
    DatedResponse, Host, Method, Request, Response, SendError,
};
use crate::secret::Secret;

/// The Stripe API version every request pins.
pub const STRIPE_VERSION: &str = "2023-08-16";

/// Limits of outgoing requests.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub connect_timeout: Duration,
    /// Whole request, answer included.
    pub timeout: Duration,
    pub max_response_bytes: u64,
    /// Most requests per second sent to one Stripe account, every host together, unless its
    /// tenant has its own limit; `None`: no limit of ours (Stripe's 429 answers are still
    /// honoured).
    pub max_requests_per_second: Option<NonZeroU32>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_response_bytes: 4 << 20,
            max_requests_per_second: None,
        }
    }
}

/// The http capability of one call: the tenant's Stripe access (base URL and key, which stays
/// here) and the shared client.
pub struct HttpCtx {
    pub(super) tenant: TenantId,
    pub(super) stripe: StripeAccess,
    /// The tenant's own Stripe requests per second, replacing the platform's.
    pub(super) requests_per_second: Option<u32>,
    pub(super) http: Arc<StripeHttp>,
    /// Where a webhook signing secret taken out of an answer is kept.
    pub(super) db: Arc<dyn Database>,
    /// Where each request is counted (operation, status, latency).
    pub(super) metrics: Arc<crate::metrics::Metrics>,
    pub(super) observer: Observer,
}

/// The shared HTTP client.
pub struct StripeHttp {
    agent: ureq::Agent,
    config: HttpConfig,
    /// This process's own pacers, one per limit, for when the database cannot space requests.
    pacers: std::sync::Mutex<std::collections::HashMap<NonZeroU32, Arc<Pacer>>>,
}

impl StripeHttp {
    pub fn new(config: HttpConfig) -> StripeHttp {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("paydesk/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            agent,
            ureq::unversioned::transport::DefaultConnector::default(),
            CachingResolver::default(),
        );
        StripeHttp {
            agent,
            config,
            pacers: Default::default(),
        }
    }

    /// This process's pacer for `per_second` (a few limits exist, so the map stays small).
    fn pacer(&self, per_second: NonZeroU32) -> Arc<Pacer> {
        let mut pacers = self.pacers.lock().unwrap_or_else(|p| p.into_inner());
        pacers
            .entry(per_second)
            .or_insert_with(|| Arc::new(Pacer::new(per_second)))
            .clone()
    }
}

impl StripeHttp {
    /// How long an autopay claim must hold: twice the longest a request can take, plus a margin.
    pub fn claim_lease_seconds(&self) -> u32 {
        paydesk_plugin::domain::lease::claim_lease_seconds(
            self.config.timeout,
            self.config.connect_timeout,
        )
    }
}

/// How long a resolved Stripe host is reused before it is looked up again.
const RESOLVE_TTL: Duration = Duration::from_secs(60);

/// Resolves each Stripe API host at most once a minute. The HTTP client otherwise looks the host
/// up before every request, on a new thread each time (to bound the lookup by the timeout), even
/// when a kept-alive connection is then reused.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    cache: std::sync::Mutex<
        std::collections::HashMap<
            String,
            (
                std::time::Instant,
                ureq::unversioned::resolver::ResolvedSocketAddrs,
            ),
        >,
    >,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map_or("", |a| a.as_str())
        );
        let now = std::time::Instant::now();
        if let Some((at, addrs)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && now.duration_since(*at) < RESOLVE_TTL
        {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (now, addrs.clone()));
        Ok(addrs)
    }
}

/// A path the guest may ask for: `/v1/` then letters, digits, `_ - . /`, without `..` or `//`.
pub fn check_path(path: &str) -> Result<(), String> {
    let ok = path.starts_with("/v1/")
        && path.len() <= 512
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
        && !path.contains("..")
        && !path.contains("//");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a Stripe API path (the plugin may only call /v1/… on the tenant's Stripe API base)",
            path.chars().take(80).collect::<String>()
        ))
    }
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Classify a transport failure: did the request surely not reach Stripe?
fn transport_error(e: ureq::Error) -> SendError {
    use ureq::Timeout;
    match e {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed | ureq::Error::BadUri(_) => {
            SendError::NotSent(e.to_string())
        }
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => {
            SendError::NotSent(e.to_string())
        }
        ureq::Error::Io(ref io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            SendError::NotSent(e.to_string())
        }
        other => SendError::OutcomeUnknown(other.to_string()),
    }
}

impl HttpCtx {
    /// Stripe's answer, with its `Date` header in Unix seconds (Stripe's clock) when valid; each
    /// request counted in the metrics by operation and status, with its latency once sent.
    fn send_to_stripe(&self, req: &Request) -> Result<(Response, Option<i64>), SendError> {
        use crate::metrics::StripeStatus;
        let mut sent_at = None;
        let answer = self.exchange(req, &mut sent_at);
        let status = match &answer {
            Ok((response, _)) => StripeStatus::Http(response.status),
            Err(SendError::NotSent(_)) => StripeStatus::NotSent,
            Err(SendError::OutcomeUnknown(_)) => StripeStatus::Unknown,
            Err(SendError::Denied(_)) => StripeStatus::Denied,
        };
        let method = match req.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        };
        self.metrics.record_stripe_request(
            method,
            &req.path,
            status,
            sent_at.map(|at: std::time::Instant| at.elapsed()),
        );
        answer
    }

    /// [`HttpCtx::send_to_stripe`] unmeasured; `sent_at` is set when the request goes out (after
    /// the pacing wait).
    fn exchange(
        &self,
        req: &Request,
        sent_at: &mut Option<std::time::Instant>,
    ) -> Result<(Response, Option<i64>), SendError> {
        check_path(&req.path).map_err(SendError::Denied)?;
        let key: &Secret = self.stripe.secret_key.as_ref().ok_or_else(|| {
            SendError::Denied(
                "the Stripe integration has no secret key; save one on the setup page".into(),
            )
        })?;
        let http = &self.http;
        let mut url = format!("{}{}", self.stripe.api_base.trim_end_matches('/'), req.path);
        if !req.query.is_empty() {
            url.push('?');
            url.push_str(&encode(&req.query));
        }
        if key
            .expose()
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ')
        {
            // ureq would refuse the header only after we asked it to send: say clearly that
            // nothing went out.
            return Err(SendError::NotSent(
                "the stored Stripe secret key has characters no HTTP header can carry (a line break?); nothing was sent — save the key again".into(),
            ));
        }
        let auth = format!("Bearer {}", key.expose());
        let own = crate::limits::TenantLimits {
            stripe_requests_per_second: self.requests_per_second,
            ..Default::default()
        };
        if let Some(limit) =
            crate::limits::stripe_requests_per_second(http.config.max_requests_per_second, &own)
        {
            let per_second = limit.value;
            super::pacing::wait_shared_turn(
                self.db.as_ref(),
                per_second,
                &http.pacer(per_second),
                key,
            );
        }
        *sent_at = Some(std::time::Instant::now());
        let result = match req.method {
            Method::Get | Method::Delete => {
                let builder = if req.method == Method::Get {
                    http.agent.get(&url)
                } else {
                    http.agent.delete(&url)
                };
                let mut b = builder
                    .header("Authorization", &auth)
                    .header("Stripe-Version", STRIPE_VERSION);
                if let Some(k) = &req.idempotency_key {
                    b = b.header("Idempotency-Key", k);
                }
                b.call()
            }
            Method::Post => {
                let mut b = http
                    .agent
                    .post(&url)
                    .header("Authorization", &auth)
                    .header("Stripe-Version", STRIPE_VERSION)
                    .header("Content-Type", "application/x-www-form-urlencoded");
                if let Some(k) = &req.idempotency_key {
                    b = b.header("Idempotency-Key", k);
                }
                b.send(encode(&req.form))
            }
        };
        let mut response = result.map_err(transport_error)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let request_id = header("request-id");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
        let date = header("date").and_then(|v| stripe_date(&v));
        let body = response
            .body_mut()
            .with_config()
            .limit(http.config.max_response_bytes)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => SendError::OutcomeUnknown(format!(
                    "Stripe's answer was larger than {} bytes",
                    http.config.max_response_bytes
                )),
                other => transport_error(other),
            })?;
        tracing::debug!(
            tenant = self.tenant.as_str(),
            method = ?req.method,
            path = req.path,
            status,
            request_id = request_id.as_deref().unwrap_or("-"),
            "stripe request"
        );
        let body = self.take_signing_secret(req, status, body);
        // Stripe names the key a refused call used (a restricted key's missing permission): the
        // guest gets the masked form, never the key.
        let body = match self.stripe.secret_key.as_ref() {
            Some(k) if !k.expose().is_empty() && body.contains(k.expose()) => {
                body.replace(k.expose(), &k.masked())
            }
            _ => body,
        };
        Ok((
            Response {
                status,
                request_id,
                retry_after,
                body,
            },
            date,
        ))
    }

    /// A webhook endpoint Stripe just created carries its signing secret: keep it in the host and
    /// give the guest a masked copy.
    fn take_signing_secret(&self, req: &Request, status: u16, body: String) -> String {
        if req.method != Method::Post
            || !req.path.starts_with("/v1/webhook_endpoints")
            || !(200..300).contains(&status)
        {
            return body;
        }
        let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&body) else {
            return body;
        };
        let Some(secret) = json.get("secret").and_then(|s| s.as_str()).map(Secret::new) else {
            return body;
        };
        if let Err(e) = self.db.set_webhook_secret(&self.tenant, &secret) {
            tracing::error!(tenant = self.tenant.as_str(), error = %e, "could not store the webhook signing secret");
        }
        json["secret"] = serde_json::Value::String(secret.masked());
        json.to_string()
    }
}

impl Host for HttpCtx {
    fn send(&mut self, request: Request) -> wasmtime::Result<Result<Response, SendError>> {
        let answer = self.send_to_stripe(&request).map(|(response, _)| response);
        Ok(self.observer.observed("http.send", answer))
    }

    fn send_dated(
        &mut self,
        request: Request,
    ) -> wasmtime::Result<Result<DatedResponse, SendError>> {
        let answer = self
            .send_to_stripe(&request)
            .map(|(response, date)| DatedResponse { response, date });
        Ok(self.observer.observed("http.send-dated", answer))
    }
}

/// An HTTP `Date` header (RFC 9110's IMF-fixdate, or the obsolete forms) in Unix seconds.
fn stripe_date(value: &str) -> Option<i64> {
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    let secs = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_dates_are_read_as_unix_seconds() {
        assert_eq!(
            stripe_date("Wed, 02 Dec 2026 17:05:09 GMT"),
            Some(1_796_231_109)
        );
        assert_eq!(
            stripe_date("Wednesday, 02-Dec-26 17:05:09 GMT"),
            Some(1_796_231_109)
        );
        assert_eq!(stripe_date("yesterday"), None);
        assert_eq!(stripe_date(""), None);
    }

    #[test]
    fn only_stripe_api_paths_are_allowed() {
        assert!(check_path("/v1/customers/cus_123").is_ok());
        assert!(check_path("/v1/payment_intents/pi_1/confirm").is_ok());
        for bad in [
            "https://evil.example/v1/x",
            "//evil.example/v1/x",
            "/v1/../admin",
            "/v2/customers",
            "/v1/customers?x=1",
            "/v1/customers#x",
            "/v1/cus tomers",
            "@evil.example/v1/",
        ] {
            assert!(check_path(bad).is_err(), "{bad} must be refused");
        }
    }
}
