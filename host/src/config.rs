//! The options every `paydesk` subcommand shares ([`Common`], read by clap from flags and the
//! environment) and their validated form ([`Config`]): where the database is, where Stripe and
//! Stripe.js are, the plugin cache, the daily run's workers, and the outgoing request limits. It
//! opens the database and builds the [`App`]; it never runs a subcommand.

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
            limits: Limits::default(),
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
                http: http_config()?,
                autopay_workers: self.autopay_workers,
            },
        )
    }
}

/// Outgoing Stripe request limits, from `PAYDESK_STRIPE_TIMEOUT_SECONDS` (whole request, default
/// 60), `PAYDESK_STRIPE_CONNECT_TIMEOUT_SECONDS` (default 10) and
/// `PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND` (all tenants together; default no limit of ours).
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
