//! `cargo run -p paydesk-tests --bin secret-sweep [DIR]`: after the whole test suite, scan every
//! artifact the tests left (host logs, HTTP responses, pages, emails, values passed into the
//! component) for Stripe secret keys and webhook signing secrets. Exits 1 on any finding, or when a
//! required kind of artifact is missing (a run that collected nothing proves nothing). Prints where
//! and what kind of secret, never the secret.

use std::path::PathBuf;
use std::process::ExitCode;

use paydesk_tests::secret_scan::sweep;
use paydesk_tests::sweep::{DIR_ENV, Kind, root};

/// At most this many findings are listed.
const SHOWN: usize = 50;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(root);
    let report = match sweep(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "secret-sweep: cannot read {}: {e}\n  run the test suite first (scripts/test.sh, or `cargo test`); \
                 the directory is set by {DIR_ENV}",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    println!("secret-sweep: {}", dir.display());
    for kind in Kind::ALL {
        let t = report.kinds.get(&kind).copied().unwrap_or_default();
        println!(
            "  {:<13} {:>4} file(s) {:>12} bytes",
            format!("{kind:?}"),
            t.files,
            t.bytes
        );
    }
    println!("  registered secrets: {}", report.secrets);
    for path in &report.unknown_files {
        println!("  (not an artifact, ignored: {})", path.display());
    }
    let mut failed = false;
    if !report.missing.is_empty() {
        failed = true;
        eprintln!(
            "secret-sweep: FAILED: no artifacts of kind {:?}; run the whole suite (scripts/test.sh) before the sweep",
            report.missing
        );
    }
    if !report.findings.is_empty() {
        failed = true;
        eprintln!(
            "secret-sweep: FAILED: {} secret(s) found:",
            report.findings.len()
        );
        for (path, f) in report.findings.iter().take(SHOWN) {
            let rel = path.strip_prefix(&dir).unwrap_or(path);
            eprintln!(
                "  {}:{}:{}: {}{}",
                rel.display(),
                f.line,
                f.column,
                f.what,
                f.record
                    .as_deref()
                    .map(|r| format!(" — in `{r}`"))
                    .unwrap_or_default()
            );
        }
        if report.findings.len() > SHOWN {
            eprintln!("  … and {} more", report.findings.len() - SHOWN);
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        println!("secret-sweep: no secret in any artifact");
        ExitCode::SUCCESS
    }
}
