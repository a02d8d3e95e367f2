//! `paydesk plugin add | list | use`: the plugin registry from the command line ([`crate::app::plugins`]).
//! A component is checked by loading it as this host would before anything is stored; a move is
//! checked by loading the version here before any tenant moves. Running hosts see a move at each
//! tenant's next call.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use crate::app::App;
use crate::app::plugins::{MoveReport, Selection, VersionListing};
use crate::tenant::TenantId;

/// Tenants listed by name in the table before the rest are counted.
const TENANTS_SHOWN: usize = 8;

/// What `paydesk plugin` does besides describing a component.
#[derive(Debug, Subcommand, Clone)]
pub enum PluginCommand {
    /// Check a component (a paydesk plugin of a contract line this host serves) and store it in
    /// the registry every host reads; no tenant runs it until `plugin use` moves some.
    Add {
        /// The component file.
        file: PathBuf,
        /// The name to use it by (default: its contract version and short hash).
        #[arg(long)]
        version: Option<String>,
    },
    /// The versions: the embedded component and every registered one, with hash, size, contract
    /// version and the tenants that run each.
    List {
        /// Also show the platform's sandbox limits and each tenant's own (as `paydesk limits show`).
        #[arg(long)]
        limits: bool,
        /// Print JSON (every tenant of every version) instead of a table.
        #[arg(long, conflicts_with = "limits")]
        json: bool,
    },
    /// Move tenants to a version (`embedded` for the binary's own), or roll the latest move back.
    #[command(group(
        clap::ArgGroup::new("which").required(true).args(["tenant", "all", "percent", "rollback"])
    ))]
    Use {
        /// The version's name, `embedded`, or the start of its hash (8 hex digits or more).
        #[arg(required_unless_present = "rollback", conflicts_with = "rollback")]
        version: Option<String>,
        /// These tenants (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        tenant: Vec<String>,
        /// Every tenant.
        #[arg(long)]
        all: bool,
        /// A stable share of the tenants, in percent (e.g. 10): a larger one later keeps them.
        #[arg(long)]
        percent: Option<String>,
        /// Undo the latest move not undone yet: its tenants go back to where they were.
        #[arg(long)]
        rollback: bool,
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(
    app: &App,
    command: &PluginCommand,
    limits: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match command {
        PluginCommand::Add { file, version } => {
            let wasm =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let added = app.add_plugin(&wasm, version.as_deref())?;
            writeln!(
                out,
                "added version {} (paydesk:stripe@{}, {} bytes, sha256 {})",
                added.version, added.contract_version, added.size, added.sha256
            )?;
            writeln!(
                out,
                "no tenant runs it yet: `paydesk plugin use {} --tenant …` moves some",
                added.version
            )?;
        }
        PluginCommand::List {
            limits: with_limits,
            json,
        } => {
            let versions = app.plugin_versions()?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&versions)?)?;
            } else {
                write!(out, "{}", versions_table(&versions))?;
                if *with_limits {
                    writeln!(out)?;
                    limits(out)?;
                }
            }
        }
        PluginCommand::Use {
            version,
            tenant,
            all,
            percent,
            rollback,
            json,
        } => {
            let moved = if *rollback {
                app.roll_back_plugins()?
            } else {
                let selection = if *all {
                    Selection::All
                } else if let Some(p) = percent {
                    Selection::percent(p)?
                } else {
                    Selection::Tenants(
                        tenant
                            .iter()
                            .map(|t| {
                                TenantId::parse(t)
                                    .map_err(|e| anyhow::anyhow!("--tenant `{t}`: {e}"))
                            })
                            .collect::<anyhow::Result<_>>()?,
                    )
                };
                app.use_plugin(version.as_deref().unwrap_or_default(), &selection)?
            };
            let Some(report) = moved else {
                if *rollback {
                    writeln!(out, "nothing to roll back: no move is left to undo")?;
                } else {
                    writeln!(
                        out,
                        "no tenant moved: every tenant chosen runs {} already",
                        version.as_deref().unwrap_or_default()
                    )?;
                }
                return Ok(());
            };
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                write!(out, "{}", move_lines(&report, *rollback))?;
            }
        }
    }
    Ok(())
}

/// The versions as a table, each version's tenants by name (the first few) and count.
fn versions_table(versions: &[VersionListing]) -> String {
    let mut lines = vec![
        ["version", "contract", "size", "sha256", "added", "tenants"]
            .map(String::from)
            .to_vec(),
    ];
    for v in versions {
        let names: Vec<&str> = v
            .tenants
            .iter()
            .take(TENANTS_SHOWN)
            .map(TenantId::as_str)
            .collect();
        let mut tenants = format!("{}", v.tenants.len());
        if !names.is_empty() {
            tenants.push_str(&format!(": {}", names.join(", ")));
            if v.tenants.len() > TENANTS_SHOWN {
                tenants.push_str(&format!(" and {} more", v.tenants.len() - TENANTS_SHOWN));
            }
        }
        lines.push(vec![
            v.version.clone(),
            v.contract_version.clone(),
            format!("{} KiB", v.size.div_ceil(1024)),
            v.sha256.get(..16).unwrap_or(&v.sha256).to_string(),
            v.added_at
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "(in the binary)".into()),
            tenants,
        ]);
    }
    crate::limits_cli::table(&lines)
}

fn move_lines(report: &MoveReport, rollback: bool) -> String {
    let mut out = if rollback {
        format!(
            "rolled back move {} ({} to {}): {} tenant(s) back\n",
            report.rollout,
            report.selection,
            report.version,
            report.moved.len()
        )
    } else {
        format!(
            "move {}: {} tenant(s) to {} ({})\n",
            report.rollout,
            report.moved.len(),
            report.version,
            report.selection
        )
    };
    for m in &report.moved {
        if rollback {
            out.push_str(&format!(
                "  {}: {} -> {}\n",
                m.tenant, report.version, m.from
            ));
        } else {
            out.push_str(&format!(
                "  {}: {} -> {}\n",
                m.tenant, m.from, report.version
            ));
        }
    }
    out
}
