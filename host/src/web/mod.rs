//! The web side of `paydesk serve`: the axum router (health, OpenAPI document; the JSON API, the
//! Stripe webhook receiver and the pages join it in later work), run on a tokio runtime. Plugin calls
//! block, so handlers run them with `spawn_blocking`.

pub mod api;
pub mod auth;
pub mod error;
mod openapi;
pub mod pages;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;

use crate::app::App;
use crate::cli::Config;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    /// Where pages load Stripe.js from (`PAYDESK_STRIPE_JS_URL`).
    pub stripe_js_url: String,
}

/// The router.
pub fn router(state: AppState) -> Router {
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
        .with_state(state)
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
pub fn serve(config: Config, listen: SocketAddr) -> anyhow::Result<()> {
    let mailer = match std::env::var("PAYDESK_SMTP_URL") {
        Ok(url) if !url.is_empty() => Some(crate::mailer::Mailer::new(&url)?),
        _ => None,
    };
    let app = Arc::new(config.app()?);
    crate::scheduler::spawn(app.clone(), mailer);
    let stripe_js_url = config.stripe_js_url.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        tracing::info!(%listen, "paydesk serving");
        axum::serve(listener, router(AppState { app, stripe_js_url }))
            .with_graceful_shutdown(shutdown())
            .await
            .context("serving")
    })
}

async fn shutdown() {
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
