//! The component's linear memory starts with its stack. Rust's default is 1 MiB, which every fresh
//! instance then carries (and the host zeroes after each call); the plugin needs a fraction of
//! it, so the WebAssembly build gets 256 KiB. Overflowing it traps, as any out-of-bounds access.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=262144");
    }
}
