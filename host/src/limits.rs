//! Per-tenant sandbox limits: a tenant's own limits (stored in the database with the tenant, each
//! unset = the platform default), the platform defaults (configuration), and resolving the two
//! into the limits of one call. Owns which value wins and the bounds a tenant's value must keep
//! (its memory within the engine's pooling slot, its instances below the pool's total, so one
//! tenant never takes every slot); never runs guest code. Counting the calls each tenant has
//! running on a host against its instance limit is the runtime's
//! ([`crate::runtime::admission`]).

use std::num::NonZeroU32;
use std::time::Duration;

/// How often the epoch ticker advances; the deadline's resolution.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The platform's limits of the sandbox: per-call defaults (a tenant may have its own, see
/// [`TenantLimits`]) and the engine's sizes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest linear memory a plugin instance may grow to, unless its tenant has its own.
    pub memory_bytes: usize,
    /// The engine's pooling slot for one memory: no tenant's memory cap goes above it (nor
    /// below `memory_bytes`: the larger of the two is the slot).
    pub memory_slot_bytes: usize,
    /// Fuel (≈ wasm instructions) per call.
    pub fuel: u64,
    /// Wall-clock time per call, host calls included (checked when the guest runs).
    pub deadline: Duration,
    /// Bytes of guest stdout and of stderr kept per call.
    pub output_bytes: usize,
    /// Instances that may exist at once, all tenants together (pooling allocator slots).
    pub concurrent_instances: u32,
    /// Calls of one tenant running at once on this host (kept below `concurrent_instances`).
    pub instances_per_tenant: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            memory_slot_bytes: 256 << 20,
            fuel: 2_000_000_000,
            deadline: Duration::from_secs(120),
            output_bytes: 64 << 10,
            concurrent_instances: 128,
            instances_per_tenant: 32,
        }
    }
}

impl Limits {
    /// The engine's memory slot: the most memory any call may have.
    pub fn slot_bytes(&self) -> usize {
        self.memory_slot_bytes.max(self.memory_bytes)
    }

    /// The most calls one tenant may run at once here: fewer than the pool's slots (one, if the
    /// pool has a single slot).
    pub fn tenant_instances_bound(&self) -> u32 {
        self.concurrent_instances.saturating_sub(1).max(1)
    }
}

/// Shortest deadline a tenant may have: the epoch ticker's resolution.
pub const MIN_DEADLINE: Duration = EPOCH_TICK;
/// Longest deadline a tenant (or the platform) may have.
pub const MAX_DEADLINE: Duration = Duration::from_secs(3600);
/// Smallest memory cap a tenant may have (a component needs its initial memory).
pub const MIN_MEMORY_BYTES: u64 = 1 << 20;
/// Most Stripe requests per second a limit may name (as `PAYDESK_STRIPE_MAX_REQUESTS_PER_SECOND`).
pub const MAX_STRIPE_REQUESTS_PER_SECOND: u32 = 10_000;

/// One of the limits a tenant may have of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKind {
    Memory,
    Fuel,
    Deadline,
    Instances,
    StripeRequestsPerSecond,
}

impl LimitKind {
    pub const ALL: [LimitKind; 5] = [
        LimitKind::Memory,
        LimitKind::Fuel,
        LimitKind::Deadline,
        LimitKind::Instances,
        LimitKind::StripeRequestsPerSecond,
    ];

    /// Its name on the command line (`--clear memory`).
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Memory => "memory",
            LimitKind::Fuel => "fuel",
            LimitKind::Deadline => "deadline",
            LimitKind::Instances => "instances",
            LimitKind::StripeRequestsPerSecond => "stripe-requests-per-second",
        }
    }

    pub fn parse(s: &str) -> Result<LimitKind, String> {
        LimitKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = LimitKind::ALL.iter().map(|k| k.name()).collect();
                format!("`{s}` is not a limit (one of: {})", names.join(", "))
            })
    }
}

/// A tenant's own limits; `None` is the platform default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// Largest linear memory of one of its calls, in bytes.
    pub memory_bytes: Option<u64>,
    /// Fuel per call.
    pub fuel: Option<u64>,
    /// Wall-clock deadline per call, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Calls of the tenant running at once on one host.
    pub instances: Option<u32>,
    /// Stripe requests per second to its account, every host together.
    pub stripe_requests_per_second: Option<u32>,
}

impl TenantLimits {
    /// Whether `kind` is set.
    pub fn is_set(&self, kind: LimitKind) -> bool {
        match kind {
            LimitKind::Memory => self.memory_bytes.is_some(),
            LimitKind::Fuel => self.fuel.is_some(),
            LimitKind::Deadline => self.deadline_ms.is_some(),
            LimitKind::Instances => self.instances.is_some(),
            LimitKind::StripeRequestsPerSecond => self.stripe_requests_per_second.is_some(),
        }
    }

