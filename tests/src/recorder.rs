//! A recording reverse proxy for tests: it listens on 127.0.0.1, forwards every HTTP request to
//! an upstream "Stripe" (normally a `LocalStripe`), and keeps a copy of each request and of the
//! answer, so a test can assert on exactly what the code under test sent to Stripe. It owns only
//! that proxy: a small thread-per-connection HTTP/1.1 server on std::net plus a ureq client. It
//! must not listen on anything but loopback, forward anywhere but the configured upstream,
//! rewrite what it forwards (beyond keeping the headers listed in `FORWARDED_HEADERS`), or start
//! services itself. One response per connection (`Connection: close`).
//!
//! Every request goes through `Shared::exchange`: a fault-injection hook (fail, delay, drop the
//! connection, alter the answer) belongs there, between parsing and forwarding.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ureq::http;

/// Request headers passed on to the upstream; every other one is only recorded.
pub const FORWARDED_HEADERS: &[&str] = &[
    "Authorization",
    "Idempotency-Key",
    "Stripe-Version",
    "Content-Type",
];

const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;
const CLIENT_IO_TIMEOUT: Duration = Duration::from_secs(30);
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// One request as the proxy received it, with the answer it gave.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target as sent, e.g. `/v1/customers?limit=3`.
    pub path_and_query: String,
    /// Every request header as received (names as written), not only the forwarded ones.
    pub headers: Vec<(String, String)>,
    /// The request body (lossy UTF-8; a chunked body is de-chunked).
    pub body: String,
    /// The status returned to the client (502 when the upstream could not be reached).
    pub status: u16,
    pub response_body: String,
    /// When the request had been read whole (as Stripe's log would time it).
    pub received_at: std::time::SystemTime,
}

/// The proxy. Requests are recorded in the order their answers were ready, each before its
/// answer is written back, so a client that got an answer always finds its request in
/// `requests()`. Dropping it stops accepting connections.
pub struct StripeRecorder {
    /// `http://127.0.0.1:PORT`, no trailing slash: use it as the Stripe API base.
    pub base_url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: String,
    /// Form parameters left out of what is forwarded (recorded as sent): for parameters that real
    /// Stripe accepts and localstripe refuses (TESTING.md: `receipt_email`, `description`, …).
    strip: Vec<String>,
    /// Query parameters left out of what is forwarded (e.g. a list filter localstripe doesn't know).
    strip_query: Vec<String>,
    /// Faults to inject: (method, path prefix, fault, how many more requests).
    faults: Mutex<Vec<(String, String, Fault, usize)>>,
    agent: ureq::Agent,
    recorded: Mutex<Vec<RecordedRequest>>,
    stopping: AtomicBool,
    /// Seconds added to the upstream's `Date` header: Stripe's clock as the client sees it, set
    /// apart from the client's own clock.
    clock_offset: AtomicI64,
}

/// A fault the recorder can inject between the client and the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward, then close the connection without answering (the answer is lost).
    DropResponse,
    /// Close the connection before forwarding (the request never arrived).
    ResetBeforeForward,
    /// Answer this status without forwarding (429 with `Retry-After`, 500, …).
    Status {
        status: u16,
        retry_after: Option<u32>,
    },
    /// Wait, then forward.
    Delay(Duration),
}

/// A parsed incoming request.
struct Incoming {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The client framed a body (Content-Length or chunked), even an empty one.
    has_body: bool,
}

/// What goes back to the client.
struct Outgoing {
    status: u16,
    content_type: Option<String>,
    /// The upstream's `Date` (shifted by the clock offset), passed on as Stripe sends one.
    date: Option<String>,
    body: Vec<u8>,
}

impl StripeRecorder {
    /// Listen on 127.0.0.1:0 and forward every request to `upstream` (e.g. `LocalStripe::base_url`),
    /// recording it.
    pub fn start(upstream: &str) -> Result<StripeRecorder> {
        Self::start_stripping(upstream, &[], &[])
    }

