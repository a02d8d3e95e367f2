//! What the system benchmarks share: a Stripe stand-in on 127.0.0.1 that answers at once (or after
//! a set latency) with Stripe-shaped objects carrying unique ids and records when each request
//! arrived, running `paydesk` as a child process and reading its peak RSS, and figures.

#![allow(dead_code)] // each bench uses its own part

pub mod database;
pub mod http1;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;

/// What the stand-in saw.
#[derive(Default)]
pub struct Seen {
    /// When each request arrived.
    pub arrivals: Vec<Instant>,
    /// Requests per "METHOD /path".
    pub by_route: BTreeMap<String, u64>,
    /// Idempotency keys of PaymentIntent creations.
    pub idempotency_keys: Vec<String>,
}

struct StandIn {
    latency: Duration,
    next_id: AtomicU64,
    seen: Mutex<Seen>,
}

/// A running Stripe stand-in.
pub struct StripeStandIn {
    pub base_url: String,
    state: Arc<StandIn>,
    _runtime: tokio::runtime::Runtime,
}

impl StripeStandIn {
    /// Start on a free port, answering every request after `latency`.
    pub fn start(latency: Duration) -> StripeStandIn {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let state = Arc::new(StandIn {
            latency,
            next_id: AtomicU64::new(1),
            seen: Mutex::new(Seen::default()),
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the stand-in");
        let addr: SocketAddr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        StripeStandIn {
            base_url: format!("http://{addr}"),
            state,
            _runtime: runtime,
        }
    }

    /// Take what was seen so far.
    pub fn take(&self) -> Seen {
        std::mem::take(&mut *self.state.seen.lock().unwrap())
    }
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

async fn answer(
    State(st): State<Arc<StandIn>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let arrived = Instant::now();
    let path = uri.path().to_string();
    {
        let mut seen = st.seen.lock().unwrap();
        seen.arrivals.push(arrived);
        *seen.by_route.entry(format!("{method} {path}")).or_default() += 1;
        if method == Method::POST && path == "/v1/payment_intents" {
            let key = headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            seen.idempotency_keys.push(key);
        }
    }
    if !st.latency.is_zero() {
        tokio::time::sleep(st.latency).await;
    }
    let n = st.next_id.fetch_add(1, Ordering::Relaxed);
    let json = |status: StatusCode, v: serde_json::Value| {
        (
            status,
            [
                ("content-type", "application/json".to_string()),
                ("request-id", format!("req_bench{n}")),
            ],
            v.to_string(),
        )
            .into_response()
    };
    match (method.as_str(), path.as_str()) {
        ("POST", "/v1/payment_intents") => {
            let f = form(&body);
            let get = |k: &str| {
                f.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            let metadata: serde_json::Map<String, serde_json::Value> = f
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("metadata[")
                        .and_then(|k| k.strip_suffix(']'))
                        .map(|k| (k.to_string(), serde_json::Value::String(v.clone())))
                })
                .collect();
            let amount: i64 = get("amount").parse().unwrap_or(0);
            let id = format!("pi_bench{n:08}");
            json(
                StatusCode::OK,
                serde_json::json!({
                    "id": id,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_received": amount,
                    "capture_method": "automatic",
                    "client_secret": format!("{id}_secret_bench"),
                    "confirmation_method": "automatic",
                    "created": 1_764_547_200,
                    "currency": get("currency"),
                    "customer": get("customer"),
                    "description": get("description"),
                    "latest_charge": format!("ch_bench{n:08}"),
                    "livemode": false,
                    "metadata": metadata,
                    "payment_method": get("payment_method"),
                    "payment_method_types": ["card"],
                    "status": "succeeded",
                }),
            )
        }
        ("GET", p) if p.starts_with("/v1/payment_methods/pm_") => {
            let id = &p["/v1/payment_methods/".len()..];
            json(
                StatusCode::OK,
                serde_json::json!({
                    "id": id,
                    "object": "payment_method",
                    "type": "card",
                    "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030, "funding": "credit", "country": "US"},
                    "customer": id.replacen("pm_", "cus_", 1),
                    "created": 1_764_547_200,
                    "livemode": false,
                    "billing_details": {"email": null, "name": null},
                    "metadata": {},
                }),
            )
        }
        ("GET", "/v1/payment_intents") => json(
            StatusCode::OK,
            serde_json::json!({"object": "list", "url": "/v1/payment_intents", "has_more": false, "data": []}),
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": {"type": "invalid_request_error", "message": format!("Unrecognized request URL ({method}: {path}).")}}),
        ),
    }
}

/// Requests per second between the first and the last request, and the most requests that
/// arrived within any one second (a window starting at each arrival).
pub fn rates(arrivals: &[Instant]) -> (Rate, usize) {
    let mut t = arrivals.to_vec();
    t.sort();
    if t.len() < 2 {
        return (Rate::new(0, Duration::ZERO), t.len());
    }
    let mut most = 0;
    let mut end = 0;
    for start in 0..t.len() {
        while end < t.len() && t[end] - t[start] < Duration::from_secs(1) {
            end += 1;
        }
        most = most.max(end - start);
    }
    (Rate::new(t.len() as u64 - 1, t[t.len() - 1] - t[0]), most)
}

/// `count` things in `span`, printed per second with two decimals (integer arithmetic).
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    hundredths_per_second: u128,
}

impl Rate {
    pub fn new(count: u64, span: Duration) -> Rate {
        let nanos = span.as_nanos().max(1);
        Rate {
            hundredths_per_second: u128::from(count) * 100 * 1_000_000_000 / nanos,
        }
    }

    /// Whole things per second.
    pub fn per_second(self) -> u128 {
        self.hundredths_per_second / 100
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = self.hundredths_per_second;
        write!(f, "{}.{:02}/s", h / 100, h % 100)
    }
}

/// How a child process ended, with its peak resident set.
pub struct Finished {
    pub success: bool,
    pub wall: Duration,
    pub peak_rss_bytes: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
}

/// Wait for `child` (started at `started`) and read its own resource usage.
pub fn wait_with_rusage(child: Child, started: Instant) -> Finished {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value; wait4 writes into both out-pointers, which
    // point to live locals, and reaps our own child (its `Child` handle is forgotten below so it
    // is not waited for twice).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(r, pid, "waiting for paydesk");
    std::mem::forget(child);
    Finished {
        success: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        wall,
        // Linux reports kilobytes.
        peak_rss_bytes: usage.ru_maxrss as u64 * 1024,
        cpu: [usage.ru_utime, usage.ru_stime]
            .iter()
            .map(|t| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000))
            .sum(),
    }
}

/// `paydesk <args>` on the bench's database (`--db`: a file or a PostgreSQL URL), with a component cache shared by bench runs.
pub fn paydesk(db: &str, stripe_base: &str, args: &[&str]) -> Command {
    // Another build of paydesk (say, one with frame pointers for a profiler) may stand in.
    let binary = std::env::var_os("PAYDESK_BENCH_BINARY")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_paydesk").into());
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .arg("--db")
        .arg(db)
        .env("PAYDESK_STRIPE_API_BASE", stripe_base)
        .env(
            "PAYDESK_CACHE_DIR",
            std::env::temp_dir().join("paydesk-bench-component-cache"),
        )
        .env_remove("PAYDESK_LOG");
    cmd
}

/// Median and 99th percentile of `samples`.
pub fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |per_cent: usize| samples[(samples.len() - 1) * per_cent / 100];
    (at(50), at(99))
}

pub fn mib(bytes: u64) -> String {
    let tenths = bytes * 10 / (1 << 20);
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}
