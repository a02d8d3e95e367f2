//! Captures every log line the host writes during the test run (all levels) into memory, so tests
//! can assert that a secret never appears in one, and into the secret sweep's log artifact
//! ([`crate::sweep`]), so the whole suite's logs are checked after it ran.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

struct Sink;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        BUFFER
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        crate::sweep::append(crate::sweep::Kind::Logs, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Install the capturing subscriber for this process (once), through the host's own log setup (so
/// its redaction holds here too): everything paydesk logs, at every level, and the libraries' lines
/// from INFO up (the compiler's TRACE output is enormous and never sees a secret) — or, when
/// `PAYDESK_LOG` is set, exactly what it says (`scripts/test.sh` runs a pass at `trace`).
pub fn capture() {
    INSTALLED.get_or_init(|| {
        let filter = std::env::var("PAYDESK_LOG")
            .ok()
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| "info,paydesk_host=trace,paydesk_tests=trace".into());
        paydesk_host::logging::install(tracing_subscriber::EnvFilter::new(filter), || Sink, false);
    });
}

/// Everything logged so far.
pub fn contents() -> String {
    String::from_utf8_lossy(&BUFFER.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}
