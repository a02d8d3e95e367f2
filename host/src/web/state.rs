//! What every handler shares: the application and how the web side is set up ([`AppState`], from
//! [`WebConfig`]), and the one way handlers run blocking work — database reads, plugin calls — off
//! the async threads ([`blocking`]). Password checks run on the sign-in pool instead
//! ([`crate::signin`]).

use std::sync::Arc;

use super::headers;
use crate::app::App;

/// How the web side is set up.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Where pages load Stripe.js from (`PAYDESK_STRIPE_JS_URL`).
    pub stripe_js_url: String,
    /// A TLS-terminating proxy is in front: cookies are `Secure`, HSTS is sent, and the client's
    /// address is the last one the proxy added to `X-Forwarded-For`.
    pub behind_tls_proxy: bool,
    /// The password pool of sign-in.
    pub sign_in: crate::signin::passwords::PoolConfig,
    /// The token `GET /metrics` wants (`PAYDESK_METRICS_TOKEN`); `None`: no such route (404).
    pub metrics_token: Option<crate::secret::Secret>,
    /// The token the platform API (`/api/v1/platform/…`, the plugin registry) wants
    /// (`PAYDESK_PLATFORM_TOKEN`); `None`: no such routes (404).
    pub platform_token: Option<crate::secret::Secret>,
}

impl WebConfig {
    /// Stripe.js from `stripe_js_url`, no proxy, the default pool, no metrics route.
    pub fn new(stripe_js_url: impl Into<String>) -> WebConfig {
        WebConfig {
            stripe_js_url: stripe_js_url.into(),
            behind_tls_proxy: false,
            sign_in: Default::default(),
            metrics_token: None,
            platform_token: None,
        }
    }
}

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    /// Where pages load Stripe.js from (`PAYDESK_STRIPE_JS_URL`).
    pub stripe_js_url: String,
    /// Whether the app is reached over https: its public URL says so (in any case), or it runs
    /// behind a TLS proxy. Cookies are then `Secure`.
    pub https: bool,
    /// Whether `X-Forwarded-For` names the client (behind a TLS proxy).
    pub trust_forwarded_for: bool,
    pub sign_in: Arc<crate::signin::SignIn>,
    /// The token `GET /metrics` wants, if it is served.
    pub(super) metrics_token: Option<Arc<crate::secret::Secret>>,
    /// The token the platform API wants, if it is served.
    pub(super) platform_token: Option<Arc<crate::secret::Secret>>,
    pub(super) headers: Arc<headers::SecurityHeaders>,
}

impl AppState {
    /// The state of a web server for `app`; starts the sign-in pool.
    pub fn new(app: Arc<App>, config: WebConfig) -> std::io::Result<AppState> {
        let https =
            config.behind_tls_proxy || app.public_url.as_deref().is_some_and(headers::is_https);
        Ok(AppState {
            headers: Arc::new(headers::SecurityHeaders::new(&config.stripe_js_url, https)),
            sign_in: Arc::new(crate::signin::SignIn::start(config.sign_in)?),
            stripe_js_url: config.stripe_js_url,
            https,
            trust_forwarded_for: config.behind_tls_proxy,
            metrics_token: config.metrics_token.map(Arc::new),
            platform_token: config.platform_token.map(Arc::new),
            app,
        })
    }
}

/// The worker that ran blocking work ended without an answer (it panicked); each side answers
/// it in its own words (`From<WorkerLost>` for its error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLost;

/// Run `f` on the blocking pool with the app: every handler's database reads and plugin calls go
/// through here, so the async threads never wait on them.
pub async fn blocking<T, E>(
    state: &AppState,
    f: impl FnOnce(&App) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<WorkerLost> + Send + 'static,
{
    let app = state.app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|_| E::from(WorkerLost))?
}
