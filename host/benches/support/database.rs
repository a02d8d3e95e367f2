//! The database a system benchmark runs on: a SQLite file in a temp dir, or a database of a
//! throwaway PostgreSQL cluster the bench starts itself (the tests' cluster, `tests/src/postgres.rs`,
//! which the bench crate includes at its root as `crate::postgres`). For PostgreSQL it also reads
//! what the server did: transactions committed in the bench's database and the server's CPU time
//! (every server process, those that ended included).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use paydesk_host::db::{Database, DbLocation};

use crate::postgres::Cluster;

/// Which engine, from `--db`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A running bench database.
pub enum BenchDb {
    Sqlite {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Postgres {
        cluster: Cluster,
        url: String,
    },
}

impl BenchDb {
    /// A new, empty, migrated database. `durable`: a PostgreSQL cluster with its default
    /// durability (fsync and synchronous commit) instead of the throwaway settings.
    pub fn start(engine: Engine, durable: bool) -> BenchDb {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                BenchDb::Sqlite {
                    path: dir.path().join("paydesk.db"),
                    _dir: dir,
                }
            }
            Engine::Postgres => {
                let cluster = Cluster::start_with(durable)
                    .unwrap_or_else(|e| panic!("starting PostgreSQL: {e:#}"));
                let url = cluster.new_database().unwrap();
                BenchDb::Postgres { cluster, url }
            }
        }
    }

    /// What `paydesk --db` takes.
    pub fn arg(&self) -> String {
        match self {
            BenchDb::Sqlite { path, .. } => path.display().to_string(),
            BenchDb::Postgres { url, .. } => url.clone(),
        }
    }

    /// A connection pool of paydesk's own stores, for seeding.
    pub fn open(&self) -> Arc<dyn Database> {
        DbLocation::parse(&self.arg()).open().unwrap()
    }

    /// The first row of `sql`, a query of integer columns, in either engine.
    pub fn integers(&self, sql: &str) -> Vec<i64> {
        match self {
            BenchDb::Sqlite { path, .. } => {
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_row([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, Option<i64>>(i).map(|v| v.unwrap_or(0)))
                        .collect()
                })
                .unwrap()
            }
            BenchDb::Postgres { cluster, url } => {
                let name = url.rsplit('/').next().unwrap();
                let row = cluster.client(name).unwrap().query_one(sql, &[]).unwrap();
                (0..row.len())
                    .map(|i| row.get::<_, Option<i64>>(i).unwrap_or(0))
                    .collect()
            }
        }
    }

    /// What the server has done so far (PostgreSQL only).
    pub fn server_usage(&self) -> Option<ServerUsage> {
        let BenchDb::Postgres { cluster, url } = self else {
            return None;
        };
        let name = url.rsplit('/').next().unwrap();
        let mut client = cluster.client("postgres").unwrap();
        // Statistics reach the shared counters when a session ends or every second: wait for
        // the sessions of processes that just exited.
        std::thread::sleep(Duration::from_millis(1500));
        let commits: i64 = client
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                &[&name],
            )
            .unwrap()
            .get(0);
        // Transaction ids are given only to transactions that write (this one included): their
        // count, not `xact_commit`'s, which counts every statement run on its own.
        let xid: i64 = client
            .query_one("SELECT txid_current()", &[])
            .unwrap()
            .get(0);
        drop(client);
        Some(ServerUsage {
            commits: commits as u64,
            writes: xid as u64,
            cpu: tree_cpu(cluster.pid()),
        })
    }
}

/// Transactions in the bench's database and CPU time of the whole server so far.
#[derive(Debug, Clone, Copy)]
pub struct ServerUsage {
    /// Transactions committed in the bench's database, read-only statements included.
    pub commits: u64,
    /// Write transactions in the cluster (the transaction id counter).
    pub writes: u64,
    pub cpu: Duration,
}

impl ServerUsage {
    /// What happened between `before` and `self`.
    pub fn since(self, before: ServerUsage) -> ServerUsage {
        ServerUsage {
            commits: self.commits - before.commits,
            // Less the one that read the counter after `before`.
            writes: (self.writes - before.writes).saturating_sub(1),
            cpu: self.cpu.saturating_sub(before.cpu),
        }
    }
}

/// CPU time of process `pid` and all its children, ended ones included (the kernel adds a
/// reaped child's time to its parent's `cutime`/`cstime`).
fn tree_cpu(pid: u32) -> Duration {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let fields = |pid: &str| -> Option<Vec<String>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces: split after it.
        let rest = &stat[stat.rfind(')')? + 2..];
        Some(rest.split(' ').map(str::to_string).collect())
    };
    // Fields after the name, from 0: 1 = ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
    let num = |f: &[String], i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let mut total = 0;
    if let Some(f) = fields(&pid.to_string()) {
        total += num(&f, 11) + num(&f, 12) + num(&f, 13) + num(&f, 14);
    }
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Some(f) = fields(&name)
            && num(&f, 1) == u64::from(pid)
        {
            total += num(&f, 11) + num(&f, 12) + num(&f, 13) + num(&f, 14);
        }
    }
    Duration::from_millis(total * 1000 / ticks)
}