    /// Check every value that is set against the platform's engine: an error naming the limit,
    /// the value and the bound.
    pub fn check(&self, platform: &Limits) -> Result<(), String> {
        if let Some(m) = self.memory_bytes {
            let slot = platform.slot_bytes() as u64;
            if m < MIN_MEMORY_BYTES {
                return Err(format!(
                    "memory limit {} bytes is below the smallest, 1 MiB",
                    m
                ));
            }
            if m > slot {
                return Err(format!(
                    "memory limit {} MiB is above the engine's pooling slot of {} MiB \
                     (PAYDESK_PLUGIN_MEMORY_SLOT_MIB); use at most {} MiB or raise the slot",
                    m >> 20,
                    slot >> 20,
                    slot >> 20
                ));
            }
        }
        if let Some(f) = self.fuel
            && (f == 0 || f > i64::MAX as u64)
        {
            return Err(format!("fuel limit {f} must be from 1 to {}", i64::MAX));
        }
        if let Some(d) = self.deadline_ms {
            let d = Duration::from_millis(d);
            if !(MIN_DEADLINE..=MAX_DEADLINE).contains(&d) {
                return Err(format!(
                    "deadline limit {d:?} must be from {MIN_DEADLINE:?} to {MAX_DEADLINE:?}"
                ));
            }
        }
        if let Some(n) = self.instances {
            let pool = platform.concurrent_instances;
            if n == 0 || n >= pool {
                return Err(format!(
                    "instances limit {n} must be from 1 to {} — below the pool's {pool} slots \
                     (PAYDESK_PLUGIN_INSTANCES), so one tenant cannot take every slot",
                    pool.saturating_sub(1)
                ));
            }
        }
        if let Some(r) = self.stripe_requests_per_second
            && !(1..=MAX_STRIPE_REQUESTS_PER_SECOND).contains(&r)
        {
            return Err(format!(
                "stripe-requests-per-second limit {r} must be from 1 to {MAX_STRIPE_REQUESTS_PER_SECOND}"
            ));
        }
        Ok(())
    }
}

/// Where an effective limit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The tenant's own value.
    Tenant,
    /// The tenant's own value, above what this host's engine allows: capped to it.
    TenantCapped,
    /// The platform default (configuration).
    Platform,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Tenant => "tenant",
            Source::TenantCapped => "tenant (capped by this host's engine)",
            Source::Platform => "platform default",
        }
    }
}

/// A limit's value and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved<T> {
    pub value: T,
    pub from: Source,
}

/// The sandbox limits of one tenant's calls on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub memory_bytes: Resolved<usize>,
    pub fuel: Resolved<u64>,
    pub deadline: Resolved<Duration>,
    pub instances: Resolved<u32>,
}

fn pick<T: Copy>(own: Option<T>, default: T) -> Resolved<T> {
    match own {
        Some(value) => Resolved {
            value,
            from: Source::Tenant,
        },
        None => Resolved {
            value: default,
            from: Source::Platform,
        },
    }
}

/// Keep a resolved value at most `max`, noting a capped tenant value.
fn at_most<T: Copy + PartialOrd>(r: Resolved<T>, max: T) -> Resolved<T> {
    if r.value > max {
        Resolved {
            value: max,
            from: match r.from {
                Source::Platform => Source::Platform,
                _ => Source::TenantCapped,
            },
        }
    } else {
        r
    }
}

impl CallLimits {
    /// The tenant's own limits where set, the platform's elsewhere; a value beyond this host's
    /// engine (set on a host with a larger slot or pool) is capped to it.
    pub fn resolve(platform: &Limits, own: &TenantLimits) -> CallLimits {
        let memory = own
            .memory_bytes
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
        CallLimits {
            memory_bytes: at_most(pick(memory, platform.memory_bytes), platform.slot_bytes()),
            fuel: pick(own.fuel, platform.fuel),
            deadline: at_most(
                pick(
                    own.deadline_ms.map(Duration::from_millis),
                    platform.deadline,
                ),
                MAX_DEADLINE,
            ),
            instances: at_most(
                pick(own.instances, platform.instances_per_tenant),
                platform.tenant_instances_bound(),
            ),
        }
    }
}

