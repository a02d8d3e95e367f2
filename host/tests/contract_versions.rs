//! The contract's versioning policy (wit/types.wit), held by the files themselves: every frozen
//! release in `wit/since_v<major.minor>/` keeps its released bytes, and the current contract may
//! differ from the newest frozen one only under a higher version.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The released bytes of each frozen file, as SHA-256. A frozen release never changes; a new one
/// is added here when it is frozen.
const FROZEN: &[(&str, &str)] = &[
    (
        "since_v0.1/exports.wit",
        "1b89415e9d7067b7f2b9cf214ebb90bc96077c45e3329519b946b436c616c2ff",
    ),
    (
        "since_v0.1/imports.wit",
        "dfac9863d7dd779b9f48279bbeb975ef41d4f49c1d211d4f8b7de4612fb789f3",
    ),
    (
        "since_v0.1/types.wit",
        "e16dff25f21b25ad3ac372cbfa93941e1b6e77bc7f693cc52fc2686920e2ffc2",
    ),
];

const FILES: [&str; 3] = ["types.wit", "imports.wit", "exports.wit"];

fn wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (major, minor, patch) of the `package paydesk:stripe@…;` line, the same in every file of a folder.
fn version(dir: &Path) -> (u64, u64, u64) {
    let versions: Vec<(u64, u64, u64)> = FILES
        .iter()
        .map(|f| {
            let text = read(&dir.join(f));
            let line = text
                .lines()
                .find(|l| l.starts_with("package paydesk:stripe@"))
                .unwrap_or_else(|| panic!("{f} has no package line"));
            let v = line
                .trim_start_matches("package paydesk:stripe@")
                .trim_end_matches(';');
            let parts: Vec<u64> = v.split('.').map(|p| p.parse().unwrap()).collect();
            (parts[0], parts[1], parts[2])
        })
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] == w[1]),
        "{}: files disagree on the version: {versions:?}",
        dir.display()
    );
    versions[0]
}

/// The contract without its package lines and documentation comments: what a change of version
/// must follow.
fn shape(dir: &Path) -> String {
    FILES
        .iter()
        .map(|f| {
            read(&dir.join(f))
                .lines()
                .filter(|l| !l.starts_with("package ") && !l.trim_start().starts_with("///"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn frozen_releases_keep_their_released_bytes() {
    for (file, sha) in FROZEN {
        let bytes = std::fs::read(wit().join(file)).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            *sha,
            "{file} is a frozen release and must not change; make the change in wit/ under a new version"
        );
    }
    // Every frozen folder is listed above.
    for entry in std::fs::read_dir(wit()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("since_v") {
            for f in FILES {
                let listed = format!("{name}/{f}");
                assert!(
                    FROZEN.iter().any(|(p, _)| *p == listed),
                    "{listed} is not listed in FROZEN"
                );
            }
        }
    }
}

/// The folder of the newest frozen release.
fn newest_frozen() -> PathBuf {
    std::fs::read_dir(wit())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("since_v")
        })
        .max_by_key(|p| version(p))
        .expect("a frozen release")
}

#[test]
fn the_current_contract_differs_from_the_newest_frozen_one_only_under_a_higher_version() {
    let newest = newest_frozen();
    let (frozen, current) = (version(&newest), version(&wit()));
    assert_eq!(
        format!("since_v{}.{}", frozen.0, frozen.1),
        newest.file_name().unwrap().to_string_lossy(),
        "a frozen folder is named by its version"
    );
    if shape(&newest) == shape(&wit()) {
        assert!(
            current >= frozen,
            "the contract went back from {frozen:?} to {current:?}"
        );
    } else {
        // Before 1.0 a minor is the step for additions; after it, a minor or a major.
        assert!(
            (current.0, current.1) > (frozen.0, frozen.1),
            "wit/ changed since the frozen {frozen:?} but its version {current:?} did not rise \
             by a minor (additions) or a major (anything else)"
        );
    }
}

#[test]
fn the_current_contract_keeps_every_function_and_type_of_the_frozen_one() {
    // Additive only within a major (the policy treats 0.x minors the same way): every line of the
    // frozen shape that declares something is still there, unchanged.
    let newest = newest_frozen();
    if version(&wit()).0 > version(&newest).0 {
        return;
    }
    let current = shape(&wit());
    for line in shape(&newest).lines() {
        let t = line.trim();
        if t.is_empty() || t == "}" {
            continue;
        }
        assert!(
            current.lines().any(|l| l == line),
            "`{t}` of the frozen contract is gone or changed"
        );
    }
}
