//! The web side of `paydesk serve`: the router — `/healthz` ([`health`]), `/metrics` ([`metrics`]), the OpenAPI document
//! ([`openapi`]), the JSON API ([`api`]), the Stripe webhook receiver ([`webhooks`]) and the pages
//! ([`pages`]) — with the security headers ([`headers`]) on every answer, served by [`server`] with
//! its connection limits on a tokio runtime. Below the routes: the handlers' shared state and their
//! one way to run blocking work ([`state`]), who may do what ([`roles`]), the API's one error
//! shape ([`error`]) and the client's address ([`client`]).

pub mod api;
pub mod client;
pub mod error;
pub mod headers;
mod health;
mod metrics;
mod openapi;
pub mod pages;
pub mod platform;
mod roles;
pub mod server;
pub mod state;
pub mod webhooks;

pub use state::{AppState, WebConfig};

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;

use crate::config::Config;

/// The router.
pub fn router(state: AppState) -> Router {
    let headers = state.headers.clone();
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::scrape))
        .route("/api/openapi.json", get(openapi::document))
        .merge(api::routes().layer(axum::extract::DefaultBodyLimit::max(1 << 20)))
        .merge(pages::routes().layer(axum::extract::DefaultBodyLimit::max(256 << 10)))
        .merge(platform::routes())
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
