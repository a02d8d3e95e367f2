//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temp dir, `postgres` on a free
//! 127.0.0.1 port (and its socket in that dir), and one fresh database per test host, made from a
//! migrated template. Debian's binaries (`/usr/lib/postgresql/N/bin`, the newest N); when they are
//! missing, `scripts/setup.sh postgres` installs the `postgresql` package once per process (unless
//! `PAYDESK_TEST_NO_SETUP` is set).
//!
//! PostgreSQL refuses to run as root: when the tests run as root, the cluster's directory belongs
//! to the unprivileged `postgres` user (which Debian's package creates) and `initdb` and
//! `postgres` run as that user (the spawn sets the user id before exec, and PDEATHSIG after it, so
//! the server still dies with the test process). Like every other service, the server is a child
//! of the spawner thread, stopped by its PID (SIGTERM, then SIGKILL) and reaped; the shared one is
//! stopped at exit. Settings are for throwaway data: no fsync, no synchronous commit.
//!
//! `PAYDESK_TEST_DB=postgres` makes [`crate::host::TestHost`] use a database of the shared
//! cluster instead of a SQLite file.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

/// The role the tests connect as (a superuser of the throwaway cluster, no password).
pub const USER: &str = "paydesk";
const TEMPLATE: &str = "paydesk_template";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const TERM_GRACE: Duration = Duration::from_secs(10);

/// Whether the suite runs on PostgreSQL (`PAYDESK_TEST_DB=postgres`).
pub fn selected() -> bool {
    std::env::var("PAYDESK_TEST_DB").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"))
}

/// The directory of Debian's PostgreSQL binaries, the newest version's.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The binaries, installing them first when missing (once per process).
fn binaries() -> Result<PathBuf> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| find_or_install().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn find_or_install() -> Result<PathBuf> {
    if let Some(bin) = bin_dir() {
        return Ok(bin);
    }
    let by_hand = "run `scripts/setup.sh postgres` (it installs Debian's postgresql)";
    if std::env::var_os("PAYDESK_TEST_NO_SETUP").is_some_and(|v| !v.is_empty()) {
        bail!("PostgreSQL's binaries are missing and PAYDESK_TEST_NO_SETUP is set: {by_hand}");
    }
    let script = crate::services::repo_root()
        .map(|r| r.join("scripts/setup.sh"))
        .ok_or_else(|| anyhow!("PostgreSQL's binaries are missing: {by_hand}"))?;
    let out = Command::new("bash")
        .arg(&script)
        .arg("postgres")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    match bin_dir() {
        Some(bin) if out.status.success() => Ok(bin),
        _ => bail!(
            "could not install PostgreSQL ({}): {by_hand}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The unprivileged user and group the server runs as when we are root.
fn server_user() -> Result<Option<(u32, u32)>> {
    // SAFETY: plain libc calls; getpwnam's result is read at once, before any other call.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(None);
        }
        let name = c"postgres";
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            bail!(
                "running as root, PostgreSQL needs an unprivileged user `postgres` (Debian's package creates it): run `scripts/setup.sh postgres`"
            );
        }
        Ok(Some(((*pw).pw_uid, (*pw).pw_gid)))
    }
}

fn as_server_user(command: &mut Command, user: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
}

/// A running cluster, stopped (and its directory removed) when dropped.
pub struct Cluster {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    databases: AtomicUsize,
    durable: bool,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();

impl Cluster {
    /// `initdb` a new cluster and start it on a free port, with settings for throwaway data.
    pub fn start() -> Result<Cluster> {
        Cluster::start_with(false)
    }

    /// `initdb` a new cluster and start it on a free port; `durable`: with PostgreSQL's default
    /// durability (fsync, synchronous commit, full page writes), as a benchmark that counts the
    /// cost of commits needs, instead of the throwaway settings.
    pub fn start_with(durable: bool) -> Result<Cluster> {
        let bin = binaries()?;
        let user = server_user()?;
        let dir = tempfile::Builder::new()
            .prefix("paydesk-postgres-")
            .tempdir()
            .context("creating a temp dir")?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .context("giving the cluster's directory to the postgres user")?;
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))?;
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .current_dir(dir.path())
            .stdin(Stdio::null());
        as_server_user(&mut initdb, user);
        let out = initdb.output().context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The port was free a moment ago; someone may take it first: try another.
        let mut last = None;
        for _ in 0..5 {
            let port = crate::services::free_port()?;
            let mut child = spawn_server(&bin, &data, dir.path(), port, user, durable)?;
            match wait_ready(port, &mut child, dir.path()) {
                Ok(()) => {
                    let cluster = Cluster {
                        port,
                        child,
                        dir,
                        bin,
                        user,
                        databases: AtomicUsize::new(0),
                        durable,
                    };
                    cluster.make_template()?;
                    return Ok(cluster);
                }
                Err(e) => {
                    stop_child(&mut child);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("no attempt made")))
    }

