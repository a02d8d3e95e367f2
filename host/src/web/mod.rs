//! The web side of `paydesk serve`: the axum router (health, OpenAPI document, the JSON API, the
//! Stripe webhook receiver, the pages) with the security headers on every answer, served by
//! [`server`] with its connection limits on a tokio runtime. Plugin calls block, so handlers run
//! them with `spawn_blocking`; password checks run on the sign-in pool ([`crate::signin`]).

pub mod api;
pub mod auth;
pub mod client;
pub mod error;
pub mod headers;
mod openapi;
pub mod pages;
pub mod server;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;

use crate::app::App;
use crate::config::Config;

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
}

impl WebConfig {
    /// Stripe.js from `stripe_js_url`, no proxy, the default pool.
    pub fn new(stripe_js_url: impl Into<String>) -> WebConfig {
        WebConfig {
            stripe_js_url: stripe_js_url.into(),
            behind_tls_proxy: false,
            sign_in: Default::default(),
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
    headers: Arc<headers::SecurityHeaders>,
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
            app,
        })
    }
}

/// The router.
pub fn router(state: AppState) -> Router {
    let headers = state.headers.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi::document))
        .merge(api::routes().layer(axum::extract::DefaultBodyLimit::max(1 << 20)))
        .merge(pages::routes().layer(axum::extract::DefaultBodyLimit::max(256 << 10)))
        .route(
            "/webhooks/stripe/{tenant}",
            axum::routing::post(webhooks::receive)
                .layer(axum::extract::DefaultBodyLimit::max(webhooks::MAX_BODY)),
        )
        .fallback(api::extract::not_found)
        .method_not_allowed_fallback(api::extract::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            headers,
            headers::apply,
        ))
}

/// `GET /healthz`: the process is up and its database answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "ok"), (status = 503, description = "database unavailable")))]
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> (axum::http::StatusCode, &'static str) {
    let app = state.app.clone();
    let ok = tokio::task::spawn_blocking(move || app.db().tenants().is_ok())
        .await
        .unwrap_or(false);
    if ok {
        (axum::http::StatusCode::OK, "ok\n")
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database unavailable\n",
        )
    }
}

/// Run the server until Ctrl-C / SIGTERM.
pub fn serve(
    config: Config,
    listen: SocketAddr,
    web: WebConfig,
    limits: server::ServerLimits,
) -> anyhow::Result<()> {
    let mailer = mailer_from_env()?;
    let app = Arc::new(config.app()?);
    crate::scheduler::spawn(app.clone(), mailer);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let state = AppState::new(app, web).context("starting the sign-in workers")?;
        tracing::info!(%listen, ?limits, "paydesk serving");
        serve_on(listener, state, limits, shutdown()).await
    })
}

/// The mailer that delivers the outbox, from `PAYDESK_SMTP_URL` (unset: emails stay queued).
pub fn mailer_from_env() -> anyhow::Result<Option<crate::mailer::Mailer>> {
    match std::env::var("PAYDESK_SMTP_URL") {
        Ok(url) if !url.is_empty() => Ok(Some(crate::mailer::Mailer::new(&url)?)),
        _ => Ok(None),
    }
}

/// Serve the router on `listener`, with `limits`, until `stop` completes.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: server::ServerLimits,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    server::run(listener, router(state), limits, stop)
        .await
        .context("serving")
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
