//! Starts and stops the outside services that paydesk's tests talk to: localstripe (a fake Stripe)
//! and aiosmtpd (an SMTP sink writing a Maildir), each a child process of the test binary on a
//! free 127.0.0.1 port, with its own temp dir and log file. This module owns finding (and, once,
//! creating) the Python venv, spawning, waiting until a service answers, reading what the SMTP
//! sink received, and stopping every child by its PID. It must not bind or contact anything but
//! 127.0.0.1, install anything except through `scripts/test-env.sh`, signal any process it did not
//! spawn itself, or let a child outlive the test binary.
//!
//! Every child is spawned from one dedicated, never-ending "spawner" thread with
//! `PR_SET_PDEATHSIG = SIGKILL`: Linux sends that signal when the *thread* that forked the child
//! exits, so spawning from a short-lived test thread would kill the service when that test's
//! thread ends. With the spawner thread, a child lives until its struct is dropped (SIGTERM, then
//! SIGKILL, then reaped) or until the test process dies, however it dies. The `shared()`
//! localstripe is a static that is never dropped: an `atexit` hook stops it and removes its temp
//! dir on a normal exit, and PDEATHSIG covers a crash or a SIGKILL.
//!
//! Every message the SMTP sink received goes to the secret sweep ([`crate::sweep`]) when the sink
//! stops, and so does every webhook signing secret registered with localstripe.
//!
//! Environment: `PAYDESK_TEST_VENV` (venv location, default `<repo root>/.venv-test`, relative
//! paths are taken from the repo root); `PAYDESK_TEST_NO_SETUP=1` forbids running
//! `scripts/test-env.sh` automatically when the venv is missing.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// How long a service may take to answer after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Spawn attempts when the free port we picked was taken by someone else in the meantime.
const START_ATTEMPTS: usize = 5;
/// How long a child gets to exit after SIGTERM before it is sent SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);
/// Lines of a child's log quoted in a start error.
const LOG_TAIL_LINES: usize = 30;
const POLL: Duration = Duration::from_millis(20);
/// `sk_test_x:` for HTTP basic auth, as in TESTING.md.
const PROBE_AUTH: &str = "Basic c2tfdGVzdF94Og==";

// ---------------------------------------------------------------------------------------------
// The Python venv
// ---------------------------------------------------------------------------------------------

/// Path of the venv's python, with `localstripe`, `aiosmtpd` and `schemathesis` importable.
///
/// The venv is `$PAYDESK_TEST_VENV` or `<repo root>/.venv-test`. When it is missing or incomplete,
/// this runs `scripts/test-env.sh` once per process (idempotent, flock-guarded, needs PyPI the
/// first time) unless `PAYDESK_TEST_NO_SETUP` is set; if that fails the error says to run the
/// script by hand and quotes its output. The outcome is cached for the whole process.
pub fn venv_python() -> Result<PathBuf> {
    static PYTHON: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| find_or_create_venv().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The repository root: the nearest ancestor of this crate's manifest dir with `scripts/test-env.sh`.
pub(crate) fn repo_root() -> Option<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("scripts/test-env.sh").is_file())
        .map(Path::to_path_buf)
}

fn venv_dir(root: Option<&Path>) -> Result<PathBuf> {
    let base = || {
        root.map(Path::to_path_buf).ok_or_else(|| {
            anyhow!(
                "cannot find the repo root (no scripts/test-env.sh above {}); set PAYDESK_TEST_VENV",
                env!("CARGO_MANIFEST_DIR")
            )
        })
    };
    match std::env::var_os("PAYDESK_TEST_VENV").filter(|v| !v.is_empty()) {
        Some(v) if Path::new(&v).is_absolute() => Ok(PathBuf::from(v)),
        Some(v) => Ok(base()?.join(v)),
        None => Ok(base()?.join(".venv-test")),
    }
}

