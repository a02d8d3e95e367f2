//! The suite-wide secret sweep: after the whole
//! test suite, no Stripe secret key or webhook signing secret may appear in any log line, page, API
//! response, email, or value passed into the component.
//!
//! Every test process appends what paydesk showed or handed out to one directory
//! ([`root`], `target/secret-sweep/` unless `PAYDESK_SECRET_SWEEP_DIR` says otherwise), one
//! subdirectory per process (`<test binary>-<pid>/`), one file per [`Kind`]; tests also register the
//! secrets they use. After the suite, the `secret-sweep` binary scans the directory
//! ([`crate::secret_scan`]). A process starting removes the directories its binary's earlier,
//! finished runs left, so stale artifacts don't leak in (`scripts/test.sh` also empties the
//! directory first). This file owns the layout and the writers; it never reads artifacts back.
//!
//! It is also compiled into the host crate's process tests (`#[path]`), so it depends only on std.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Environment variable naming the artifact directory.
pub const DIR_ENV: &str = "PAYDESK_SECRET_SWEEP_DIR";

/// What an artifact file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Host log lines (every level), and the stderr of `paydesk` processes.
    Logs,
    /// HTTP responses of paydesk's web server: status, headers and body.
    Responses,
    /// Browser page sources after the page's scripts ran.
    Pages,
    /// Messages the SMTP server received: raw, and every text part decoded.
    Emails,
    /// Values passed into the component: import results and export arguments.
    GuestInputs,
    /// Output of `paydesk` commands (stdout).
    Cli,
    /// The registry of secrets the tests used (not scanned: it is the list to look for).
    Secrets,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Logs,
        Kind::Responses,
        Kind::Pages,
        Kind::Emails,
        Kind::GuestInputs,
        Kind::Cli,
        Kind::Secrets,
    ];

    /// The kinds a whole-suite run must have produced, or the sweep would pass vacuously.
    pub const REQUIRED: [Kind; 5] = [
        Kind::Logs,
        Kind::Responses,
        Kind::Emails,
        Kind::GuestInputs,
        Kind::Secrets,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Logs => "logs.txt",
            Kind::Responses => "responses.txt",
            Kind::Pages => "pages.txt",
            Kind::Emails => "emails.txt",
            Kind::GuestInputs => "guest-inputs.txt",
            Kind::Cli => "cli.txt",
            Kind::Secrets => "secrets.txt",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.file_name() == name)
    }
}

/// The artifact directory: `$PAYDESK_SECRET_SWEEP_DIR`, else `secret-sweep/` in the workspace's
/// target directory (`$CARGO_TARGET_DIR` when set). Relative paths are taken from the workspace
/// root, as cargo runs each crate's tests in that crate's directory.
pub fn root() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(|v| workspace.join(v))
    };
    from_env(DIR_ENV).unwrap_or_else(|| {
        from_env("CARGO_TARGET_DIR")
            .unwrap_or_else(|| workspace.join("target"))
            .join("secret-sweep")
    })
}

/// The test binary's name without cargo's hash suffix (`suite-0123456789abcdef` → `suite`).
fn binary_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "unknown".into());
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_string()
        }
        _ => stem,
    }
}

fn process_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next());
        !matches!(state, Some("Z") | Some("X") | None)
    })
}

/// This process's artifact directory, created on first use after removing the directories of
/// earlier runs of the same binary whose process is gone. `None` when it cannot be created (the
/// sweep then fails for missing artifacts, never silently passes).
fn process_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = root();
        let name = binary_name();
        let me = std::process::id();
        if let Ok(entries) = fs::read_dir(&root) {
            for entry in entries.flatten() {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                let stale = file_name
                    .strip_prefix(&format!("{name}-"))
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .is_some_and(|pid| pid != me && !process_alive(pid));
                if stale {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = root.join(format!("{name}-{me}"));
        match fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(e) => {
                eprintln!("secret sweep: cannot create {}: {e}", dir.display());
                None
            }
        }
    })
    .as_deref()
}

/// Append `bytes` to this process's file of `kind`.
pub fn append(kind: Kind, bytes: &[u8]) {
    static FILES: Mutex<Option<HashMap<Kind, File>>> = Mutex::new(None);
    let Some(dir) = process_dir() else {
        return;
    };
    let mut files = FILES.lock().unwrap_or_else(|p| p.into_inner());
    let files = files.get_or_insert_with(HashMap::new);
    let file = match files.entry(kind) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => match OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(kind.file_name()))
        {
            Ok(f) => e.insert(f),
            Err(err) => {
                eprintln!("secret sweep: cannot open {kind:?} artifacts: {err}");
                return;
            }
        },
    };
    let _ = file.write_all(bytes);
}

/// Append one record: a `=== label` line, then `content`.
pub fn record(kind: Kind, label: &str, content: &str) {
    let label = label.replace('\n', " ");
    append(kind, format!("=== {label}\n{content}\n").as_bytes());
}

/// Register a secret the tests use, so the sweep also looks for its value.
pub fn register_secret(secret: &str) {
    if !secret.is_empty() {
        append(Kind::Secrets, format!("{secret}\n").as_bytes());
    }
}