    /// Like `start`, but the named form parameters are recorded and not forwarded — what real
    /// Stripe accepts and localstripe refuses. The request is validated as sent.
    pub fn start_stripping(
        upstream: &str,
        strip: &[&str],
        strip_query: &[&str],
    ) -> Result<StripeRecorder> {
        let upstream = upstream.trim_end_matches('/').to_string();
        if !upstream.starts_with("http://127.") && !upstream.starts_with("http://localhost") {
            bail!("recorder upstream {upstream:?} is not a loopback http:// URL");
        }
        let listener = TcpListener::bind("127.0.0.1:0").context("recorder: binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_global(Some(UPSTREAM_TIMEOUT))
            .build()
            .new_agent();
        let shared = Arc::new(Shared {
            upstream,
            strip: strip.iter().map(|s| s.to_string()).collect(),
            strip_query: strip_query.iter().map(|s| s.to_string()).collect(),
            faults: Mutex::new(Vec::new()),
            agent,
            recorded: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            clock_offset: AtomicI64::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("stripe-recorder-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))
                .context("recorder: spawning the accept thread")?
        };
        Ok(StripeRecorder {
            base_url: format!("http://{addr}"),
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Put Stripe's clock `seconds` ahead of (or, negative, behind) the machine's: every `Date`
    /// passed on from the upstream is shifted by it. What a host with a skewed clock would see.
    pub fn set_clock_offset(&self, seconds: i64) {
        self.shared.clock_offset.store(seconds, Ordering::SeqCst);
    }

    /// Drop the answer of the next `count` requests of `method` whose path starts with `prefix`,
    /// after forwarding them: the request is processed upstream, the client gets no response.
    pub fn drop_responses(&self, method: &str, prefix: &str, count: usize) {
        self.inject(method, prefix, Fault::DropResponse, count);
    }

    /// Apply `fault` to the next `count` requests of `method` whose path starts with `prefix`.
    pub fn inject(&self, method: &str, prefix: &str, fault: Fault, count: usize) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((method.to_string(), prefix.to_string(), fault, count));
    }

    /// Forget the faults not yet applied.
    pub fn clear_faults(&self) {
        self.shared
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Every request recorded so far (since the last `clear`), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorded().clone()
    }

    pub fn clear(&self) {
        self.shared.recorded().clear();
    }

    /// The first header of `req` with this name, case-insensitively.
    pub fn header<'a>(req: &'a RecordedRequest, name: &str) -> Option<&'a str> {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Drop for StripeRecorder {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept(); the loop sees the flag and returns, closing the listener.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Shared {
    fn recorded(&self) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Turns a request into its answer. This is the seam for fault injection.
    fn exchange(&self, request: &Incoming) -> Outgoing {
        self.forward(request)
    }

    fn forward(&self, request: &Incoming) -> Outgoing {
        match self.try_forward(request) {
            Ok(outgoing) => outgoing,
            Err(e) => Outgoing {
                status: 502,
                content_type: Some("text/plain; charset=utf-8".into()),
                date: None,
                body: format!("stripe recorder: upstream {} failed: {e:#}", self.upstream)
                    .into_bytes(),
            },
        }
    }

    fn try_forward(&self, request: &Incoming) -> Result<Outgoing> {
        let mut target = request.target.clone();
        if !self.strip_query.is_empty()
            && let Some((path, query)) = request.target.split_once('?')
            && let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        {
            let kept: Vec<_> = pairs
                .into_iter()
                .filter(|(k, _)| !self.strip_query.contains(k))
                .collect();
            target = format!("{path}?{}", serde_urlencoded::to_string(kept)?);
        }
        let uri = format!("{}{}", self.upstream, target);
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(&uri);
        for (name, value) in &request.headers {
            if FORWARDED_HEADERS
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
            {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        let response = if request.has_body {
            // A body, even an empty one, is sent as is (ureq then adds Content-Length).
            let mut body = request.body.clone();
            if !self.strip.is_empty()
                && let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            {
                let kept: Vec<_> = pairs
                    .into_iter()
                    .filter(|(k, _)| !self.strip.contains(k))
                    .collect();
                body = serde_urlencoded::to_string(kept)?.into_bytes();
            }
            self.agent.run(builder.body(body)?)
        } else {
            self.agent.run(builder.body(())?)
        };
        let mut response = response.with_context(|| format!("{} {uri}", request.method))?;
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let offset = self.clock_offset.load(Ordering::SeqCst);
        let date = response
            .headers()
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .map(|at| {
                let shifted = if offset >= 0 {
                    at + Duration::from_secs(offset.unsigned_abs())
                } else {
                    at - Duration::from_secs(offset.unsigned_abs())
                };
                httpdate::fmt_http_date(shifted)
            });
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .context("reading the upstream body")?;
        Ok(Outgoing {
            status: response.status().as_u16(),
            content_type,
            date,
            body,
        })
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match stream {
            Ok(stream) => {
                let shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name("stripe-recorder-conn".into())
                    .spawn(move || handle_connection(stream, &shared));
                if spawned.is_err() {
                    thread::sleep(Duration::from_millis(10)); // out of threads: let some finish
                }
            }
            // e.g. EMFILE: back off instead of spinning
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn handle_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(CLIENT_IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_IO_TIMEOUT));
    let mut reader = BufReader::new(&stream);
    let request = match read_request(&mut reader, &stream) {
        Ok(Some(request)) => request,
        Ok(None) => return, // closed without a request (e.g. Drop's wake-up connection)
        Err(e) => {
            let bad = Outgoing {
                status: 400,
                content_type: Some("text/plain; charset=utf-8".into()),
                date: None,
                body: format!("stripe recorder: bad request: {e}").into_bytes(),
            };
            let _ = write_response(&stream, &bad, false);
            return;
        }
    };
    let received_at = std::time::SystemTime::now();
    let fault = {
        let mut faults = shared.faults.lock().unwrap_or_else(PoisonError::into_inner);
        faults
            .iter_mut()
            .find(|(m, prefix, _, left)| {
                *left > 0
                    && request.method.eq_ignore_ascii_case(m)
                    && request.target.starts_with(prefix.as_str())
            })
            .map(|entry| {
                entry.3 -= 1;
                entry.2.clone()
            })
    };
    let outgoing = match &fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => Outgoing {
            status: *status,
            content_type: Some("application/json".into()),
            date: None,
            body: format!(
                r#"{{"error":{{"type":"api_error","message":"injected {status}{}"}}}}"#,
                retry_after
                    .map(|s| format!(", retry after {s} s"))
                    .unwrap_or_default()
            )
            .into_bytes(),
        },
        Some(Fault::ResetBeforeForward) => Outgoing {
            status: 0,
            content_type: None,
            date: None,
            body: Vec::new(),
        },
        Some(Fault::Delay(d)) => {
            thread::sleep(*d);
            shared.exchange(&request)
        }
        _ => shared.exchange(&request),
    };
    let dropped = matches!(fault, Some(Fault::DropResponse | Fault::ResetBeforeForward));
    shared.recorded().push(RecordedRequest {
        method: request.method.clone(),
        path_and_query: request.target.clone(),
        headers: request.headers.clone(),
        body: String::from_utf8_lossy(&request.body).into_owned(),
        status: outgoing.status,
        response_body: String::from_utf8_lossy(&outgoing.body).into_owned(),
        received_at,
    });
    if dropped {
        // Reset: the connection closes with no answer (after the upstream processed the request,
        // for DropResponse; before it saw it, for ResetBeforeForward).
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return;
    }
    if let Some(Fault::Status {
        retry_after: Some(secs),
        ..
    }) = fault
    {
        let _ = write_response_with(&stream, &outgoing, &[("Retry-After", secs.to_string())]);
        return;
    }
    let _ = write_response(
        &stream,
        &outgoing,
        request.method.eq_ignore_ascii_case("HEAD"),
    );
}

/// Reads one request; `Ok(None)` when the client closed before sending anything.
fn read_request(reader: &mut impl BufRead, stream: &TcpStream) -> io::Result<Option<Incoming>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut head_bytes = 0usize;
    let mut read_line = |reader: &mut dyn BufRead| -> io::Result<Option<String>> {
        let mut line = Vec::new();
        let limit = u64::try_from(MAX_HEAD_BYTES - head_bytes.min(MAX_HEAD_BYTES)).unwrap_or(0);
        let n = reader.take(limit).read_until(b'\n', &mut line)?;
        head_bytes += n;
        if n == 0 {
            return Ok(None);
        }
        if !line.ends_with(b"\n") {
            return Err(invalid("request head too large or truncated"));
        }
        let text = String::from_utf8(line).map_err(|_| invalid("request head is not UTF-8"))?;
        Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
    };

    let request_line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue, // tolerate stray CRLF before a request
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(invalid("unsupported request line"));
    }

    let mut headers = Vec::new();
    loop {
        let line =
            read_line(reader)?.ok_or_else(|| invalid("connection closed inside the head"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("malformed header line"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };

    if get("Expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        (&*stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked =
        get("Transfer-Encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let (body, has_body) = if chunked {
        (read_chunked(reader)?, true)
    } else if let Some(length) = get("Content-Length") {
        let length: u64 = length.parse().map_err(|_| invalid("bad Content-Length"))?;
        if length > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
        let mut body = Vec::new();
        reader.take(length).read_to_end(&mut body)?;
        if u64::try_from(body.len()).unwrap_or(u64::MAX) != length {
            return Err(invalid("connection closed inside the body"));
        }
        (body, true)
    } else {
        (Vec::new(), false)
    };

    Ok(Some(Incoming {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
        has_body,
    }))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.take(1024).read_line(&mut size_line)?;
        let size = size_line.trim().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // trailers, up to the blank line
            loop {
                let mut line = String::new();
                if reader.take(8192).read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        if u64::try_from(body.len()).unwrap_or(u64::MAX) + size > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
        let before = body.len();
        reader.take(size).read_to_end(&mut body)?;
        if u64::try_from(body.len() - before).unwrap_or(0) != size {
            return Err(invalid("connection closed inside a chunk"));
        }
        let mut crlf = String::new();
        reader.take(2).read_line(&mut crlf)?;
    }
}

fn write_response(stream: &TcpStream, outgoing: &Outgoing, head_only: bool) -> io::Result<()> {
    write_response_full(stream, outgoing, head_only, &[])
}

fn write_response_with(
    stream: &TcpStream,
    outgoing: &Outgoing,
    extra: &[(&str, String)],
) -> io::Result<()> {
    write_response_full(stream, outgoing, false, extra)
}

fn write_response_full(
    stream: &TcpStream,
    outgoing: &Outgoing,
    head_only: bool,
    extra: &[(&str, String)],
) -> io::Result<()> {
    let reason = http::StatusCode::from_u16(outgoing.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", outgoing.status);
    if let Some(content_type) = &outgoing.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if let Some(date) = &outgoing.date {
        head.push_str(&format!("Date: {date}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        outgoing.body.len()
    ));
    let mut writer = stream;
    writer.write_all(head.as_bytes())?;
    if !head_only {
        writer.write_all(&outgoing.body)?;
    }
    writer.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}