fn venv_is_ready(python: &Path) -> bool {
    python.is_file()
        && Command::new(python)
            .args(["-c", "import localstripe, aiosmtpd, schemathesis"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

fn find_or_create_venv() -> Result<PathBuf> {
    let root = repo_root();
    let venv = venv_dir(root.as_deref())?;
    let python = venv.join("bin/python");
    if venv_is_ready(&python) {
        return Ok(python);
    }
    let by_hand = "run `scripts/test-env.sh` from the repo root (it needs PyPI once)";
    if std::env::var_os("PAYDESK_TEST_NO_SETUP").is_some_and(|v| !v.is_empty()) {
        bail!(
            "the test venv {} lacks localstripe/aiosmtpd and PAYDESK_TEST_NO_SETUP is set: {by_hand}",
            venv.display()
        );
    }
    let script = root
        .map(|r| r.join("scripts/test-env.sh"))
        .ok_or_else(|| anyhow!("the test venv {} is missing: {by_hand}", venv.display()))?;
    let out = Command::new("bash")
        .arg(&script)
        .env("PAYDESK_TEST_VENV", &venv)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() || !venv_is_ready(&python) {
        bail!(
            "could not set up the test venv {} ({}): {by_hand}\n--- stdout ---\n{}--- stderr ---\n{}",
            venv.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(python)
}

// ---------------------------------------------------------------------------------------------
// Spawning and stopping children
// ---------------------------------------------------------------------------------------------

struct SpawnJob {
    command: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// Spawns `command` from the process-long spawner thread, with PDEATHSIG = SIGKILL.
pub(crate) fn spawn_child(mut command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnJob>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        thread::Builder::new()
            .name("paydesk-test-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop only ends with the process; the
                // park loop is a belt-and-braces guarantee that the thread never exits.
                for job in rx {
                    let SpawnJob { mut command, reply } = job;
                    let _ = reply.send(command.spawn());
                }
                loop {
                    thread::park();
                }
            })
            .expect("cannot start the test spawner thread");
        tx
    });

    let parent = libc::pid_t::try_from(std::process::id()).expect("pid fits in pid_t");
    // SAFETY: the closure runs between fork and exec and only calls the async-signal-safe
    // prctl and getppid, building errors without allocating.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The test process died between fork and prctl: don't start an orphan.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }

    let (reply, answer) = mpsc::channel();
    spawner
        .send(SpawnJob { command, reply })
        .map_err(|_| io::Error::other("the test spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the test spawner thread dropped the request"))?
}

/// True while `pid` names a live (not zombie) process. Linux only (reads /proc).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // state is the first field after the ")" that closes the command name
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z") | Some("X") | None)
}

/// A running service child plus its temp dir (log file, working files).
struct ServiceProcess {
    child: Child,
    log_path: PathBuf,
    // Dropped after `Drop::drop` stopped the child, so the dir is removed last.
    dir: tempfile::TempDir,
}

impl ServiceProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log_path, LOG_TAIL_LINES)
    }

    /// SIGTERM, up to `TERM_GRACE` for it to exit, then SIGKILL; always reaps the child.
    fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return; // already reaped: the PID may belong to someone else now
        }
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: plain kill(2) on our own, not yet reaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + TERM_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => thread::sleep(Duration::from_millis(10)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A port that was free on 127.0.0.1 a moment ago (bound to :0, then released).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

enum StartError {
    /// The child could not bind its port (someone else took it): try another.
    PortTaken(anyhow::Error),
    Fatal(anyhow::Error),
}

/// Spawns `make(python, dir, port)` on fresh free ports until `ready(port)` holds while the child
/// is still alive (retrying only when the port was taken), at most `START_ATTEMPTS` times.
fn launch(
    name: &str,
    make: impl Fn(&Path, &Path, u16) -> Command,
    ready: impl Fn(u16) -> bool,
) -> Result<(ServiceProcess, u16)> {
    let python = venv_python()?;
    let mut last = None;
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        let command = |dir: &Path| make(&python, dir, port);
        match launch_once(name, port, command, &ready) {
            Ok(process) => return Ok((process, port)),
            Err(StartError::PortTaken(e)) => last = Some(e),
            Err(StartError::Fatal(e)) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no attempt made"))
        .context(format!(
            "{name}: no free port after {START_ATTEMPTS} attempts"
        )))
}

/// Spawns `make(python, dir, port, fd)` on a listening socket bound here first and handed to the
/// child as `fd`, so the port is the child's from the start: no other process can take it between
/// choosing it and the child's start, and nothing else can answer `ready` in its place (a
/// released port handed to two starting servers at once let one be taken for the other).
fn launch_listening(
    name: &str,
    make: impl Fn(&Path, &Path, u16, i32) -> Command,
    ready: impl Fn(u16) -> bool,
) -> Result<(ServiceProcess, u16)> {
    use std::os::fd::AsRawFd;
    let python = venv_python()?;
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let fd = listener.as_raw_fd();
    let command = |dir: &Path| {
        let mut command = make(&python, dir, port, fd);
        // SAFETY: runs between fork and exec and only calls the async-signal-safe fcntl: the
        // listener (close-on-exec, like every descriptor Rust opens) stays open in this child
        // alone.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
    };
    let process = match launch_once(name, port, command, &ready) {
        Ok(process) => process,
        Err(StartError::PortTaken(e) | StartError::Fatal(e)) => return Err(e),
    };
    // The child has its own copy of the socket now.
    drop(listener);
    Ok((process, port))
}

/// One start of a service on `port`: spawned with its own temp dir and log, ready or why not.
fn launch_once(
    name: &str,
    port: u16,
    make: impl Fn(&Path) -> Command,
    ready: &impl Fn(u16) -> bool,
) -> std::result::Result<ServiceProcess, StartError> {
    let fatal = |e: anyhow::Error| StartError::Fatal(e);
    let dir = tempfile::Builder::new()
        .prefix(&format!("paydesk-{name}-"))
        .tempdir()
        .context("creating a temp dir")
        .map_err(fatal)?;
    let log_path = dir.path().join(format!("{name}.log"));
    let log = File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))
        .map_err(fatal)?;
    let mut command = make(dir.path());
    command
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("the log file").map_err(fatal)?)
        .stderr(log);
    let child = spawn_child(command)
        .with_context(|| format!("spawning {name}"))
        .map_err(fatal)?;
    let mut process = ServiceProcess {
        child,
        log_path,
        dir,
    };
    wait_ready(name, &mut process, port, ready)?;
    Ok(process)
}

