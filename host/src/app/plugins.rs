//! The plugin registry as the platform's administrators use it (`paydesk plugin …` and
//! `/v1/platform/plugins`): add a component (it must load and link on this host: a supported
//! contract line), list what is registered and which tenants run each, move tenants to a version
//! (named ones, all, or a stable percentage) and roll the last move back. The moves are the
//! database's ([`crate::db::PluginStore`]): one transaction each, seen by every host at the
//! tenant's next call.

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::App;
use crate::db::{DbError, NewPlugin, PluginRecord, PluginRollout, Tenant};
use crate::tenant::TenantId;

/// The name of the binary's embedded component in the registry's listings and moves.
pub const EMBEDDED: &str = "embedded";

/// Why a registry operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request itself is wrong (a component that doesn't load here, an unknown version, a
    /// bad selection); nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// It collides with what is registered (the same bytes or version name).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for RegistryError {
    fn from(e: DbError) -> RegistryError {
        match e {
            DbError::Conflict(m) => RegistryError::Conflict(m),
            DbError::NotFound(m) | DbError::Invalid(m) => RegistryError::Invalid(m),
            other => RegistryError::Db(other),
        }
    }
}

/// Which tenants a move takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Tenants(Vec<TenantId>),
    All,
    /// The tenants whose stable bucket ([`rollout_bucket`]) is below this share, in percent
    /// (0.01 to 100): raising it later keeps the tenants it took and adds more.
    Percent(Decimal),
}

impl Selection {
    /// A percentage as given (`10`, `12.5`), checked: above 0, at most 100, two decimals.
    pub fn percent(text: &str) -> Result<Selection, RegistryError> {
        let p: Decimal = text.trim().trim_end_matches('%').parse().map_err(|_| {
            RegistryError::Invalid(format!("`{text}` is not a percentage (e.g. 10 or 12.5)"))
        })?;
        if p <= Decimal::ZERO || p > Decimal::ONE_HUNDRED || p.normalize().scale() > 2 {
            return Err(RegistryError::Invalid(format!(
                "a percentage of tenants is above 0 and at most 100, with at most two decimals (not {text})"
            )));
        }
        Ok(Selection::Percent(p.normalize()))
    }

    /// How the selection reads in the rollout's record.
    pub fn describe(&self) -> String {
        match self {
            Selection::Tenants(t) => format!(
                "--tenant {}",
                t.iter().map(TenantId::as_str).collect::<Vec<_>>().join(",")
            ),
            Selection::All => "--all".into(),
            Selection::Percent(p) => format!("--percent {p}"),
        }
    }

    /// The tenants of `all` it takes.
    fn pick(&self, all: &[Tenant]) -> Result<Vec<TenantId>, RegistryError> {
        Ok(match self {
            Selection::Tenants(t) => {
                if t.is_empty() {
                    return Err(RegistryError::Invalid("no tenant named".into()));
                }
                t.clone()
            }
            Selection::All => all.iter().map(|t| t.id.clone()).collect(),
            Selection::Percent(p) => {
                // Buckets are hundredths of a percent: 0..10000.
                let below = (*p * Decimal::ONE_HUNDRED)
                    .trunc()
                    .try_into()
                    .unwrap_or(0u64);
                all.iter()
                    .filter(|t| rollout_bucket(&t.id) < below)
                    .map(|t| t.id.clone())
                    .collect()
            }
        })
    }
}

/// A tenant's place in percentage rollouts, 0 to 9999 (hundredths of a percent), from its id
/// alone: the same on every host and for every version, so a 10 % rollout and a later 50 % one
/// take the same first tenants.
pub fn rollout_bucket(tenant: &TenantId) -> u64 {
    let digest = Sha256::new()
        .chain_update(b"paydesk plugin rollout\0")
        .chain_update(tenant.as_str().as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 10_000
}

/// One version in the registry's listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionListing {
    /// Its name (`embedded` for the binary's own component).
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub contract_version: String,
    /// When it was added (Unix seconds); `None` for the embedded one.
    pub added_at: Option<i64>,
    /// The tenants that run it.
    pub tenants: Vec<TenantId>,
}

