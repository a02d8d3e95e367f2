//! Fuzzes the host's `Stripe-Signature` verifier (host/src/webhook_signature.rs, included by path):
//! any header, body, secret and clock must give an answer, never a panic; a header signed here with
//! the right HMAC for (t, body) verifies exactly when |now − t| ≤ 300 s; a body one bit away from
//! the signed one (one byte longer when it is empty) never verifies.
#![no_main]

use arbitrary::Arbitrary;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

#[path = "../../host/src/webhook_signature.rs"]
mod webhook_signature;

use webhook_signature::{SignatureError, TOLERANCE_SECONDS, verify};

#[derive(Debug, Arbitrary)]
struct Input {
    /// A header as anyone could send it.
    header: Option<String>,
    body: Vec<u8>,
    secret: Vec<u8>,
    now: i64,
    /// The signed timestamp: near `now` (offset) or anywhere (far).
    offset: i16,
    far: Option<i64>,
    /// Other `v1` entries that do not match, before and after the real one.
    decoys_before: Vec<[u8; 32]>,
    decoys_after: Vec<[u8; 32]>,
    /// Which bit of the body to flip.
    bit: u32,
}

fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fuzz_target!(|input: Input| {
    // Anything at all: an answer, not a panic.
    let _ = verify(
        input.header.as_deref(),
        &input.body,
        &input.secret,
        input.now,
    );

    let t = input
        .far
        .unwrap_or_else(|| input.now.wrapping_add(i64::from(input.offset)));
    let mut entries = vec![format!("t={t}")];
    let decoy = |d: &[u8; 32]| format!("v1={}", hex::encode(d));
    entries.extend(input.decoys_before.iter().take(4).map(decoy));
    entries.push(format!("v1={}", sign(&input.secret, t, &input.body)));
    entries.extend(input.decoys_after.iter().take(4).map(decoy));
    entries.push("v0=0123".to_string());
    let header = entries.join(",");

    let within = (i128::from(input.now) - i128::from(t)).abs() <= i128::from(TOLERANCE_SECONDS);
    let got = verify(Some(&header), &input.body, &input.secret, input.now);
    if within {
        assert_eq!(
            got,
            Ok(()),
            "a correct signature at t={t}, now={}",
            input.now
        );
    } else {
        assert_eq!(got, Err(SignatureError::Stale), "t={t}, now={}", input.now);
    }

    let mut tampered = input.body.clone();
    if tampered.is_empty() {
        tampered.push(1);
    } else {
        let bit = input.bit as usize % (tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
    }
    let got = verify(Some(&header), &tampered, &input.secret, input.now);
    assert!(got.is_err(), "a changed body verified");
    if within {
        assert_eq!(got, Err(SignatureError::Mismatch));
    }
});
