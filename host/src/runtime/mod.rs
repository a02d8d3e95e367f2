//! The plugin runtime: one engine; the binary's embedded component and any registered one a
//! tenant runs ([`crate::db::PluginStore`]), each compiled once per content hash and kept as a
//! [`LoadedPlugin`] — a `PluginPre` of the contract line it speaks ([`versions`]: 0.1 or the
//! current 0.2, read from its exports) with every import of both lines in one linker; and a
//! **fresh store and instance for every plugin call**, of the component the tenant's record names
//! when the call starts (a call in flight keeps its component when the tenant moves). Owns the
//! per-call sandbox — memory cap, fuel, wall-clock deadline (epoch ticker) and the tenant's calls
//! at once, each the tenant's own limit or the platform's ([`limits`]), no preopens / environment
//! / sockets,
//! bounded guest stdout/stderr logged with the tenant id — and turning traps and exhausted limits
//! into [`SandboxError`] values. Never reuses an instance; never lets a guest fault reach the caller
//! as a panic.

pub mod admission;
pub mod engine;
pub use crate::limits;
pub mod versions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use crate::limits::{CallLimits, EPOCH_TICK, LimitKind, Limits, TenantLimits};
pub use admission::Admission;
pub use engine::LoadedFrom;
pub use versions::{ContractLine, Plugin, VersionedPre};

use crate::capabilities::{self, Capabilities, HasCapabilities, Services};
use crate::metrics::PluginVersion;
use crate::tenant::TenantContext;

/// The component this binary was built with.
pub static EMBEDDED_PLUGIN: &[u8] = include_bytes!(env!("PAYDESK_PLUGIN_WASM"));

/// Where the component comes from and where its compiled form is cached.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// The component's bytes; defaults to the embedded build.
    pub wasm: Option<Vec<u8>>,
    /// Directory for precompiled components; `None` compiles every start.
    pub cache_dir: Option<PathBuf>,
    pub limits: Limits,
}

/// A description of the loaded plugin component.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    /// WIT package of its exports, e.g. `paydesk:stripe`.
    pub package: String,
    /// The contract version, e.g. `0.1.0`.
    pub version: String,
    pub size: usize,
    pub sha256: String,
    /// Each exported interface with its functions.
    pub exports: Vec<String>,
    /// Each imported interface.
    pub imports: Vec<String>,
}

/// Why a plugin call produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("plugin call for tenant {tenant} ran out of fuel (its instruction budget of {fuel})")]
    OutOfFuel { tenant: String, fuel: u64 },
    #[error("plugin call for tenant {tenant} exceeded its deadline of {deadline:?}")]
    Deadline { tenant: String, deadline: Duration },
    #[error("plugin call for tenant {tenant} exceeded its memory cap of {cap} bytes")]
    Memory { tenant: String, cap: usize },
    #[error("plugin call for tenant {tenant} trapped: {message}")]
    Trap { tenant: String, message: String },
    #[error("plugin for tenant {tenant} could not be instantiated: {message}")]
    Instantiate { tenant: String, message: String },
    #[error(
        "tenant {tenant} already has {running} plugin calls running on this host (its limit of {limit} instances); try again shortly"
    )]
    Instances {
        tenant: String,
        running: u32,
        limit: u32,
    },
}

/// The state of one plugin call: the capabilities granted for its tenant, and the sandbox.
pub struct CallState {
    capabilities: Capabilities,
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl CallState {
    fn new(
        services: &Services,
        tenant: TenantContext,
        memory_bytes: usize,
        stdout: MemoryOutputPipe,
        stderr: MemoryOutputPipe,
    ) -> CallState {
        // No preopens, no environment, no arguments, no network: the defaults, stated.
        let wasi = WasiCtx::builder()
            .stdout(stdout)
            .stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            capabilities: Capabilities::new(services, tenant),
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .instances(64)
                .build(),
        }
    }
}

