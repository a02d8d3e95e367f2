//! Builds the abusive test guest (`tests/guests/abusive`) as a component and exports its path as
//! `PAYDESK_ABUSIVE_WASM` for the sandbox tests.

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
        workspace.join("wit"),
    ]);
    let wasm = build_component::build_component(&workspace, "paydesk-abusive-guest");
    println!("cargo:rustc-env=PAYDESK_ABUSIVE_WASM={}", wasm.display());
}