/// The Stripe requests per second of a tenant's account: its own value, else the platform's;
/// `None` when neither is set (no limit of ours).
pub fn stripe_requests_per_second(
    platform: Option<NonZeroU32>,
    own: &TenantLimits,
) -> Option<Resolved<NonZeroU32>> {
    match own.stripe_requests_per_second.and_then(NonZeroU32::new) {
        Some(value) => Some(Resolved {
            value,
            from: Source::Tenant,
        }),
        None => platform.map(|value| Resolved {
            value,
            from: Source::Platform,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform() -> Limits {
        Limits {
            memory_bytes: 64 << 20,
            memory_slot_bytes: 256 << 20,
            fuel: 1_000,
            deadline: Duration::from_secs(120),
            concurrent_instances: 32,
            instances_per_tenant: 8,
            ..Limits::default()
        }
    }

    #[test]
    fn unset_limits_are_the_platform_defaults() {
        let l = CallLimits::resolve(&platform(), &TenantLimits::default());
        assert_eq!(
            l.memory_bytes,
            Resolved {
                value: 64 << 20,
                from: Source::Platform
            }
        );
        assert_eq!(l.fuel.value, 1_000);
        assert_eq!(l.deadline.value, Duration::from_secs(120));
        assert_eq!(l.instances.value, 8);
        assert!(
            [
                l.memory_bytes.from,
                l.fuel.from,
                l.deadline.from,
                l.instances.from
            ]
            .iter()
            .all(|s| *s == Source::Platform)
        );
    }

    #[test]
    fn a_tenants_own_value_wins_each_limit_on_its_own() {
        let own = TenantLimits {
            fuel: Some(5),
            deadline_ms: Some(250),
            ..TenantLimits::default()
        };
        let l = CallLimits::resolve(&platform(), &own);
        assert_eq!(
            l.fuel,
            Resolved {
                value: 5,
                from: Source::Tenant
            }
        );
        assert_eq!(l.deadline.value, Duration::from_millis(250));
        assert_eq!(l.deadline.from, Source::Tenant);
        assert_eq!(l.memory_bytes.from, Source::Platform);
        assert_eq!(l.instances.from, Source::Platform);
        // A tenant may have more than the default, within the engine.
        let more = TenantLimits {
            memory_bytes: Some(128 << 20),
            instances: Some(20),
            ..TenantLimits::default()
        };
        let l = CallLimits::resolve(&platform(), &more);
        assert_eq!(l.memory_bytes.value, 128 << 20);
        assert_eq!(l.instances.value, 20);
    }

    #[test]
    fn a_value_beyond_this_hosts_engine_is_capped_and_says_so() {
        let own = TenantLimits {
            memory_bytes: Some(1 << 30),
            instances: Some(500),
            ..TenantLimits::default()
        };
        let l = CallLimits::resolve(&platform(), &own);
        assert_eq!(
            l.memory_bytes,
            Resolved {
                value: 256 << 20,
                from: Source::TenantCapped
            }
        );
        assert_eq!(
            l.instances,
            Resolved {
                value: 31,
                from: Source::TenantCapped
            }
        );
        // A platform default above a small test pool is kept below the pool too.
        let small = Limits {
            concurrent_instances: 4,
            instances_per_tenant: 16,
            ..platform()
        };
        let l = CallLimits::resolve(&small, &TenantLimits::default());
        assert_eq!(l.instances.value, 3);
        assert_eq!(l.instances.from, Source::Platform);
    }

    #[test]
    fn checks_name_the_limit_the_value_and_the_bound() {
        let p = platform();
        let memory = TenantLimits {
            memory_bytes: Some(512 << 20),
            ..TenantLimits::default()
        }
        .check(&p)
        .unwrap_err();
        assert!(
            memory.contains("512 MiB") && memory.contains("pooling slot of 256 MiB"),
            "{memory}"
        );
        let instances = TenantLimits {
            instances: Some(32),
            ..TenantLimits::default()
        }
        .check(&p)
        .unwrap_err();
        assert!(
            instances.contains("instances limit 32") && instances.contains("below the pool's 32"),
            "{instances}"
        );
        for bad in [
            TenantLimits {
                fuel: Some(0),
                ..TenantLimits::default()
            },
            TenantLimits {
                deadline_ms: Some(1),
                ..TenantLimits::default()
            },
            TenantLimits {
                deadline_ms: Some(3_600_001),
                ..TenantLimits::default()
            },
            TenantLimits {
                stripe_requests_per_second: Some(10_001),
                ..TenantLimits::default()
            },
            TenantLimits {
                memory_bytes: Some(1000),
                ..TenantLimits::default()
            },
        ] {
            assert!(bad.check(&p).is_err(), "{bad:?}");
        }
        let fine = TenantLimits {
            memory_bytes: Some(256 << 20),
            fuel: Some(1),
            deadline_ms: Some(10),
            instances: Some(31),
            stripe_requests_per_second: Some(10_000),
        };
        assert_eq!(fine.check(&p), Ok(()));
    }

    #[test]
    fn the_tenants_stripe_rate_replaces_the_platforms() {
        let platform = NonZeroU32::new(25);
        let none = TenantLimits::default();
        let own = TenantLimits {
            stripe_requests_per_second: Some(5),
            ..TenantLimits::default()
        };
        assert_eq!(
            stripe_requests_per_second(platform, &none),
            Some(Resolved {
                value: NonZeroU32::new(25).unwrap(),
                from: Source::Platform
            })
        );
        assert_eq!(
            stripe_requests_per_second(platform, &own).map(|r| (r.value.get(), r.from)),
            Some((5, Source::Tenant))
        );
        // An override paces the tenant even when the platform has no limit.
        assert_eq!(
            stripe_requests_per_second(None, &own).map(|r| r.value.get()),
            Some(5)
        );
        assert_eq!(stripe_requests_per_second(None, &none), None);
    }
}
