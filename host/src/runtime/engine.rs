//! The one wasmtime `Engine` and the precompiled-component cache. Owns the engine configuration
//! (component model, pooling allocator, copy-on-write memory images, epoch interruption, fuel) and
//! loading the component: compiled once, then cached on disk keyed by the component's SHA-256 and
//! the engine's compatibility hash. Never executes guest code.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::Limits;

/// Bytes of each memory and table slot zeroed in place when an instance ends, instead of handed
/// back to the kernel: the pages a plugin call touches are reused without a fault, and no
/// `madvise` has to interrupt every other core to flush its TLB.
const KEEP_RESIDENT: usize = 1 << 20;

/// Build the engine for plugin calls.
pub fn engine(limits: &Limits) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let slots = limits.concurrent_instances;
    pool.total_component_instances(slots)
        .total_core_instances(slots * 8)
        .total_memories(slots * 2)
        .total_tables(slots * 4)
        .max_memory_size(limits.slot_bytes())
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .memory_init_cow(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("configuring the WebAssembly engine")
}

/// The SHA-256 of a component, which names it in the cache.
pub fn digest(wasm: &[u8]) -> [u8; 32] {
    Sha256::digest(wasm).into()
}

/// Where the precompiled form of the component with SHA-256 `digest` lives for this engine.
pub fn cache_path(engine: &Engine, cache_dir: &Path, digest: &[u8; 32]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    cache_dir.join(format!(
        "plugin-{}-{:016x}.cwasm",
        hex::encode(&digest[..16]),
        hasher.finish()
    ))
}

/// How the component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadedFrom {
    /// Deserialized from the on-disk cache.
    Cache,
    /// Compiled now (and written to the cache if it has one).
    Compiled,
}

/// Load `wasm` (whose SHA-256 is `digest`) as a component, from the cache when a valid entry
/// exists, else compile and store it.
pub fn load_component(
    engine: &Engine,
    wasm: &[u8],
    digest: &[u8; 32],
    cache_dir: Option<&Path>,
) -> anyhow::Result<(Component, LoadedFrom)> {
    let Some(dir) = cache_dir else {
        let component = Component::new(engine, wasm)
            .map_err(anyhow::Error::from)
            .context("compiling the plugin component")?;
        return Ok((component, LoadedFrom::Compiled));
    };
    let path = cache_path(engine, dir, digest);
    if path.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same engine configuration
        // (the name carries the engine's compatibility hash and the component's digest) into the
        // host's own cache directory; wasmtime still checks its header before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok((component, LoadedFrom::Cache)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unusable component cache entry")
            }
        }
    }
    let component = Component::new(engine, wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the plugin component")?;
    if let Err(e) = write_cache(&component, dir, &path) {
        tracing::warn!(path = %path.display(), error = %e, "could not write the component cache");
    }
    Ok((component, LoadedFrom::Compiled))
}

fn write_cache(component: &Component, dir: &Path, path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
