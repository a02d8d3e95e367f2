//! `paydesk limits`: show a tenant's effective sandbox and Stripe limits with where each comes
//! from (its own value or the platform default), set or clear its own. Values are checked against
//! this host's platform limits before anything is written; every host reads the change with the
//! tenant at its next plugin call.

use std::num::NonZeroU32;

use anyhow::{Context as _, bail};
use clap::Subcommand;

use crate::db::{Database, Tenant};
use crate::runtime::limits::{self, Source};
use crate::runtime::{CallLimits, LimitKind, Limits, TenantLimits};
use crate::tenant::TenantId;

/// What `paydesk limits` does.
#[derive(Debug, Subcommand, Clone)]
pub enum LimitsCommand {
    /// The effective limits: the platform defaults and each tenant's (or one tenant's, with where
    /// each value comes from).
    Show {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Set (or clear) some of a tenant's own limits; the others are kept.
    Set {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Largest memory of one plugin call, in MiB (at most the engine's pooling slot).
        #[arg(long)]
        memory_mib: Option<u64>,
        /// Fuel (about one per wasm instruction) of one plugin call.
        #[arg(long)]
        fuel: Option<u64>,
        /// Wall-clock deadline of one plugin call, in seconds (1 to 3600).
        #[arg(long)]
        deadline_seconds: Option<u64>,
        /// Plugin calls of the tenant running at once on each host (below the pool's slots).
        #[arg(long)]
        instances: Option<u32>,
        /// Stripe requests per second to the tenant's account, every host together (1 to 10000).
        #[arg(long)]
        stripe_requests_per_second: Option<u32>,
        /// Go back to the platform default for this limit (memory, fuel, deadline, instances,
        /// stripe-requests-per-second); may be repeated.
        #[arg(long, value_name = "LIMIT", value_parser = LimitKind::parse)]
        clear: Vec<LimitKind>,
    },
    /// Clear every limit of a tenant's own: the platform defaults hold for it again.
    Clear {
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
}

/// `paydesk limits …` on its own, for parsing its arguments outside the whole command line.
#[derive(Debug, clap::Parser)]
#[command(name = "paydesk limits")]
struct LimitsLine {
    #[command(subcommand)]
    command: LimitsCommand,
}

impl LimitsCommand {
    /// Parse the words after `paydesk limits` (e.g. `["show", "--tenant", "acme"]`).
    pub fn from_args<'a>(
        args: impl IntoIterator<Item = &'a str>,
    ) -> Result<LimitsCommand, clap::Error> {
        use clap::Parser as _;
        LimitsLine::try_parse_from(std::iter::once("paydesk limits").chain(args)).map(|l| l.command)
    }
}

/// Run it with the platform's `limits` and Stripe requests per second, printing to `out`.
pub fn run(
    db: &dyn Database,
    platform: &Limits,
    stripe_per_second: Option<NonZeroU32>,
    command: &LimitsCommand,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match command {
        LimitsCommand::Show { tenant: None } => {
            let tenants = db.tenants()?;
            write!(out, "{}", platform_table(platform, stripe_per_second))?;
            writeln!(out)?;
            write!(
                out,
                "{}",
                tenants_table(&tenants, platform, stripe_per_second)
            )?;
            Ok(())
        }
        LimitsCommand::Show {
            tenant: Some(tenant),
        } => {
            let id = parse_tenant(tenant)?;
            let record = db.tenant(&id).with_context(|| format!("--tenant {id}"))?;
            write!(
                out,
                "{}",
                tenant_table(&id, &record.limits, platform, stripe_per_second)
            )?;
            Ok(())
        }
        LimitsCommand::Set {
            tenant,
            memory_mib,
            fuel,
            deadline_seconds,
            instances,
            stripe_requests_per_second,
            clear,
        } => {
            let id = parse_tenant(tenant)?;
            let set = TenantLimits {
                memory_bytes: memory_mib
                    .map(|m| {
                        m.checked_mul(1 << 20)
                            .with_context(|| format!("--memory-mib {m} is too large"))
                    })
                    .transpose()?,
                fuel: *fuel,
                deadline_ms: deadline_seconds
                    .map(|s| {
                        s.checked_mul(1000)
                            .with_context(|| format!("--deadline-seconds {s} is too large"))
                    })
                    .transpose()?,
                instances: *instances,
                stripe_requests_per_second: *stripe_requests_per_second,
            };
            if let Some(both) = clear.iter().find(|k| set.is_set(**k)) {
                bail!(
                    "--clear {} and a value for it at once: give one or the other",
                    both.name()
                );
            }
            if set == TenantLimits::default() && clear.is_empty() {
                bail!(
                    "nothing to set: give --memory-mib, --fuel, --deadline-seconds, --instances, --stripe-requests-per-second or --clear LIMIT"
                );
            }
            set.check(platform).map_err(anyhow::Error::msg)?;
            let now = db
                .update_tenant_limits(&id, &set, clear)
                .with_context(|| format!("setting the limits of tenant {id}"))?;
            writeln!(
                out,
                "limits of tenant {id} saved; every host applies them from its next call"
            )?;
            write!(
                out,
                "{}",
                tenant_table(&id, &now, platform, stripe_per_second)
            )?;
            Ok(())
        }
        LimitsCommand::Clear { tenant } => {
            let id = parse_tenant(tenant)?;
            let now = db
                .update_tenant_limits(&id, &TenantLimits::default(), &LimitKind::ALL)
                .with_context(|| format!("clearing the limits of tenant {id}"))?;
            writeln!(
                out,
                "limits of tenant {id} cleared: the platform defaults hold for it"
            )?;
            write!(
                out,
                "{}",
                tenant_table(&id, &now, platform, stripe_per_second)
            )?;
            Ok(())
        }
    }
}

fn parse_tenant(tenant: &str) -> anyhow::Result<TenantId> {
    TenantId::parse(tenant).map_err(anyhow::Error::msg)
}

fn bytes(n: usize) -> String {
    if n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

fn duration(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

fn per_second(r: Option<NonZeroU32>) -> String {
    r.map_or_else(|| "no limit".into(), |r| format!("{r}/s"))
}

/// Each limit's name, shown value and source for a tenant with `own` limits.
fn rows(
    own: &TenantLimits,
    platform: &Limits,
    stripe: Option<NonZeroU32>,
) -> [(&'static str, String, Source); 5] {
    let l = CallLimits::resolve(platform, own);
    let stripe = limits::stripe_requests_per_second(stripe, own);
    [
        (
            LimitKind::Memory.name(),
            bytes(l.memory_bytes.value),
            l.memory_bytes.from,
        ),
        (
            LimitKind::Fuel.name(),
            l.fuel.value.to_string(),
            l.fuel.from,
        ),
        (
            LimitKind::Deadline.name(),
            duration(l.deadline.value),
            l.deadline.from,
        ),
        (
            LimitKind::Instances.name(),
            l.instances.value.to_string(),
            l.instances.from,
        ),
        (
            LimitKind::StripeRequestsPerSecond.name(),
            per_second(stripe.map(|s| s.value)),
            stripe.map_or(Source::Platform, |s| s.from),
        ),
    ]
}

/// Lines of columns, each column as wide as its widest cell, two spaces apart.
pub(crate) fn table(lines: &[Vec<String>]) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

const PER_HOST: &str =
    "instances are counted on each host; the Stripe rate holds for every host together\n";

/// One tenant's effective limits: limit, value, where it comes from.
pub fn tenant_table(
    id: &TenantId,
    own: &TenantLimits,
    platform: &Limits,
    stripe: Option<NonZeroU32>,
) -> String {
    let mut lines = vec![vec!["limit".into(), "value".into(), "from".into()]];
    for (name, value, from) in rows(own, platform, stripe) {
        lines.push(vec![name.into(), value, from.describe().into()]);
    }
    format!("tenant {id}\n{}{PER_HOST}", table(&lines))
}

/// The platform defaults.
fn platform_table(platform: &Limits, stripe: Option<NonZeroU32>) -> String {
    let mut lines = vec![vec!["limit".into(), "platform default".into()]];
    for (name, value, _) in rows(&TenantLimits::default(), platform, stripe) {
        lines.push(vec![name.into(), value]);
    }
    format!(
        "platform defaults (engine: {} instance slots, memory slot {})\n{}",
        platform.concurrent_instances,
        bytes(platform.slot_bytes()),
        table(&lines)
    )
}

/// Every tenant's effective limits, a tenant's own values marked `*`.
fn tenants_table(tenants: &[Tenant], platform: &Limits, stripe: Option<NonZeroU32>) -> String {
    let mut lines = vec![
        std::iter::once("tenant".to_string())
            .chain(LimitKind::ALL.iter().map(|k| k.name().to_string()))
            .collect::<Vec<_>>(),
    ];
    for t in tenants {
        let mut line = vec![t.id.to_string()];
        for (_, value, from) in rows(&t.limits, platform, stripe) {
            line.push(match from {
                Source::Platform => value,
                Source::Tenant => format!("{value} *"),
                Source::TenantCapped => format!("{value} *capped"),
            });
        }
        lines.push(line);
    }
    format!(
        "{}* the tenant's own value (capped: above this host's engine, capped to it)\n{PER_HOST}",
        table(&lines)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_table_says_where_each_value_comes_from() {
        let id = TenantId::parse("acme").unwrap();
        let own = TenantLimits {
            deadline_ms: Some(5_000),
            stripe_requests_per_second: Some(7),
            ..TenantLimits::default()
        };
        let out = tenant_table(&id, &own, &Limits::default(), NonZeroU32::new(25));
        let line = |name: &str| {
            out.lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in\n{out}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(line("deadline"), "deadline 5 s tenant");
        assert_eq!(line("memory"), "memory 64 MiB platform default");
        assert_eq!(
            line("stripe-requests-per-second"),
            "stripe-requests-per-second 7/s tenant"
        );
        let none = tenant_table(&id, &TenantLimits::default(), &Limits::default(), None);
        assert!(none.contains("no limit"), "{none}");
    }
}
