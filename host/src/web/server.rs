//! The HTTP/1.1 server loop under the router, with the limits an unauthenticated client must not
//! get past ([`ServerLimits`]): at most `max_connections` connections at once (more wait in the
//! kernel's accept queue), a new connection's first request head within `header_read_timeout` of
//! connecting and every later head within it of its first byte, a kept-alive connection idle at
//! most `idle_timeout` between requests (and an answer nobody reads stalls it no longer), and each
//! request answered within `request_timeout` (then 504: what it started may still finish). Each
//! request carries its peer address (`ConnectInfo`). Owns the connections, never the routes.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// How long clients may take, and how many may be connected.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(180),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// What a connection's watchdog knows: when bytes last moved, whether a request is being served,
/// and since when the next request head has been awaited with bytes of it arriving.
struct ConnState {
    started: Instant,
    /// Milliseconds since `started` of the last byte read or written.
    last_activity: AtomicU64,
    /// Requests handed to the router and not yet answered.
    in_flight: AtomicU64,
    /// Milliseconds since `started` when the head now awaited began to arrive (`u64::MAX`: not yet).
    head_since: AtomicU64,
    /// Whether the connection has served a request (the first head's clock starts at connecting).
    served: AtomicBool,
}

impl ConnState {
    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn moved(&self, read: bool) {
        let now = self.now();
        self.last_activity.store(now, Ordering::Relaxed);
        if read && self.in_flight.load(Ordering::Relaxed) == 0 {
            let _ = self.head_since.compare_exchange(
                u64::MAX,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Why the connection must close now, if it must.
    fn overdue(&self, limits: &ServerLimits) -> Option<&'static str> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.now();
        let head_since = match self.head_since.load(Ordering::Relaxed) {
            u64::MAX if !self.served.load(Ordering::Relaxed) => Some(0),
            u64::MAX => None,
            t => Some(t),
        };
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match head_since {
            Some(t) if now.saturating_sub(t) > ms(limits.header_read_timeout) => {
                Some("request headers not received in time")
            }
            None if now.saturating_sub(self.last_activity.load(Ordering::Relaxed))
                > ms(limits.idle_timeout) =>
            {
                Some("idle")
            }
            _ => None,
        }
    }
}

/// The socket, noting every byte that moves.
struct Watched {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.state.moved(true);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.state.moved(false);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Counts a request in flight until its answer's head is ready.
struct InFlight(Arc<ConnState>);

impl InFlight {
    fn start(state: &Arc<ConnState>) -> InFlight {
        state.in_flight.fetch_add(1, Ordering::Relaxed);
        state.served.store(true, Ordering::Relaxed);
        state.head_since.store(u64::MAX, Ordering::Relaxed);
        InFlight(state.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.now();
        self.0.last_activity.store(now, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answer 504 when a request takes longer than `limit`: the work it started is not undone.
async fn request_deadline(
    axum::extract::State(limit): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let api = request.uri().path().starts_with("/api/");
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let message = format!(
                "the server did not finish this request within {} s; what it started may still complete, so look before trying again",
                limit.as_secs()
            );
            tracing::warn!(limit_s = limit.as_secs(), api, "request timed out");
            if api {
                crate::web::error::ApiError::new(
                    axum::http::StatusCode::GATEWAY_TIMEOUT,
                    "outcome_unknown",
                    message,
                )
                .into_response()
            } else {
                (axum::http::StatusCode::GATEWAY_TIMEOUT, message).into_response()
            }
        }
    }
}

/// Serve `router` on `listener` until `shutdown` completes, then let open requests finish (up to
/// 30 s).
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let router = router.layer(axum::middleware::from_fn_with_state(
        limits.request_timeout,
        request_deadline,
    ));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let (router, stopping) = (router.clone(), stopping.clone());
        tokio::spawn(async move {
            connection(stream, peer, router, limits, stopping).await;
            drop(permit);
        });
    }
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(30), permits.acquire_many(all)).await;
    Ok(())
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ServerLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ConnState {
        started: Instant::now(),
        last_activity: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
        head_since: AtomicU64::new(u64::MAX),
        served: AtomicBool::new(false),
    });
    let io = hyper_util::rt::TokioIo::new(Watched {
        inner: stream,
        state: state.clone(),
    });
    let counted = state.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        let guard = InFlight::start(&counted);
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move {
            let response =
                tower::ServiceExt::oneshot(router, request.map(axum::body::Body::new)).await;
            drop(guard);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let tick = (limits.header_read_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut shutting_down = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stopping.changed(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep(tick) => {
                if let Some(why) = state.overdue(&limits) {
                    tracing::debug!(%peer, why, "closing the connection");
                    return;
                }
            }
        }
    }
}
