//! Shared by build scripts: builds a workspace crate as a WebAssembly component for `wasm32-wasip2`
//! with the size-tuned `plugin` profile, into its own target directory (so the outer cargo's lock
//! is never contended), and returns the `.wasm` path. Included with `#[path]` by `host/build.rs` and
//! `tests/build.rs`; it must not depend on anything but std.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Build `package` (a workspace member) and return its component's path.
pub fn build_component(workspace: &Path, package: &str) -> PathBuf {
    build_component_with(workspace, package, &[], "components")
}

/// Build `package` with cargo `features` into `target/<dir>/` (its own, so a build with other
/// features never overwrites the default one) and return its component's path.
pub fn build_component_with(
    workspace: &Path,
    package: &str,
    features: &[&str],
    dir: &str,
) -> PathBuf {
    let target_dir = workspace.join("target").join(dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--package", package, "--target", "wasm32-wasip2"])
        .args(["--profile", "plugin", "--target-dir"])
        .arg(&target_dir);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    // The outer build's settings are for the host target; none of them may leak into the guest build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_NET_OFFLINE"
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTFLAGS")
            || key == "RUSTDOCFLAGS"
            || key == "TARGET"
            || key == "HOST"
            || key == "OUT_DIR"
            || key == "PROFILE"
            || key == "OPT_LEVEL"
            || key == "DEBUG"
            || key == "NUM_JOBS"
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("could not run cargo to build {package}: {e}"));
    assert!(
        status.success(),
        "building the {package} component (features {features:?}) failed; run `cargo build -p {package} --target wasm32-wasip2 --profile plugin` to see why"
    );
    let wasm = target_dir
        .join("wasm32-wasip2")
        .join("plugin")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(wasm.exists(), "{} was not produced", wasm.display());
    wasm
}

/// Tell cargo to re-run the build script when any file under these directories changes.
pub fn rerun_if_changed(dirs: &[PathBuf]) {
    fn walk(dir: &Path) {
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path);
            } else {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    for dir in dirs {
        walk(dir);
    }
}
