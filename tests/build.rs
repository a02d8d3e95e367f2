//! Builds the abusive test guest (`tests/guests/abusive`) as a component and exports its path as
//! `PAYDESK_ABUSIVE_WASM` for the sandbox tests, and the plugin built against the frozen 0.1
//! contract (feature `contract-v0_1`) as `PAYDESK_PLUGIN_V0_1_WASM`, for the tests that run both
//! contract lines in one host.

#[path = "../tools/build_component.rs"]
mod build_component;

use std::path::PathBuf;

fn main() {
    let tests = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = tests
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf();
    build_component::rerun_if_changed(&[
        workspace.join("tests/guests/abusive"),
        workspace.join("plugin/src"),
        workspace.join("plugin/Cargo.toml"),
        workspace.join("plugin/build.rs"),
        workspace.join("wit"),
    ]);
    let wasm = build_component::build_component(&workspace, "paydesk-abusive-guest");
    println!("cargo:rustc-env=PAYDESK_ABUSIVE_WASM={}", wasm.display());
    let v0_1 = build_component::build_component_with(
        &workspace,
        "paydesk-plugin",
        &["contract-v0_1"],
        "components-v0_1",
    );
    println!(
        "cargo:rustc-env=PAYDESK_PLUGIN_V0_1_WASM={}",
        v0_1.display()
    );
}
