//! The web app while the demo runs: the same router as `paydesk serve`, on a loopback address the
//! demo binds before it writes anything, so Stripe's signed webhooks reach the receiver during the
//! story. With `--serve` it then goes on as `paydesk serve` does (pages, API, webhooks, the daily
//! scheduler and the mailer) until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;

use crate::app::App;
use crate::web::server::ServerLimits;
use crate::web::{AppState, WebConfig};

/// The demo's running web app.
pub struct DemoServer {
    /// Where it listens (the port is known even when `--listen` asked for port 0).
    pub addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl DemoServer {
    /// Bind `listen` and serve `app` on it.
    pub fn start(app: Arc<App>, stripe_js_url: String, listen: SocketAddr) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(listen)
            .with_context(|| format!("listening on {listen}"))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(app, WebConfig::new(stripe_js_url))
            .context("starting the sign-in workers")?;
        let served = runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            crate::web::serve_on(listener, state, ServerLimits::default(), async {
                let _ = stopped.await;
            })
            .await
        });
        Ok(DemoServer {
            addr,
            runtime,
            stop,
            served,
        })
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Go on as `paydesk serve` (with its scheduler and mailer) until Ctrl-C or SIGTERM.
    pub fn serve_until_signal(mut self, app: Arc<App>) -> anyhow::Result<()> {
        crate::scheduler::spawn(app, crate::web::mailer_from_env()?);
        let ended = self.runtime.block_on(async {
            tokio::select! {
                _ = crate::web::shutdown() => None,
                served = &mut self.served => Some(served),
            }
        });
        match ended {
            // The server stopped by itself: say why.
            Some(served) => served.context("the web app's task failed")?,
            None => self.stop(),
        }
    }

    /// Stop serving, letting requests in progress finish.
    pub fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.runtime
            .block_on(self.served)
            .context("the web app's task failed")?
    }
}
