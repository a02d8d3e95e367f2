//! Builds the plugin component (`paydesk-plugin` for `wasm32-wasip2`) and exports its path as
//! `PAYDESK_PLUGIN_WASM`, so the `paydesk` binary embeds the component it was built with.

#[path = "../tools/build_component.rs"]
mod build_component;

use std::path::PathBuf;

fn main() {
    let host = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = host
        .parent()
        .expect("host/ is inside the workspace")
        .to_path_buf();
    build_component::rerun_if_changed(&[
        workspace.join("plugin/src"),
        workspace.join("plugin/Cargo.toml"),
        workspace.join("plugin/build.rs"),
        workspace.join("wit"),
    ]);
    let wasm = build_component::build_component(&workspace, "paydesk-plugin");
    println!("cargo:rustc-env=PAYDESK_PLUGIN_WASM={}", wasm.display());
}
