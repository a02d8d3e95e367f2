//! The `paydesk` command line: clap arguments → validated [`Config`] → run. Nothing touches the
//! database before the arguments and environment are valid. Errors print as one line and exit 1.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::{App, AppConfig, DEFAULT_STRIPE_API_BASE};
use crate::capabilities::HttpConfig;
use crate::db::{Database, DbLocation};
use crate::runtime::{Limits, RuntimeConfig};
use crate::tenant::TenantId;

/// paydesk — take Stripe payments for helpdesk invoices.
#[derive(Debug, Parser)]
#[command(name = "paydesk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web app, the Stripe webhook receiver and the daily scheduler.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        #[command(flatten)]
        options: crate::serve_options::ServeOptions,
    },
    /// Run the daily integrator run once.
    Autopay {
        #[command(flatten)]
        common: Common,
        /// The day to run for (YYYY-MM-DD, each tenant's local date); default today.
        #[arg(long)]
        date: Option<String>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Seed a demo tenant and run the story against the configured Stripe, printing each step.
    Demo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        demo: crate::demo::DemoArgs,
    },
    /// Inspect the plugin component: WIT package and version, size, exports.
    Plugin {
        #[command(flatten)]
        common: Common,
    },
    /// Create a tenant with an administrator, and print the administrator's API token (once).
    Tenant {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tenant: TenantArgs,
    },
    /// List and revoke API tokens.
    Token {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: crate::token_cli::TokenCommand,
    },
}

/// Options of `paydesk tenant`.
#[derive(Debug, Args, Clone)]
pub struct TenantArgs {
    /// Tenant id (lower-case letters, digits, dashes).
    #[arg(long)]
    pub tenant: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// The mailbox invoices and payment emails are sent from.
    #[arg(long)]
    pub mailbox: String,
    /// The administrator's name.
    #[arg(long)]
    pub admin_name: String,
    /// The administrator's email.
    #[arg(long)]
    pub admin_email: String,
    /// The administrator's password for the web pages (at least 10 characters).
    #[arg(long, env = "PAYDESK_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
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

fn init_logging(default: &str) {
    crate::logging::init(default);
}

/// Parse, run, and print any error as one line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paydesk: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            options,
        } => {
            init_logging("info");
            let config = Config::from_common(&common)?;
            let web = options.web(&config.stripe_js_url);
            crate::web::serve(config, listen, web, options.limits())
        }
        Command::Autopay {
            common,
            date,
            dry_run,
            tenant,
            json,
        } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            if let Some(d) = &date {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .with_context(|| format!("--date `{d}` is not a date (YYYY-MM-DD)"))?;
            }
            let tenant = tenant
                .map(|t| TenantId::parse(&t).map_err(anyhow::Error::msg))
                .transpose()?;
            let app = config.app()?;
            if let Some(t) = &tenant {
                app.db()
                    .tenant(t)
                    .with_context(|| format!("--tenant {t}"))?;
            }
            crate::autopay_cli::run(
                &app,
                &crate::autopay_cli::AutopayArgs {
                    date,
                    dry_run,
                    tenant,
                    json,
                },
            )
        }
        Command::Demo { common, demo } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            crate::demo::run(&config, &demo)
        }
        Command::Plugin { common } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            print_plugin(&config)
        }
        Command::Tenant { common, tenant } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            create_tenant(&config, &tenant)
        }
        Command::Token { common, command } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            crate::token_cli::run(config.open_db()?.as_ref(), &command)
        }
    }
}

fn create_tenant(config: &Config, args: &TenantArgs) -> anyhow::Result<()> {
    use crate::db::{NewAgent, Principal};
    let id = TenantId::parse(&args.tenant).map_err(anyhow::Error::msg)?;
    for (flag, value) in [
        ("--mailbox", &args.mailbox),
        ("--admin-email", &args.admin_email),
    ] {
        if !value.contains('@') {
            bail!("{flag} `{value}` is not an email address");
        }
    }
    if args
        .admin_password
        .as_ref()
        .is_some_and(|p| p.chars().count() < 10)
    {
        bail!("--admin-password needs at least 10 characters");
    }
    let db = config.open_db()?;
    db.create_tenant(&id, &args.name, &args.mailbox)?;
    let admin = db.create_agent(
        &id,
        &NewAgent {
            name: args.admin_name.clone(),
            email: args.admin_email.clone(),
            can_receive_manual_stripe_payments: true,
            is_admin: true,
        },
    )?;
    if let Some(password) = &args.admin_password {
        db.set_password(&id, &Principal::Agent(admin.clone()), password)?;
    }
    let token = db.create_token(&id, &Principal::Agent(admin), "created by `paydesk tenant`")?;
    println!(
        "tenant {id} created with administrator {}",
        args.admin_email
    );
    println!("API token (shown once; send as `Authorization: Bearer …`):");
    println!("{}", token.expose());
    Ok(())
}

fn print_plugin(config: &Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let runtime = crate::runtime::Runtime::new(config.runtime_config())?;
    let load = started.elapsed();
    let info = runtime.describe();
    println!("package     {}", info.package);
    println!("version     {}", info.version);
    println!(
        "size        {} bytes ({} KiB)",
        info.size,
        info.size.div_ceil(1024)
    );
    println!("sha256      {}", info.sha256);
    println!(
        "loaded      {:?} in {} ms ({})",
        runtime.loaded_from(),
        load.as_millis(),
        config.cache_dir.display()
    );
    println!("exports");
    for e in &info.exports {
        println!("  {e}");
    }
    println!("imports");
    for i in &info.imports {
        println!("  {i}");
    }
    Ok(())
}