fn wait_ready(
    name: &str,
    process: &mut ServiceProcess,
    port: u16,
    ready: &impl Fn(u16) -> bool,
) -> std::result::Result<(), StartError> {
    let started = Instant::now();
    loop {
        match process.child.try_wait() {
            Ok(Some(status)) => {
                let tail = process.log_tail();
                let err = anyhow!(
                    "{name} on 127.0.0.1:{port} exited during start-up ({status}); last log lines:\n{tail}"
                );
                let lower = tail.to_ascii_lowercase();
                return Err(
                    if lower.contains("address already in use") || lower.contains("errno 98") {
                        StartError::PortTaken(err)
                    } else {
                        StartError::Fatal(err)
                    },
                );
            }
            Ok(None) => {}
            Err(e) => return Err(StartError::Fatal(anyhow!("{name}: waiting on child: {e}"))),
        }
        // Answered, and still ours: a server that is not our child cannot have answered,
        // because our child would then have failed to bind and exited.
        if ready(port) && matches!(process.child.try_wait(), Ok(None)) {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(StartError::Fatal(anyhow!(
                "{name} on 127.0.0.1:{port} did not answer within {} s; last log lines:\n{}",
                READY_TIMEOUT.as_secs(),
                process.log_tail()
            )));
        }
        thread::sleep(POLL);
    }
}

fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

// ---------------------------------------------------------------------------------------------
// localstripe
// ---------------------------------------------------------------------------------------------

/// Python run with `-c`. The last lines are the testing guide's command, except that aiohttp
/// serves the listening socket the test bound and handed over (`__FD__`, see
/// [`launch_listening`]) instead of binding a port of its own. Before them:
/// INFO logging (access log and webhook delivery results go to the log file), and localstripe's
/// pickle, which 1.15.10 hard-codes to `/tmp/localstripe.pickle` (it ignores TMPDIR), is redirected
/// into this instance's own temp dir so parallel instances neither share nor fight over one file.
/// A direct start never reads the pickle back, so this changes no behaviour.
const LOCALSTRIPE_PY: &str = concat!(
    r#"
import logging, os, pickle, tempfile
logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(levelname)s %(message)s')
import localstripe.resources as _resources
resources = _resources
"#,
    include_str!("../localstripe_fields.py"),
    r#"
_pickle_path = os.path.join(tempfile.gettempdir(), 'localstripe.pickle')
def _dump_to_disk(self):
    with open(_pickle_path, 'wb') as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
_resources.Store.dump_to_disk = _dump_to_disk
import socket
from aiohttp import web; from localstripe.server import app
web.run_app(app, sock=socket.socket(fileno=__FD__), print=None)
"#
);