/// A move or rollback as reported: the version moved to and the tenants that moved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MoveReport {
    /// The rollout's number (what a rollback names).
    pub rollout: i64,
    pub version: String,
    pub selection: String,
    /// Each tenant moved, with the version it was on.
    pub moved: Vec<MovedTenant>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MovedTenant {
    pub tenant: TenantId,
    pub from: String,
}

/// A version name as given to `plugin add`: 1 to 64 letters, digits and `.` `_` `-` `+`.
fn check_version_name(name: &str) -> Result<(), RegistryError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'));
    if !ok {
        return Err(RegistryError::Invalid(format!(
            "`{name}` is not a version name (1 to 64 letters, digits, `.`, `_`, `-`, `+`)"
        )));
    }
    if name == EMBEDDED {
        return Err(RegistryError::Invalid(format!(
            "`{EMBEDDED}` names the binary's own component; choose another version name"
        )));
    }
    Ok(())
}

impl App {
    /// Check `wasm` loads and links here (a paydesk plugin of a contract line this host serves;
    /// it is compiled once, by content hash) and store it as `version` (default: its contract
    /// version and short hash, as the metrics name it). Refused, with nothing stored, otherwise.
    pub fn add_plugin(
        &self,
        wasm: &[u8],
        version: Option<&str>,
    ) -> Result<PluginRecord, RegistryError> {
        let loaded = self.runtime.load(wasm).map_err(|e| {
            // One line: a parser's report may go on with the offending text and a caret.
            let why = format!("{e:#}");
            let why = why.lines().next().unwrap_or_default().trim_end();
            RegistryError::Invalid(format!("the component was refused: {why}"))
        })?;
        if loaded.sha256() == self.runtime.default_plugin().sha256() {
            return Err(RegistryError::Conflict(format!(
                "this component is the binary's embedded one (sha256 {}); tenants run it unless moved",
                loaded.sha256()
            )));
        }
        let label = loaded.label().as_str().to_string();
        let version = version.unwrap_or(&label);
        check_version_name(version)?;
        Ok(self.db().add_plugin(&NewPlugin {
            sha256: loaded.sha256(),
            version,
            contract_version: loaded.contract_version(),
            wasm,
        })?)
    }

    /// Every version: the embedded one first, then the registered ones, each with its tenants.
    pub fn plugin_versions(&self) -> Result<Vec<VersionListing>, RegistryError> {
        let tenants = self.db().tenants()?;
        let on = |sha: Option<&str>| -> Vec<TenantId> {
            tenants
                .iter()
                .filter(|t| t.plugin.as_deref() == sha)
                .map(|t| t.id.clone())
                .collect()
        };
        let default = self.runtime.default_plugin();
        let mut list = vec![VersionListing {
            version: EMBEDDED.into(),
            sha256: default.sha256().into(),
            size: default.size() as u64,
            contract_version: default.contract_version().into(),
            added_at: None,
            tenants: on(None),
        }];
        for p in self.db().plugins()? {
            list.push(VersionListing {
                tenants: on(Some(&p.sha256)),
                version: p.version,
                sha256: p.sha256,
                size: p.size,
                contract_version: p.contract_version,
                added_at: Some(p.added_at),
            });
        }
        Ok(list)
    }

    /// The registered component `version` names: its name, `embedded` (`None`), or the start of
    /// its hash (8 hex digits or more, one match).
    fn resolve_version(
        &self,
        version: &str,
        registered: &[PluginRecord],
    ) -> Result<Option<String>, RegistryError> {
        if version == EMBEDDED {
            return Ok(None);
        }
        if let Some(p) = registered.iter().find(|p| p.version == version) {
            return Ok(Some(p.sha256.clone()));
        }
        let hex = version.len() >= 8 && version.chars().all(|c| c.is_ascii_hexdigit());
        let matches: Vec<&PluginRecord> = registered
            .iter()
            .filter(|p| hex && p.sha256.starts_with(&version.to_ascii_lowercase()))
            .collect();
        match matches.as_slice() {
            [one] => Ok(Some(one.sha256.clone())),
            [] => Err(RegistryError::Invalid(format!(
                "no plugin version `{version}` in the registry (`paydesk plugin list` shows them)"
            ))),
            _ => Err(RegistryError::Invalid(format!(
                "`{version}` starts the hash of several versions; give more of it"
            ))),
        }
    }