impl HasCapabilities for CallState {
    fn capabilities(&mut self) -> &mut Capabilities {
        &mut self.capabilities
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A component compiled and linked once, ready for fresh instances: the embedded one or one from
/// the registry, named by the SHA-256 of its bytes.
pub struct LoadedPlugin {
    pre: VersionedPre,
    component: Component,
    sha256: String,
    size: usize,
    loaded_from: LoadedFrom,
    /// The `paydesk:stripe` version its exports name, e.g. `0.2.0`.
    contract_version: String,
    label: PluginVersion,
}

impl LoadedPlugin {
    /// Compile `wasm` (or load its precompiled form from `cache_dir`) and link it, refusing a
    /// component that is not a paydesk plugin of a contract line this host serves.
    fn load(
        engine: &Engine,
        wasm: &[u8],
        cache_dir: Option<&Path>,
    ) -> anyhow::Result<LoadedPlugin> {
        let digest = engine::digest(wasm);
        let (component, loaded_from) = engine::load_component(engine, wasm, &digest, cache_dir)?;
        let pre = link(engine, &component)?;
        let sha256 = hex::encode(digest);
        let contract_version = versions::exported_version(engine, &component).unwrap_or_default();
        Ok(LoadedPlugin {
            label: PluginVersion::new(&contract_version, &sha256),
            contract_version,
            pre,
            component,
            sha256,
            size: wasm.len(),
            loaded_from,
        })
    }

    /// SHA-256 of the component's bytes, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The contract line it speaks.
    pub fn contract_line(&self) -> ContractLine {
        self.pre.line()
    }

    /// Whether it came from the precompiled cache.
    pub fn loaded_from(&self) -> LoadedFrom {
        self.loaded_from
    }

    /// The `paydesk:stripe` version its exports name, e.g. `0.2.0`.
    pub fn contract_version(&self) -> &str {
        &self.contract_version
    }

    /// It as the metrics name it (contract version and short hash).
    pub fn label(&self) -> &PluginVersion {
        &self.label
    }

    /// What it is, read from its own type information.
    pub fn describe(&self, engine: &Engine) -> PluginInfo {
        let ty = self.component.component_type();
        let mut exports = Vec::new();
        let mut package = String::new();
        let mut version = String::new();
        for (name, item) in ty.exports(engine) {
            if let Some((pkg, rest)) = name.split_once('/') {
                package = pkg.to_string();
                version = rest
                    .split_once('@')
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default();
            }
            let functions = match &item.ty {
                ComponentItem::ComponentInstance(inst) => inst
                    .exports(engine)
                    .filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentFunc(_)))
                    .map(|(f, _)| f.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            exports.push(format!("{name}: {functions}"));
        }
        let imports = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        PluginInfo {
            package,
            version,
            size: self.size,
            sha256: self.sha256.clone(),
            exports,
            imports,
        }
    }
}

/// A registered component being loaded or loaded on this host: every caller that needs it waits
/// for the one load. A load that failed for the component itself (it doesn't compile or link
/// here) stays failed; one that failed on the way (the database) is forgotten, so the next call
/// tries again.
type Slot = Arc<OnceLock<Result<Arc<LoadedPlugin>, LoadFailure>>>;

#[derive(Debug, Clone)]
struct LoadFailure {
    message: String,
    /// Whether loading again could succeed (the bytes could not be read).
    transient: bool,
}

/// Loads the plugin once and runs each call in a fresh sandbox.
pub struct Runtime {
    engine: Engine,
    /// The binary's embedded component (or the configured one): what a tenant on no registered
    /// component runs.
    default: Arc<LoadedPlugin>,
    cache_dir: Option<PathBuf>,
    /// Registered components loaded on this host, by SHA-256. An in-process cache of compiled
    /// code, not a source of truth: which component a tenant runs is the tenant's record.
    registered: Mutex<HashMap<String, Slot>>,
    limits: Limits,
    ticker: Arc<AtomicBool>,
    running: admission::RunningCalls,
}

impl Runtime {
    /// Compile (or load from cache) the component and link every import.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let engine = engine::engine(&config.limits)?;
        let wasm = config.wasm.as_deref().unwrap_or(EMBEDDED_PLUGIN);
        let default = Arc::new(LoadedPlugin::load(
            &engine,
            wasm,
            config.cache_dir.as_deref(),
        )?);
        let ticker = Arc::new(AtomicBool::new(true));
        spawn_epoch_ticker(engine.clone(), ticker.clone());
        Ok(Runtime {
            engine,
            default,
            cache_dir: config.cache_dir,
            registered: Mutex::new(HashMap::new()),
            limits: config.limits,
            ticker,
            running: admission::RunningCalls::default(),
        })
    }

    /// Size of the default component in bytes.
    pub fn component_size(&self) -> usize {
        self.default.size
    }

    /// Whether the default component came from the precompiled cache.
    pub fn loaded_from(&self) -> LoadedFrom {
        self.default.loaded_from
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The contract line the default component speaks.
    pub fn contract_line(&self) -> ContractLine {
        self.default.contract_line()
    }

    /// What the default component is, read from its own type information.
    pub fn describe(&self) -> PluginInfo {
        self.default.describe(&self.engine)
    }

    /// The component a tenant on no registered component runs.
    pub fn default_plugin(&self) -> &Arc<LoadedPlugin> {
        &self.default
    }

    /// Compile and link `wasm` as this host would run it (once per content hash: a component
    /// loaded already is handed back), or say why it can't run here.
    pub fn load(&self, wasm: &[u8]) -> anyhow::Result<Arc<LoadedPlugin>> {
        let sha256 = hex::encode(engine::digest(wasm));
        if sha256 == self.default.sha256 {
            return Ok(self.default.clone());
        }
        self.loaded(&sha256, || Ok(wasm.to_vec()))
            .map_err(|f| anyhow::anyhow!(f.message))
    }

    /// The registered component with SHA-256 `sha256`, loaded on first use from `wasm()` (its
    /// bytes, checked against the hash).
    fn loaded(
        &self,
        sha256: &str,
        wasm: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> Result<Arc<LoadedPlugin>, LoadFailure> {
        let slot = self
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(sha256.to_string())
            .or_default()
            .clone();
        let outcome = slot
            .get_or_init(|| {
                let bytes = wasm().map_err(|e| LoadFailure {
                    message: format!("{e:#}"),
                    transient: true,
                })?;
                if hex::encode(engine::digest(&bytes)) != sha256 {
                    return Err(LoadFailure {
                        message: format!(
                            "the stored bytes of component {sha256} have another hash"
                        ),
                        transient: false,
                    });
                }
                LoadedPlugin::load(&self.engine, &bytes, self.cache_dir.as_deref())
                    .map(Arc::new)
                    .map_err(|e| LoadFailure {
                        message: format!("{e:#}"),
                        transient: false,
                    })
            })
            .clone();
        if let Err(f) = &outcome
            && f.transient
        {
            let mut registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
            if registered
                .get(sha256)
                .is_some_and(|s| Arc::ptr_eq(s, &slot))
            {
                registered.remove(sha256);
            }
        }
        outcome
    }

    /// The component `tenant` runs now: the registered one its record names (loaded from the
    /// registry on first use on this host), or the default.
    pub fn plugin_for(
        &self,
        services: &Services,
        tenant: &TenantContext,
    ) -> Result<Arc<LoadedPlugin>, SandboxError> {
        let Some(sha256) = tenant.plugin.as_deref() else {
            return Ok(self.default.clone());
        };
        if sha256 == self.default.sha256 {
            return Ok(self.default.clone());
        }
        self.loaded(sha256, || {
            services.db.plugin_wasm(sha256).map_err(anyhow::Error::from)
        })
        .map_err(|f| SandboxError::Instantiate {
            tenant: tenant.id.to_string(),
            message: format!(
                "its plugin component {} could not be loaded on this host: {}",
                sha256.get(..12).unwrap_or(sha256),
                f.message
            ),
        })
    }

    /// Load every registered component in `sha256s` not loaded yet (a host warming up what its
    /// tenants run, so their next calls don't wait for a compile); the ones that failed.
    pub fn preload(&self, services: &Services, sha256s: &[String]) -> Vec<(String, String)> {
        let mut failed = Vec::new();
        for sha256 in sha256s {
            if *sha256 == self.default.sha256 {
                continue;
            }
            let loaded = self.loaded(sha256, || {
                services.db.plugin_wasm(sha256).map_err(anyhow::Error::from)
            });
            if let Err(f) = loaded {
                failed.push((sha256.clone(), f.message));
            }
        }
        failed
    }

    /// The platform's limits this runtime was built with.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Calls of `tenant` running on this host now.
    pub fn calls_running(&self, tenant: &crate::tenant::TenantId) -> u32 {
        self.running.running(tenant)
    }

    /// Run `f` against a fresh instance of the plugin for `tenant`, within the tenant's limits
    /// (refused at once when the tenant already has its limit of calls running). The store,
    /// instance and WASI context are dropped afterwards, whatever happened.
    pub fn call<R>(
        &self,
        services: &Arc<Services>,
        tenant: TenantContext,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, SandboxError> {
        self.call_admitted(services, tenant, Admission::Immediate, f)
    }

    /// [`Runtime::call`], admitted as `admission` says: the host's own batch work waits for a
    /// free instance of the tenant instead of being refused.
    pub fn call_admitted<R>(
        &self,
        services: &Arc<Services>,
        tenant: TenantContext,
        admission: Admission,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, SandboxError> {
        let plugin = self.plugin_for(services, &tenant)?;
        self.call_on(&plugin, services, tenant, admission, f)
    }

    /// [`Runtime::call_admitted`] on the component `plugin` (from [`Runtime::plugin_for`]).
    pub fn call_on<R>(
        &self,
        plugin: &LoadedPlugin,
        services: &Arc<Services>,
        tenant: TenantContext,
        admission: Admission,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, SandboxError> {
        let tenant_id = tenant.id.to_string();
        let limits = CallLimits::resolve(&self.limits, &tenant.limits);
        let _slot = self
            .running
            .enter(&tenant.id, limits.instances.value, admission)
            .map_err(|running| SandboxError::Instances {
                tenant: tenant_id.clone(),
                running,
                limit: limits.instances.value,
            })?;
        let stdout = MemoryOutputPipe::new(self.limits.output_bytes);
        let stderr = MemoryOutputPipe::new(self.limits.output_bytes);
        let state = CallState::new(
            services,
            tenant,
            limits.memory_bytes.value,
            stdout.clone(),
            stderr.clone(),
        );
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let ticks = limits.deadline.value.as_millis() / EPOCH_TICK.as_millis();
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX).max(1));
        store.epoch_deadline_trap();
        let outcome = store
            .set_fuel(limits.fuel.value)
            .and_then(|()| plugin.pre.instantiate(&mut store))
            .map_err(|e| SandboxError::Instantiate {
                tenant: tenant_id.clone(),
                message: format!("{e:#}"),
            })
            .and_then(|plugin| {
                f(&plugin, &mut store).map_err(|e| classify(&limits, &tenant_id, &e, &stderr))
            });
        log_output(&tenant_id, "stdout", &stdout);
        log_output(&tenant_id, "stderr", &stderr);
        outcome
    }
}

/// The sandbox error of a failed call under `limits`.
fn classify(
    limits: &CallLimits,
    tenant: &str,
    error: &wasmtime::Error,
    stderr: &MemoryOutputPipe,
) -> SandboxError {
    let tenant = tenant.to_string();
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            return SandboxError::OutOfFuel {
                tenant,
                fuel: limits.fuel.value,
            };
        }
        Some(Trap::Interrupt) => {
            return SandboxError::Deadline {
                tenant,
                deadline: limits.deadline.value,
            };
        }
        _ => {}
    }
    let message = format!("{error:#}");
    if message.contains("forcing trap when growing memory") {
        return SandboxError::Memory {
            tenant,
            cap: limits.memory_bytes.value,
        };
    }
    // A Rust guest that panics prints the panic to stderr, then aborts (`unreachable`).
    let said = String::from_utf8_lossy(&stderr.contents())
        .trim()
        .to_string();
    let message = match said.lines().rev().find(|l| l.contains("panicked")) {
        Some(panic) => format!("{panic} ({})", first_line(&message)),
        None => first_line(&message).to_string(),
    };
    SandboxError::Trap { tenant, message }
}

/// Link `component` against every import of the contract line it speaks (both served lines'
/// imports are in one linker; their names don't meet), or refuse a line the host doesn't serve.
pub fn link(engine: &Engine, component: &Component) -> anyhow::Result<VersionedPre> {
    let version = versions::exported_version(engine, component).ok_or_else(|| {
        anyhow::anyhow!(
            "the component exports no paydesk:stripe interface; it is not a paydesk plugin"
        )
    })?;
    let line = ContractLine::of_version(&version).ok_or_else(|| {
        anyhow::anyhow!(
            "the plugin speaks paydesk:stripe@{version}, a contract line this host does not serve (it serves {})",
            ContractLine::SERVED
        )
    })?;
    let mut linker = Linker::<CallState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    capabilities::add_to_linker(&mut linker)?;
    capabilities::v0_1::add_to_linker(&mut linker)?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        anyhow::anyhow!("the plugin (paydesk:stripe@{version}) cannot be linked: {e:#}")
    })?;
    Ok(VersionedPre::new(line, pre)?)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn log_output(tenant: &str, stream: &str, pipe: &MemoryOutputPipe) {
    let bytes = pipe.contents();
    if !bytes.is_empty() {
        let text = String::from_utf8_lossy(&bytes);
        tracing::info!(tenant, stream, output = %text.trim_end(), "plugin output");
    }
}

/// Advance the engine's epoch every tick until `running` turns false.
fn spawn_epoch_ticker(engine: Engine, running: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("paydesk-epoch".into())
        .spawn(move || {
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch ticker thread");
}
