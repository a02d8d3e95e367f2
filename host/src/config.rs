//! The options every `paydesk` subcommand shares ([`Common`], read by clap from flags and the
//! environment) and their validated form ([`Config`]): where the database is, where Stripe and
//! Stripe.js are, the plugin cache, the daily run's workers, the platform's sandbox limits and the
//! outgoing request limits. It opens the database and builds the [`App`]; it never runs a
//! subcommand.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::app::{App, AppConfig, DEFAULT_STRIPE_API_BASE};
use crate::capabilities::HttpConfig;
use crate::db::{Database, DbLocation};
use crate::runtime::{Limits, RuntimeConfig};

/// Options every subcommand takes.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// The database: a SQLite file (created and migrated if needed) or a PostgreSQL URL,
    /// `postgres://user:password@host:port/dbname` (migrated if needed).
    #[arg(
        long,
        global = true,
        env = "PAYDESK_DATABASE_URL",
        hide_env_values = true,
        default_value = "./paydesk.db"
    )]
    pub db: String,
    /// Stripe API base the plugin's requests go to.
    #[arg(long, global = true, env = "PAYDESK_STRIPE_API_BASE", default_value = DEFAULT_STRIPE_API_BASE)]
    pub stripe_api_base: String,
    /// Stripe.js URL the pages load.
    #[arg(
        long,
        global = true,
        env = "PAYDESK_STRIPE_JS_URL",
        default_value = "https://js.stripe.com/v3/"
    )]
    pub stripe_js_url: String,
    /// Directory for the precompiled plugin (default: `.paydesk-cache` beside the database).
    #[arg(long, global = true, env = "PAYDESK_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Plugin calls the daily run makes at a time, all tenants together (1 to 128).
    #[arg(long, global = true, env = "PAYDESK_AUTOPAY_WORKERS", default_value_t = crate::app::DEFAULT_AUTOPAY_WORKERS as u16,
          value_parser = clap::value_parser!(u16).range(1..=128))]
    pub autopay_workers: u16,
}

/// Validated settings shared by the subcommands.
pub struct Config {
    pub db: DbLocation,
    pub stripe_api_base: String,
    pub stripe_js_url: String,
    pub cache_dir: PathBuf,
    pub autopay_workers: usize,
    /// The platform's sandbox limits (`PAYDESK_PLUGIN_*`).
    pub limits: Limits,
    /// Outgoing Stripe request limits (`PAYDESK_STRIPE_*`).
    pub http: HttpConfig,
}

impl Config {
    pub fn from_common(c: &Common) -> anyhow::Result<Config> {
        for (name, url) in [
            ("PAYDESK_STRIPE_API_BASE", &c.stripe_api_base),
            ("PAYDESK_STRIPE_JS_URL", &c.stripe_js_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("{name} must be an http(s) URL, got `{url}`");
            }
        }
        let db = DbLocation::parse(&c.db);
        let cache_dir = c.cache_dir.clone().unwrap_or_else(|| {
            db.directory()
                .unwrap_or(std::path::Path::new("."))
                .join(".paydesk-cache")
        });
        Ok(Config {
            db,
            stripe_api_base: c.stripe_api_base.trim_end_matches('/').to_string(),
            stripe_js_url: c.stripe_js_url.clone(),
            cache_dir,
            autopay_workers: usize::from(c.autopay_workers),
            limits: platform_limits(&|name| std::env::var(name).ok())?,
            http: http_config()?,
        })
    }

    pub fn open_db(&self) -> anyhow::Result<std::sync::Arc<dyn Database>> {
        self.db
            .open()
            .with_context(|| format!("opening database {}", self.db.display()))
    }

    pub fn runtime_config(&self) -> RuntimeConfig {
        RuntimeConfig {
            wasm: None,
            cache_dir: Some(self.cache_dir.clone()),
            limits: self.limits.clone(),
        }
    }

