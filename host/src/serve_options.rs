//! The options of `paydesk serve` beyond the common ones: the server's limits (timeouts and the
//! connection cap), the sign-in pool's size, and whether a TLS proxy is in front — each a flag
//! with an environment variable — and the metrics token (environment only), checked and turned
//! into the web side's configuration.

use std::time::Duration;

use clap::Args;

use crate::secret::Secret;
use crate::signin::passwords::PoolConfig;
use crate::web::WebConfig;
use crate::web::server::ServerLimits;

/// Options of `paydesk serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeOptions {
    /// Seconds a client has to send a request's headers: from connecting for the first request,
    /// from the request's first byte for later ones (1 to 600).
    #[arg(long, env = "PAYDESK_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_read_timeout: u64,
    /// Seconds within which a request must be answered, or it gets 504 (1 to 3600).
    #[arg(long, env = "PAYDESK_REQUEST_TIMEOUT_SECONDS", default_value_t = 180,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// Seconds a kept-alive connection may sit idle between requests (1 to 3600).
    #[arg(long, env = "PAYDESK_IDLE_TIMEOUT_SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
    /// Connections served at once; more wait to be accepted (1 to 100000).
    #[arg(long, env = "PAYDESK_MAX_CONNECTIONS", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections: u32,
    /// Threads that check passwords at sign-in, each with its own 19 MiB (1 to 16).
    #[arg(long, env = "PAYDESK_SIGN_IN_WORKERS", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=16))]
    pub sign_in_workers: u16,
    /// Sign-ins that may wait for a password thread; more are answered 429 (1 to 1024).
    #[arg(long, env = "PAYDESK_SIGN_IN_QUEUE", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub sign_in_queue: u16,
    /// A TLS-terminating proxy is in front: cookies are Secure, HSTS is sent, and the client's
    /// address is the last entry of X-Forwarded-For.
    #[arg(long, env = "PAYDESK_BEHIND_TLS_PROXY")]
    pub behind_tls_proxy: bool,
}

impl ServeOptions {
    /// The server's limits.
    pub fn limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            request_timeout: Duration::from_secs(self.request_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            max_connections: self.max_connections as usize,
        }
    }

    /// The web side's configuration, with Stripe.js from `stripe_js_url` and the metrics token
    /// from `PAYDESK_METRICS_TOKEN` (read from the environment only, never a flag: a flag would
    /// show in the process list).
    pub fn web(&self, stripe_js_url: &str) -> anyhow::Result<WebConfig> {
        Ok(WebConfig {
            stripe_js_url: stripe_js_url.to_string(),
            behind_tls_proxy: self.behind_tls_proxy,
            sign_in: PoolConfig {
                workers: usize::from(self.sign_in_workers),
                queue: usize::from(self.sign_in_queue),
            },
            metrics_token: bearer_token(
                "PAYDESK_METRICS_TOKEN",
                "/metrics",
                std::env::var("PAYDESK_METRICS_TOKEN").ok(),
            )?,
            platform_token: bearer_token(
                "PAYDESK_PLATFORM_TOKEN",
                "the platform API",
                std::env::var("PAYDESK_PLATFORM_TOKEN").ok(),
            )?,
        })
    }
}

/// A bearer token from the environment variable `name`, when set: 16 to 512 visible ASCII
/// characters (what a header carries). The error never repeats the value.
fn bearer_token(name: &str, what: &str, value: Option<String>) -> anyhow::Result<Option<Secret>> {
    let Some(value) = value else { return Ok(None) };
    let ok = (16..=512).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        anyhow::bail!(
            "{name} must be 16 to 512 visible ASCII characters (no spaces), or unset to turn {what} off"
        );
    }
    Ok(Some(Secret::new(value)))
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    fn metrics_token(value: Option<String>) -> anyhow::Result<Option<super::Secret>> {
        bearer_token("PAYDESK_METRICS_TOKEN", "/metrics", value)
    }

    #[test]
    fn a_metrics_token_is_long_visible_ascii_and_its_error_does_not_repeat_it() {
        assert!(metrics_token(None).unwrap().is_none());
        let token = metrics_token(Some("0123456789abcdef".into()))
            .unwrap()
            .unwrap();
        assert_eq!(token.expose(), "0123456789abcdef");
        for bad in ["short-token", "", "0123456789 abcdef", "0123456789abcdé"] {
            let e = metrics_token(Some(bad.into())).unwrap_err().to_string();
            assert!(bad.is_empty() || !e.contains(bad), "{e}");
        }
    }
}
