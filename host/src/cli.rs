//! The `paydesk` command line: clap arguments → validated [`Config`] (in [`crate::config`]) → run. Nothing touches the
//! database before the arguments and environment are valid. Errors print as one line and exit 1.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

pub use crate::config::{Common, Config};
use crate::tenant::TenantId;

/// paydesk — take Stripe payments for helpdesk invoices.
#[derive(Debug, Parser)]
#[command(name = "paydesk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
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
        /// Take part in the day's shared run, as `serve`'s scheduler does: run only the tenants
        /// whose day no host has taken or finished, and leave the rest to their hosts. Without it,
        /// a tenant another host is running is waited for, and a finished day is run again. Tenants left to another host are
        /// listed as such (JSON lists only the tenants this run ran).
        #[arg(long, conflicts_with = "dry_run")]
        join: bool,
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
    /// Inspect the plugin component (WIT package and contract version, size, exports), or manage
    /// the registry of plugin versions every host reads: `add`, `list`, `use`.
    #[command(args_conflicts_with_subcommands = true)]
    Plugin {
        #[command(flatten)]
        common: Common,
        /// Inspect this component file instead of the embedded one (repeatable); each is loaded as
        /// the host would load it, so a contract line the host doesn't serve is reported as refused.
        #[arg(long = "wasm", value_name = "FILE")]
        wasm: Vec<std::path::PathBuf>,
        #[command(subcommand)]
        command: Option<crate::plugin_cli::PluginCommand>,
    },
    /// Create a tenant with an administrator, and print the administrator's API token (once).
    Tenant {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        tenant: TenantArgs,
    },
    /// Show, set and clear tenants' own sandbox and Stripe limits (memory, fuel, deadline,
    /// instances, Stripe requests per second) over the platform defaults.
    Limits {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        command: crate::limits_cli::LimitsCommand,
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
            let web = options.web(&config.stripe_js_url)?;
            crate::web::serve(config, listen, web, options.limits())
        }
        Command::Autopay {
            common,
            date,
            dry_run,
            join,
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
                    join,
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
        Command::Plugin {
            common,
            command: Some(command),
            ..
        } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            let app = config.app()?;
            let limits = |out: &mut dyn std::io::Write| {
                crate::limits_cli::run(
                    app.db(),
                    &config.limits,
                    config.http.max_requests_per_second,
                    &crate::limits_cli::LimitsCommand::Show { tenant: None },
                    out,
                )
            };
            crate::plugin_cli::run(&app, &command, limits, &mut std::io::stdout().lock())
        }
        Command::Plugin {
            common,
            wasm,
            command: None,
        } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            if wasm.is_empty() {
                return print_plugin(&config, None);
            }
            for (i, file) in wasm.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                println!("file        {}", file.display());
                let bytes = std::fs::read(file)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
                print_plugin(&config, Some(bytes))?;
            }
            Ok(())
        }
        Command::Tenant { common, tenant } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            create_tenant(&config, &tenant)
        }
        Command::Limits { common, command } => {
            init_logging("warn");
            let config = Config::from_common(&common)?;
            crate::limits_cli::run(
                config.open_db()?.as_ref(),
                &config.limits,
                config.http.max_requests_per_second,
                &command,
                &mut std::io::stdout().lock(),
            )
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

fn print_plugin(config: &Config, wasm: Option<Vec<u8>>) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let runtime = crate::runtime::Runtime::new(crate::runtime::RuntimeConfig {
        wasm,
        ..config.runtime_config()
    })?;
    let load = started.elapsed();
    let info = runtime.describe();
    println!("package     {}", info.package);
    println!("version     {}", info.version);
    println!("contract    {} line", runtime.contract_line());
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