    /// Move the tenants `selection` takes to `version`, after checking it loads on this host;
    /// `None` when all of them run it already (nothing recorded).
    pub fn use_plugin(
        &self,
        version: &str,
        selection: &Selection,
    ) -> Result<Option<MoveReport>, RegistryError> {
        let registered = self.db().plugins()?;
        let target = self.resolve_version(version, &registered)?;
        if let Some(sha) = &target
            && let Some((_, why)) = self
                .runtime
                .preload(&self.services, std::slice::from_ref(sha))
                .into_iter()
                .next()
        {
            return Err(RegistryError::Invalid(format!(
                "version {version} does not load on this host, so no tenant was moved: {why}"
            )));
        }
        let chosen = selection.pick(&self.db().tenants()?)?;
        if chosen.is_empty() {
            return Ok(None);
        }
        let rollout = self
            .db()
            .move_tenants(target.as_deref(), &chosen, &selection.describe())?;
        Ok(rollout.map(|r| report(&r, &registered)))
    }

    /// Undo the latest move not undone yet: its tenants go back to where they were.
    pub fn roll_back_plugins(&self) -> Result<Option<MoveReport>, RegistryError> {
        let registered = self.db().plugins()?;
        Ok(self
            .db()
            .roll_back_plugins()?
            .map(|r| report(&r, &registered)))
    }
}

/// The name of the component `sha` (`None`: the embedded one).
fn name_of(sha: Option<&str>, registered: &[PluginRecord]) -> String {
    match sha {
        None => EMBEDDED.into(),
        Some(sha) => registered
            .iter()
            .find(|p| p.sha256 == sha)
            .map(|p| p.version.clone())
            .unwrap_or_else(|| sha.to_string()),
    }
}

fn report(rollout: &PluginRollout, registered: &[PluginRecord]) -> MoveReport {
    MoveReport {
        rollout: rollout.id,
        version: name_of(rollout.plugin.as_deref(), registered),
        selection: rollout.selection.clone(),
        moved: rollout
            .moved
            .iter()
            .map(|(tenant, from)| MovedTenant {
                tenant: tenant.clone(),
                from: name_of(from.as_deref(), registered),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_spread() {
        let ids: Vec<TenantId> = (0..2000)
            .map(|i| TenantId::parse(&format!("tenant-{i}")).unwrap())
            .collect();
        let first: Vec<u64> = ids.iter().map(rollout_bucket).collect();
        assert_eq!(first, ids.iter().map(rollout_bucket).collect::<Vec<_>>());
        assert!(first.iter().all(|b| *b < 10_000));
        // Roughly a tenth of them fall below 10 %.
        let tenth = first.iter().filter(|b| **b < 1000).count();
        assert!((120..=280).contains(&tenth), "{tenth} of 2000 below 10 %");
    }

    #[test]
    fn a_larger_percentage_keeps_the_tenants_a_smaller_one_took() {
        let tenants: Vec<Tenant> = (0..500)
            .map(|i| Tenant {
                id: TenantId::parse(&format!("t{i}")).unwrap(),
                name: String::new(),
                settings: Default::default(),
                invoice_mailbox: String::new(),
                has_secret_key: false,
                has_webhook_secret: false,
                autopay_last_run: None,
                autopay_last_error: None,
                limits: Default::default(),
                plugin: None,
            })
            .collect();
        let ten = Selection::percent("10").unwrap().pick(&tenants).unwrap();
        let fifty = Selection::percent("50%").unwrap().pick(&tenants).unwrap();
        let all = Selection::percent("100").unwrap().pick(&tenants).unwrap();
        assert!(!ten.is_empty() && ten.len() < fifty.len() && fifty.len() < all.len());
        assert!(ten.iter().all(|t| fifty.contains(t)));
        assert_eq!(all.len(), 500);
    }

    #[test]
    fn percentages_and_version_names_are_checked() {
        for bad in ["0", "-5", "100.5", "12.345", "ten", ""] {
            assert!(Selection::percent(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Selection::percent("12.50").unwrap().describe(),
            "--percent 12.5"
        );
        for bad in ["", "embedded", "a b", "x/y", &"v".repeat(65)] {
            assert!(check_version_name(bad).is_err(), "{bad}");
        }
        check_version_name("1.4.0-rc.1+build.7").unwrap();
    }
}