/// A localstripe server on 127.0.0.1, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct LocalStripe {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub port: u16,
    process: ServiceProcess,
}

static SHARED_LOCALSTRIPE: OnceLock<LocalStripe> = OnceLock::new();

impl LocalStripe {
    /// Start a fresh localstripe on a free loopback port; waits until it answers
    /// (GET /v1/customers with basic auth `sk_test_x:`), at most 30 s.
    pub fn start() -> Result<LocalStripe> {
        let probe = http_agent(Duration::from_secs(2));
        let (process, port) = launch_listening(
            "localstripe",
            |python, _dir, _port, fd| {
                let mut command = Command::new(python);
                command
                    .arg("-c")
                    .arg(LOCALSTRIPE_PY.replace("__FD__", &fd.to_string()));
                command
            },
            |port| {
                probe
                    .get(format!("http://127.0.0.1:{port}/v1/customers"))
                    .header("Authorization", PROBE_AUTH)
                    .call()
                    .is_ok_and(|r| r.status().as_u16() == 200)
            },
        )?;
        Ok(LocalStripe {
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            process,
        })
    }

    /// One instance shared by the whole test binary, started on first use (panics if it cannot
    /// start; a later call tries again). Its objects are shared by every test in the binary: use
    /// fresh objects, never `flush_data`, and start a private instance for tests that list
    /// everything or need webhooks of their own. Stopped at process exit (atexit; PDEATHSIG if
    /// the process is killed).
    pub fn shared() -> &'static LocalStripe {
        SHARED_LOCALSTRIPE.get_or_init(|| {
            let instance = LocalStripe::start()
                .unwrap_or_else(|e| panic!("cannot start the shared localstripe: {e:#}"));
            // SAFETY: registers a plain extern "C" fn without arguments.
            unsafe { libc::atexit(stop_shared_localstripe) };
            instance
        })
    }

    /// POST /_config/webhooks/{name} with `url`, `secret` and optional `events[]` (TESTING.md).
    /// localstripe POSTs each event about 1 s after it happens, once, signed like Stripe.
    /// Registrations are per instance and survive `flush_data`; a name re-used replaces it.
    pub fn register_webhook(
        &self,
        name: &str,
        url: &str,
        secret: &str,
        events: &[&str],
    ) -> Result<()> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            bail!("webhook name {name:?}: use only [A-Za-z0-9_-]");
        }
        crate::sweep::register_secret(secret);
        let mut form = vec![("url", url), ("secret", secret)];
        form.extend(events.iter().map(|e| ("events[]", *e)));
        let mut response = http_agent(Duration::from_secs(10))
            .post(format!("{}/_config/webhooks/{name}", self.base_url))
            .send_form(form)
            .with_context(|| format!("registering webhook {name} on {}", self.base_url))?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response.body_mut().read_to_string().unwrap_or_default();
            bail!("registering webhook {name}: localstripe answered {status}: {body}");
        }
        Ok(())
    }

    /// DELETE /_config/data: forget every object (webhook registrations stay).
    pub fn flush_data(&self) -> Result<()> {
        let response = http_agent(Duration::from_secs(10))
            .delete(format!("{}/_config/data", self.base_url))
            .call()
            .with_context(|| format!("flushing {}", self.base_url))?;
        match response.status().as_u16() {
            200 => Ok(()),
            status => bail!("flushing localstripe data: status {status}"),
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// This instance's temp dir (its TMPDIR: log file and `localstripe.pickle`).
    pub fn dir(&self) -> &Path {
        self.process.dir.path()
    }

    /// Everything the server printed so far (INFO log: requests, webhook deliveries, errors).
    pub fn log(&self) -> String {
        fs::read(&self.process.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// atexit hook for the shared instance, which as a static is never dropped.
extern "C" fn stop_shared_localstripe() {
    if let Some(shared) = SHARED_LOCALSTRIPE.get()
        && let Ok(pid) = libc::pid_t::try_from(shared.pid())
    {
        // SAFETY: our own child; nothing else waits for it, so it has not been reaped and the
        // PID is still its own.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        let _ = fs::remove_dir_all(shared.dir());
    }
}

// ---------------------------------------------------------------------------------------------
// aiosmtpd
// ---------------------------------------------------------------------------------------------

/// An aiosmtpd server with the Mailbox handler on 127.0.0.1, stopped when dropped. Each accepted
/// message is in `maildir/new/` before the server's `250` reply to DATA.
pub struct SmtpServer {
    pub port: u16,
    /// The Maildir (with `new/`, `cur/`, `tmp/`) the messages are written to.
    pub maildir: PathBuf,
    process: ServiceProcess,
}

impl SmtpServer {
    /// aiosmtpd with the Mailbox handler into a temp dir, on a free loopback port.
    pub fn start() -> Result<SmtpServer> {
        let (process, port) = launch(
            "aiosmtpd",
            |python, dir, port| {
                let mut command = Command::new(python);
                command
                    .args(["-m", "aiosmtpd", "-n", "-l"])
                    .arg(format!("127.0.0.1:{port}"))
                    .args(["-c", "aiosmtpd.handlers.Mailbox"])
                    .arg(dir.join("maildir"));
                command
            },
            smtp_greets,
        )?;
        let maildir = process.dir.path().join("maildir");
        Ok(SmtpServer {
            port,
            maildir,
            process,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        fs::read(&self.process.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<(MaildirKey, PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|sub| fs::read_dir(self.maildir.join(sub)).ok())
            .flatten()
            .filter_map(|entry| entry.ok())
            .map(|entry| {
                (
                    maildir_key(&entry.file_name().to_string_lossy()),
                    entry.path(),
                )
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| fs::read(path).ok())
            .map(|bytes| ReceivedMail::parse(&String::from_utf8_lossy(&bytes)))
            .collect()
    }

    /// Waits until at least `n` messages arrived and returns all of them; panics with what did
    /// arrive when `timeout` passes first.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if Instant::now() >= deadline {
                let subjects: Vec<&str> = messages.iter().map(|m| m.subject.as_str()).collect();
                panic!(
                    "expected at least {n} mail(s) within {} ms, got {}: subjects {subjects:?}",
                    timeout.as_millis(),
                    messages.len()
                );
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for SmtpServer {
    /// Hand every received message to the secret sweep before the Maildir goes away: the raw
    /// message and each text part decoded (a secret in a base64 part is not readable raw).
    fn drop(&mut self) {
        for mail in self.messages() {
            let parts: String = mail
                .texts()
                .iter()
                .map(|(mime, text)| format!("--- {mime}\n{text}\n"))
                .collect();
            crate::sweep::record(
                crate::sweep::Kind::Emails,
                &format!("mail to {:?}", mail.envelope_to),
                &format!("{}\n{parts}", mail.raw),
            );
        }
    }
}

/// True when an SMTP server on the port sends its `220` greeting.
fn smtp_greets(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let greeted = BufReader::new(&stream)
        .read_line(&mut line)
        .is_ok_and(|_| line.starts_with("220"));
    let _ = (&stream).write_all(b"QUIT\r\n");
    let _ = (&stream).read(&mut [0u8; 256]);
    greeted
}

/// Sort key of a Maildir file name `SECS.MUSECSPPIDQCOUNT.HOST` (Python's `mailbox.Maildir`):
/// delivery time, then the per-process counter, then the name.
type MaildirKey = (u64, u64, u64, String);

fn maildir_key(name: &str) -> MaildirKey {
    let mut parts = name.splitn(3, '.');
    let secs = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let unique = parts.next().unwrap_or("");
    let number_after = |tag: char| -> u64 {
        unique
            .split_once(tag)
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(0)
    };
    (secs, number_after('M'), number_after('Q'), name.to_string())
}

// ---------------------------------------------------------------------------------------------
// Received mail
// ---------------------------------------------------------------------------------------------

/// A message as the SMTP sink stored it, parsed enough to assert on. Header values are unfolded
/// and RFC 2047-decoded; addresses are bare `local@domain` (display names dropped, see `header`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Address in the `From` header (the envelope sender when there is none).
    pub from: String,
    /// Addresses in the `To` header.
    pub to: Vec<String>,
    /// Addresses in the `Cc` header.
    pub cc: Vec<String>,
    pub subject: String,
    /// The text: the first `text/plain` part (else the first `text/*` part), transfer-decoded
    /// (base64 / quoted-printable) and charset-decoded (UTF-8, Latin-1; others lossy as UTF-8),
    /// with `\n` line ends.
    pub body: String,
    /// The whole stored message (with aiosmtpd's added X-Peer / X-MailFrom / X-RcptTo headers).
    pub raw: String,
    /// SMTP `MAIL FROM` (aiosmtpd's `X-MailFrom`).
    pub envelope_from: String,
    /// SMTP `RCPT TO`s (aiosmtpd's `X-RcptTo`): To, Cc *and* Bcc recipients.
    pub envelope_to: Vec<String>,
    /// Top-level headers in order, names as written, values unfolded and decoded.
    pub headers: Vec<(String, String)>,
}

impl ReceivedMail {
    /// Parses a stored message. Never fails: what cannot be parsed stays empty.
    pub fn parse(raw: &str) -> ReceivedMail {
        let (head, body) = split_head_body(raw);
        // Addresses and MIME parameters are read from the undecoded values: a decoded display
        // name may contain "," or "<".
        let undecoded = parse_headers(head);
        let headers: Vec<(String, String)> = undecoded
            .iter()
            .map(|(name, value)| (name.clone(), decode_words(value)))
            .collect();
        let get = |name: &str| header_in(&headers, name).unwrap_or("");
        let get_undecoded = |name: &str| header_in(&undecoded, name).unwrap_or("");
        let envelope_from = get("X-MailFrom").trim().to_string();
        let envelope_to = get("X-RcptTo")
            .split(',')
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        let from = addresses(get_undecoded("From"))
            .into_iter()
            .next()
            .unwrap_or_else(|| envelope_from.clone());
        let mut texts = Vec::new();
        collect_texts(&undecoded, body, 0, &mut texts);
        let body = texts
            .iter()
            .find(|(mime, _)| mime == "text/plain")
            .or_else(|| texts.first())
            .map(|(_, text)| text.clone())
            .unwrap_or_default();
        ReceivedMail {
            from,
            to: addresses(get_undecoded("To")),
            cc: addresses(get_undecoded("Cc")),
            subject: get("Subject").to_string(),
            body,
            raw: raw.to_string(),
            envelope_from,
            envelope_to,
            headers,
        }
    }

    /// First top-level header with this name (case-insensitive), decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// Every `text/*` part, transfer- and charset-decoded, with its MIME type.
    pub fn texts(&self) -> Vec<(String, String)> {
        let (head, body) = split_head_body(&self.raw);
        let mut texts = Vec::new();
        collect_texts(&parse_headers(head), body, 0, &mut texts);
        texts
    }
}

fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn split_head_body(text: &str) -> (&str, &str) {
    let crlf = text.find("\r\n\r\n").map(|i| (i, 4));
    let lf = text.find("\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => {
            let (i, n) = if a.0 <= b.0 { a } else { b };
            (&text[..i], &text[i + n..])
        }
        (Some((i, n)), None) | (None, Some((i, n))) => (&text[..i], &text[i + n..]),
        (None, None) => (text, ""),
    }
}

/// Header fields in order, unfolded and trimmed, not decoded.
fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = raw.last_mut() {
                value.push_str(line); // unfolding removes only the line break
            }
        } else if let Some((name, value)) = line.split_once(':') {
            raw.push((name.trim().to_string(), value.to_string()));
        }
    }
    raw.into_iter()
        .map(|(name, value)| (name, value.trim().to_string()))
        .collect()
}

/// Decodes RFC 2047 encoded words (`=?charset?B|Q?text?=`); whitespace between two adjacent
/// encoded words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if rest.starts_with("=?")
            && let Some((decoded, used)) = decode_word(rest)
        {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used..];
            last_was_word = true;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == ' ' || c == '\t' {
            pending_space.push(c);
        } else {
            out.push_str(&pending_space);
            pending_space.clear();
            out.push(c);
            last_was_word = false;
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&pending_space);
    out
}

/// One encoded word at the start of `s`: the decoded text and how many bytes it used.
fn decode_word(s: &str) -> Option<(String, usize)> {
    let inner = &s[2..];
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains([' ', '\t']) || charset.is_empty() {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64_decode(text),
        "Q" | "q" => qp_decode(&text.replace('_', " ")),
        _ => return None,
    };
    let used = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((decode_charset(&bytes, charset), used))
}

fn decode_charset(bytes: &[u8], charset: &str) -> String {
    // RFC 2231 language suffix: utf-8*en
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
    match charset.as_str() {
        "iso-8859-1" | "latin1" | "latin-1" | "iso8859-1" | "windows-1252" | "cp1252" => {
            bytes.iter().map(|&b| char::from(b)).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue, // line breaks and other whitespace
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
    }
    out
}

fn qp_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            // soft line break "=\r\n" or "=\n"
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// `type/subtype` (lower-case) and its parameters (names lower-case, values unquoted).
fn content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = split_outside_quotes(value, ';').into_iter();
    let mime = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let params = pieces
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            Some((k.trim().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    (mime, params)
}

fn split_outside_quotes(value: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in value.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == sep && !quoted {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// Collects every `text/*` leaf of a MIME entity, in document order, decoded.
fn collect_texts(
    headers: &[(String, String)],
    body: &str,
    depth: usize,
    out: &mut Vec<(String, String)>,
) {
    let (mime, params) = content_type(header_in(headers, "Content-Type").unwrap_or("text/plain"));
    let mime = if mime.is_empty() {
        "text/plain".to_string()
    } else {
        mime
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if mime.starts_with("multipart/") {
        let Some(boundary) = param("boundary") else {
            return;
        };
        if depth > 10 {
            return;
        }
        for part in multipart_parts(body, boundary) {
            let (head, part_body) = split_head_body(&part);
            // a part with no headers starts with its blank line
            let (head, part_body) = if part.starts_with('\n') || part.starts_with("\r\n") {
                (
                    "",
                    part.trim_start_matches(['\r'])
                        .strip_prefix('\n')
                        .unwrap_or(&part),
                )
            } else {
                (head, part_body)
            };
            collect_texts(&parse_headers(head), part_body, depth + 1, out);
        }
    } else if mime.starts_with("text/") {
        let encoding = header_in(headers, "Content-Transfer-Encoding")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "base64" => base64_decode(body),
            "quoted-printable" => qp_decode(body),
            _ => body.as_bytes().to_vec(),
        };
        let text = decode_charset(&bytes, param("charset").unwrap_or("utf-8"));
        out.push((mime, text.replace("\r\n", "\n")));
    }
}

fn multipart_parts(body: &str, boundary: &str) -> Vec<String> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(after) = line.strip_prefix(&delimiter) {
            if let Some(lines) = current.take() {
                parts.push(lines.join("\n"));
            }
            if after.starts_with("--") {
                break;
            }
            current = Some(Vec::new());
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    parts
}

/// Bare addresses of an address-list header: `"Doe, Jane" <jane@x>, bob@x (Bob)` → `[jane@x, bob@x]`.
fn addresses(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut angle, mut comment) = (false, false, 0usize);
    for c in value.chars() {
        match c {
            '"' if comment == 0 => quoted = !quoted,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            '(' if !quoted => comment += 1,
            ')' if !quoted => comment = comment.saturating_sub(1),
            _ => {}
        }
        if c == ',' && !quoted && !angle && comment == 0 {
            items.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    items.push(current);
    items
        .iter()
        .filter_map(|item| {
            let address = match (item.rfind('<'), item.rfind('>')) {
                (Some(open), Some(close)) if open < close => item[open + 1..close].to_string(),
                _ => {
                    let no_comment = strip_comments(item);
                    // group syntax "name: a@b" / "undisclosed-recipients:;"
                    let bare = no_comment
                        .rsplit_once(':')
                        .map_or(no_comment.as_str(), |(_, a)| a);
                    bare.to_string()
                }
            };
            let address = address.trim().trim_end_matches(';').trim().to_string();
            (!address.is_empty()).then_some(address)
        })
        .collect()
}

fn strip_comments(item: &str) -> String {
    let mut depth = 0usize;
    item.chars()
        .filter(|&c| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ChromeDriver
// ---------------------------------------------------------------------------------------------

/// Debian's ChromeDriver on a free loopback port (driving Debian's Chromium), stopped by PID when
/// dropped. Installed by `scripts/browser-env.sh`.
pub struct ChromeDriver {
    pub port: u16,
    process: ServiceProcess,
}

impl ChromeDriver {
    pub fn start() -> Result<ChromeDriver> {
        let (process, port) = launch(
            "chromedriver",
            |_python, _dir, port| {
                let mut command = Command::new("chromedriver");
                command
                    .arg(format!("--port={port}"))
                    .arg("--allowed-ips=127.0.0.1");
                command
            },
            |port| {
                ureq::get(&format!("http://127.0.0.1:{port}/status"))
                    .call()
                    .is_ok()
            },
        )?;
        Ok(ChromeDriver { port, process })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(
            addresses(r#""Doe, Jane" <jane@x.test>, bob@x.test (Bob, B.), Carol <carol@x.test>"#),
            vec!["jane@x.test", "bob@x.test", "carol@x.test"]
        );
        assert!(addresses("undisclosed-recipients:;").is_empty());
        // decoding comes after splitting: an encoded display name may hide a comma
        let mail = ReceivedMail::parse(
            "To: =?utf-8?q?M=C3=BCller=2C_Jane?= <jane@x.test>, b@x.test\n\nhi\n",
        );
        assert_eq!(mail.to, vec!["jane@x.test", "b@x.test"]);
        assert_eq!(
            mail.header("to"),
            Some("Müller, Jane <jane@x.test>, b@x.test")
        );
        assert_eq!(mail.body, "hi\n");
        assert!(addresses("").is_empty());
    }

    #[test]
    fn decodes_encoded_words() {
        assert_eq!(
            decode_words("Zahlung =?utf-8?q?f=C3=BCr_Rechnung_=E2=82=AC5?="),
            "Zahlung für Rechnung €5"
        );
        assert_eq!(
            decode_words("=?UTF-8?B?R3LDvA==?= =?UTF-8?B?w59l?= x"),
            "Grüße x"
        );
        assert_eq!(decode_words("=?iso-8859-1?q?caf=E9?="), "café");
        assert_eq!(decode_words("plain =? text"), "plain =? text");
    }

    #[test]
    fn parses_multipart_qp_and_base64() {
        let raw = "From: Desk <desk@x.test>\r\nTo: a@x.test\r\nSubject: Hi\r\n there\r\n\
                   Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
                   Content-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\n\
                   Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   Gr=C3=BC=C3=9Fe, a long=\r\n line\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n\
                   --b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b1--\r\n";
        let mail = ReceivedMail::parse(raw);
        assert_eq!(mail.from, "desk@x.test");
        assert_eq!(mail.subject, "Hi there");
        assert_eq!(mail.body, "Grüße, a long line");

        let b64 = "Subject: x\nContent-Type: text/plain; charset=\"utf-8\"\n\
                   Content-Transfer-Encoding: base64\n\nR3LDvMOfZQpsaW5lMgo=\n";
        assert_eq!(ReceivedMail::parse(b64).body, "Grüße\nline2\n");
    }

    #[test]
    fn orders_maildir_names() {
        let mut names = [
            "1795671101.M5P9Q1.vm",
            "1795671100.M944426P3742Q2.vm",
            "1795671100.M944426P3742Q10.vm",
            "1795671100.M12P3742Q3.vm",
        ];
        names.sort_by_key(|n| maildir_key(n));
        assert_eq!(
            names,
            [
                "1795671100.M12P3742Q3.vm",
                "1795671100.M944426P3742Q2.vm",
                "1795671100.M944426P3742Q10.vm",
                "1795671101.M5P9Q1.vm"
            ]
        );
    }
}