    pub fn app(&self) -> anyhow::Result<App> {
        App::new(
            self.open_db()?,
            AppConfig {
                stripe_api_base: self.stripe_api_base.clone(),
                public_url: std::env::var("PAYDESK_PUBLIC_URL")
                    .ok()
                    .filter(|u| !u.is_empty()),
                runtime: self.runtime_config(),
                http: self.http.clone(),
                autopay_workers: self.autopay_workers,
            },
        )
    }
}

/// A whole number from the variable `name` within `range`, or `default` when unset; the error
/// names the variable, the range (in `unit`) and what it got.
fn number_in<T>(
    env: &dyn Fn(&str) -> Option<String>,
    name: &str,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
    default: T,
) -> anyhow::Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(v) = env(name) else {
        return Ok(default);
    };
    v.trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .with_context(|| {
            format!(
                "{name} must be a number{unit} from {} to {}, got `{v}`",
                range.start(),
                range.end()
            )
        })
}

/// The platform's sandbox limits from `PAYDESK_PLUGIN_MEMORY_MIB`, `PAYDESK_PLUGIN_MEMORY_SLOT_MIB`,
/// `PAYDESK_PLUGIN_FUEL`, `PAYDESK_PLUGIN_DEADLINE_SECONDS`, `PAYDESK_PLUGIN_INSTANCES` and
/// `PAYDESK_PLUGIN_INSTANCES_PER_TENANT` (each unset: [`Limits::default`]).
pub fn platform_limits(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Limits> {
    let d = Limits::default();
    let memory_mib = number_in(
        env,
        "PAYDESK_PLUGIN_MEMORY_MIB",
        1..=4096u64,
        " of MiB",
        (d.memory_bytes >> 20) as u64,
    )?;
    let slot_mib = number_in(
        env,
        "PAYDESK_PLUGIN_MEMORY_SLOT_MIB",
        1..=4096u64,
        " of MiB",
        ((d.memory_slot_bytes >> 20) as u64).max(memory_mib),
    )?;
    if slot_mib < memory_mib {
        bail!(
            "PAYDESK_PLUGIN_MEMORY_SLOT_MIB ({slot_mib}) must be at least PAYDESK_PLUGIN_MEMORY_MIB ({memory_mib}): no call may have more memory than the engine's slot"
        );
    }
    let instances = number_in(
        env,
        "PAYDESK_PLUGIN_INSTANCES",
        2..=4096u32,
        "",
        d.concurrent_instances,
    )?;
    let per_tenant_default = d.instances_per_tenant.min(instances - 1);
    let per_tenant = number_in(
        env,
        "PAYDESK_PLUGIN_INSTANCES_PER_TENANT",
        1..=instances - 1,
        " (below PAYDESK_PLUGIN_INSTANCES, so one tenant cannot take every slot)",
        per_tenant_default,
    )?;
    Ok(Limits {
        memory_bytes: usize::try_from(memory_mib << 20)?,
        memory_slot_bytes: usize::try_from(slot_mib << 20)?,
        fuel: number_in(env, "PAYDESK_PLUGIN_FUEL", 1..=i64::MAX as u64, "", d.fuel)?,
        deadline: std::time::Duration::from_secs(number_in(
            env,
            "PAYDESK_PLUGIN_DEADLINE_SECONDS",
            1..=3600u64,
            " of seconds",
            d.deadline.as_secs(),
        )?),
        concurrent_instances: instances,
        instances_per_tenant: per_tenant,
        ..d
    })
}

/// Outgoing Stripe request limits, from `PAYDESK_STRIPE_TIMEOUT_SECONDS` (whole request, default
/// 60), `PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS` (default 10) and
/// `PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND` (per Stripe account, every host together, unless the
/// tenant has its own limit; default no limit of ours).
fn http_config() -> anyhow::Result<HttpConfig> {
    let mut config = HttpConfig::default();
    for (name, slot) in [
        ("PAYDESK_STRIPE_TIMEOUT_SECONDS", &mut config.timeout),
        (
            "PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS",
            &mut config.connect_timeout,
        ),
    ] {
        if let Ok(v) = std::env::var(name) {
            let secs: u64 = v
                .trim()
                .parse()
                .ok()
                .filter(|s| (1..=600).contains(s))
                .with_context(|| {
                    format!("{name} must be a number of seconds from 1 to 600, got `{v}`")
                })?;
            *slot = std::time::Duration::from_secs(secs);
        }
    }
    if let Ok(v) = std::env::var("PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND") {
        let limit: u32 = v
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .with_context(|| {
                format!(
                    "PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND must be a number from 1 to 10000, got `{v}`"
                )
            })?;
        config.max_requests_per_second = std::num::NonZeroU32::new(limit);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(vars: &[(&str, &str)]) -> anyhow::Result<Limits> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        platform_limits(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn platform_limits_default_when_unset_and_read_each_variable() {
        let d = limits(&[]).unwrap();
        assert_eq!(d.memory_bytes, Limits::default().memory_bytes);
        assert_eq!(
            d.instances_per_tenant,
            Limits::default().instances_per_tenant
        );
        let l = limits(&[
            ("PAYDESK_PLUGIN_MEMORY_MIB", "32"),
            ("PAYDESK_PLUGIN_MEMORY_SLOT_MIB", "128"),
            ("PAYDESK_PLUGIN_FUEL", "1000000"),
            ("PAYDESK_PLUGIN_DEADLINE_SECONDS", "30"),
            ("PAYDESK_PLUGIN_INSTANCES", "64"),
            ("PAYDESK_PLUGIN_INSTANCES_PER_TENANT", "4"),
        ])
        .unwrap();
        assert_eq!(
            (l.memory_bytes, l.memory_slot_bytes, l.fuel, l.deadline),
            (
                32 << 20,
                128 << 20,
                1_000_000,
                std::time::Duration::from_secs(30)
            )
        );
        assert_eq!((l.concurrent_instances, l.instances_per_tenant), (64, 4));
        // A larger default memory raises the default slot with it.
        let big = limits(&[("PAYDESK_PLUGIN_MEMORY_MIB", "512")]).unwrap();
        assert_eq!(big.memory_slot_bytes, 512 << 20);
        // A small pool lowers the default per-tenant share below it.
        let small = limits(&[("PAYDESK_PLUGIN_INSTANCES", "8")]).unwrap();
        assert_eq!(small.instances_per_tenant, 7);
    }

    #[test]
    fn bad_platform_limits_are_refused_naming_the_variable() {
        for (vars, says) in [
            (
                vec![("PAYDESK_PLUGIN_MEMORY_MIB", "lots")],
                "PAYDESK_PLUGIN_MEMORY_MIB must be a number of MiB from 1 to 4096, got `lots`",
            ),
            (
                vec![
                    ("PAYDESK_PLUGIN_MEMORY_MIB", "128"),
                    ("PAYDESK_PLUGIN_MEMORY_SLOT_MIB", "64"),
                ],
                "must be at least PAYDESK_PLUGIN_MEMORY_MIB",
            ),
            (
                vec![("PAYDESK_PLUGIN_DEADLINE_SECONDS", "0")],
                "PAYDESK_PLUGIN_DEADLINE_SECONDS must be a number of seconds from 1 to 3600",
            ),
            (vec![("PAYDESK_PLUGIN_FUEL", "-5")], "PAYDESK_PLUGIN_FUEL"),
            (
                vec![
                    ("PAYDESK_PLUGIN_INSTANCES", "16"),
                    ("PAYDESK_PLUGIN_INSTANCES_PER_TENANT", "16"),
                ],
                "PAYDESK_PLUGIN_INSTANCES_PER_TENANT must be a number (below PAYDESK_PLUGIN_INSTANCES, so one tenant cannot take every slot) from 1 to 15, got `16`",
            ),
        ] {
            let err = format!("{:#}", limits(&vars).unwrap_err());
            assert!(err.contains(says), "{err}");
        }
    }
}
