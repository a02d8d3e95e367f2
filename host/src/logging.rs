//! Log setup for every `paydesk` command and for hosts that embed paydesk: the `PAYDESK_LOG`
//! filter (`tracing` syntax) and the one rule no filter can lift — the HTTP client's byte dumps are
//! never written. At TRACE the client (`ureq_proto`) hex-dumps every request and answer it
//! handles: the `Authorization: Bearer sk_…` header of each Stripe request, and the webhook
//! signing secret in the answer that creates an endpoint. Those events are dropped here, before
//! any filter or writer sees them, at whatever level the rest is logged.

use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, FilterFn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether an event may be logged at all: not the HTTP client's TRACE byte dumps.
pub fn allowed(meta: &tracing::Metadata<'_>) -> bool {
    !(*meta.level() == tracing::Level::TRACE && meta.target().starts_with("ureq"))
}

/// The redaction as a filter, for a subscriber built elsewhere.
pub fn redaction() -> FilterFn<fn(&tracing::Metadata<'_>) -> bool> {
    tracing_subscriber::filter::filter_fn(allowed as fn(&tracing::Metadata<'_>) -> bool)
}

/// A formatting layer writing to `writer`, filtered by `filter` and the redaction.
pub fn layer<S, W>(filter: EnvFilter, writer: W, ansi: bool) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(writer)
        .with_filter(filter)
        .with_filter(redaction())
}

/// Install the process's logger: `PAYDESK_LOG` if set and valid, else `default`; to stderr.
/// Lines of the `log` crate (the HTTP client, wasmtime) join in. Does nothing if one is installed.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("PAYDESK_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    install(filter, std::io::stderr, true);
}

/// Install a logger with `filter` writing to `writer` (the test harness captures this way).
pub fn install<W>(filter: EnvFilter, writer: W, ansi: bool)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // The `log` crate's own maximum decides whether a `log::trace!` line is even formatted. The
    // redaction filter gives no level hint, so the bridge would leave it at TRACE and every one of
    // Cranelift's trace lines would cross into `tracing` to be dropped there: that made compiling
    // the component about twice as slow. The `PAYDESK_LOG` filter's own hint is the real maximum.
    let max = log_max_level(filter.max_level_hint());
    if tracing_subscriber::registry()
        .with(layer(filter, writer, ansi))
        .try_init()
        .is_ok()
    {
        log::set_max_level(max);
    }
}

/// `tracing`'s level hint as the `log` crate's maximum (no hint: everything).
fn log_max_level(hint: Option<tracing_subscriber::filter::LevelFilter>) -> log::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match hint {
        Some(LevelFilter::OFF) => log::LevelFilter::Off,
        Some(LevelFilter::ERROR) => log::LevelFilter::Error,
        Some(LevelFilter::WARN) => log::LevelFilter::Warn,
        Some(LevelFilter::INFO) => log::LevelFilter::Info,
        Some(LevelFilter::DEBUG) => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_log_crates_maximum_is_the_filters_own() {
        let max = |f: &str| log_max_level(EnvFilter::new(f).max_level_hint());
        assert_eq!(max("info"), log::LevelFilter::Info);
        assert_eq!(max("warn,paydesk_host=debug"), log::LevelFilter::Debug);
        assert_eq!(max("cranelift_codegen=trace,info"), log::LevelFilter::Trace);
        assert_eq!(max("off"), log::LevelFilter::Off);
    }

    #[test]
    fn the_http_clients_byte_dumps_never_pass_even_at_trace() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(layer(
            EnvFilter::new("trace"),
            move || writer.clone(),
            false,
        ));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "ureq_proto::util", "417574686f72697a Authorization: Bearer sk_test_dumped");
            tracing::debug!(target: "ureq::pool", "Return to pool");
            tracing::trace!("paydesk's own trace line");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(!out.contains("sk_test_dumped"), "{out}");
        assert!(out.contains("Return to pool"), "{out}");
        assert!(out.contains("paydesk's own trace line"), "{out}");
    }
}
