//! Where the database is: a SQLite file (a path, the default `./paydesk.db`) or a PostgreSQL
//! server (`postgres://user:pass@host:port/dbname`), from `--db` or `PAYDESK_DATABASE_URL`. What
//! is shown of a PostgreSQL URL never includes its password.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::postgres::{is_postgres_url, redact_url};
use super::{Database, DbResult, PgDb, SqliteDb};

/// The database a command opens.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl DbLocation {
    /// A `postgres://` or `postgresql://` URL, or else a SQLite file path.
    pub fn parse(db: &str) -> DbLocation {
        if is_postgres_url(db) {
            DbLocation::Postgres(db.to_string())
        } else {
            DbLocation::Sqlite(PathBuf::from(db))
        }
    }

    /// What messages may show: the path, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            DbLocation::Sqlite(path) => path.display().to_string(),
            DbLocation::Postgres(url) => redact_url(url),
        }
    }

    /// The SQLite file's directory (`None` for PostgreSQL).
    pub fn directory(&self) -> Option<&Path> {
        match self {
            DbLocation::Sqlite(path) => Some(
                path.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(".")),
            ),
            DbLocation::Postgres(_) => None,
        }
    }

    /// Open (creating and migrating as needed).
    pub fn open(&self) -> DbResult<Arc<dyn Database>> {
        Ok(match self {
            DbLocation::Sqlite(path) => Arc::new(SqliteDb::open(path)?),
            DbLocation::Postgres(url) => Arc::new(PgDb::open(url)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_postgres_and_anything_else_is_a_file() {
        assert!(matches!(
            DbLocation::parse("postgres://u:p@h:5432/d"),
            DbLocation::Postgres(_)
        ));
        assert!(matches!(
            DbLocation::parse("postgresql://h/d"),
            DbLocation::Postgres(_)
        ));
        assert_eq!(
            DbLocation::parse("./paydesk.db"),
            DbLocation::Sqlite(PathBuf::from("./paydesk.db"))
        );
        assert_eq!(
            DbLocation::parse("postgres.db"),
            DbLocation::Sqlite(PathBuf::from("postgres.db"))
        );
        let shown = format!(
            "{:?} {}",
            DbLocation::parse("postgres://u:pw1@h/d"),
            DbLocation::parse("postgres://u:pw1@h/d").display()
        );
        assert!(!shown.contains("pw1"), "{shown}");
    }
}