    /// The cluster shared by the whole test binary (started on first use; stopped at exit).
    pub fn shared() -> &'static Cluster {
        SHARED.get_or_init(|| {
            let cluster = Cluster::start()
                .unwrap_or_else(|e| panic!("cannot start the test PostgreSQL: {e:#}"));
            // SAFETY: registers a plain extern "C" fn without arguments.
            unsafe { libc::atexit(stop_shared) };
            cluster
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// A plain client of database `name`.
    pub fn client(&self, name: &str) -> Result<postgres::Client> {
        postgres::Client::connect(&self.url(name), postgres::NoTls)
            .with_context(|| format!("connecting to {}", self.url(name)))
    }

    fn wait_ready(&mut self) -> Result<()> {
        wait_ready(self.port, &mut self.child, self.dir.path())
    }

    /// The template every test database is copied from: migrated once, by paydesk itself.
    fn make_template(&self) -> Result<()> {
        self.client("postgres")?
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))?;
        drop(
            paydesk_host::db::PgDb::open(&self.url(TEMPLATE))
                .map_err(|e| anyhow!("migrating the template database: {e}"))?,
        );
        Ok(())
    }

    /// A new, migrated, empty database: its URL.
    pub fn new_database(&self) -> Result<String> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("paydesk_{}_{n}", std::process::id());
        // Copying the template fails while another copy of it runs: try again.
        let mut tries = 0;
        loop {
            match self.client("postgres")?.batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY"
            )) {
                Ok(()) => return Ok(self.url(&name)),
                Err(e)
                    if tries < 100 && e.to_string().contains("being accessed by other users") =>
                {
                    tries += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e).context("creating a test database"),
            }
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        fs::read(self.dir.path().join("postgres.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Stop the server (fast shutdown) and start it again on the same port and data: every
    /// connection is cut, as when PostgreSQL restarts. Returns once it answers again.
    pub fn restart(&mut self) -> Result<()> {
        stop_child(&mut self.child);
        let data = self.dir.path().join("data");
        let started = Instant::now();
        loop {
            self.child = spawn_server(
                &self.bin,
                &data,
                self.dir.path(),
                self.port,
                self.user,
                self.durable,
            )?;
            thread::sleep(Duration::from_millis(200));
            match self.child.try_wait() {
                Ok(Some(_)) if started.elapsed() < READY_TIMEOUT => continue, // port not free yet
                _ => break,
            }
        }
        self.wait_ready()
    }
}

/// Wait until the server on `port` takes connections; an error (with its log) when it exits or
/// takes too long.
fn wait_ready(port: u16, child: &mut Child, dir: &Path) -> Result<()> {
    let started = Instant::now();
    let log = || {
        fs::read(dir.join("postgres.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            bail!(
                "PostgreSQL on 127.0.0.1:{port} exited during start-up ({status}); its log:\n{}",
                log()
            );
        }
        if postgres::Client::connect(
            &format!("postgres://{USER}@127.0.0.1:{port}/postgres"),
            postgres::NoTls,
        )
        .is_ok()
        {
            return Ok(());
        }
        if started.elapsed() > READY_TIMEOUT {
            bail!(
                "PostgreSQL on 127.0.0.1:{port} did not answer within {} s; its log:\n{}",
                READY_TIMEOUT.as_secs(),
                log()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_server(
    bin: &Path,
    data: &Path,
    dir: &Path,
    port: u16,
    user: Option<(u32, u32)>,
    durable: bool,
) -> Result<Child> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("postgres.log"))?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.join("postgres.log"), Some(uid), Some(gid))?;
    }
    let mut command = Command::new(bin.join("postgres"));
    command
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir)
        .args(["-h", "127.0.0.1"])
        .args(["-c", "max_connections=600", "-c", "shared_buffers=64MB"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if !durable {
        command
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"]);
    }
    as_server_user(&mut command, user);
    crate::services::spawn_child(command).context("spawning postgres")
}

/// SIGTERM (PostgreSQL's smart shutdown waits for clients: SIGINT is the fast one), then SIGKILL.
fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: plain kill(2) on our own, not yet reaped child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let deadline = Instant::now() + TERM_GRACE;
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

extern "C" fn stop_shared() {
    if let Some(shared) = SHARED.get()
        && let Ok(pid) = libc::pid_t::try_from(shared.pid())
    {
        // SAFETY: our own child; nothing else waits for it, so its PID is still its own.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        let _ = fs::remove_dir_all(shared.dir.path());
    }
}
