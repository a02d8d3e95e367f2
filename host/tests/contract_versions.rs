//! The contract's versioning policy (wit/types.wit), held by the files themselves: every frozen
//! line in `wit/since_v<line>/` keeps its released bytes, and the current contract may differ from
//! the newest frozen one only under a higher version — additively within the same line (a patch
//! before 1.0), or in anything as a new line (a minor before 1.0, a major after).

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

/// The compatible line of a version, as the component model resolves names: `0.minor` before
/// 1.0 (the minor is the breaking position), the major after.
fn line(v: (u64, u64, u64)) -> (u64, u64) {
    if v.0 == 0 { (0, v.1) } else { (v.0, 0) }
}

/// The additive step within a line: the patch before 1.0, the minor after.
fn step(v: (u64, u64, u64)) -> u64 {
    if v.0 == 0 { v.2 } else { v.1 }
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
    let (l0, l1) = line(frozen);
    assert_eq!(
        if l0 == 0 {
            format!("since_v0.{l1}")
        } else {
            format!("since_v{l0}")
        },
        newest.file_name().unwrap().to_string_lossy(),
        "a frozen folder is named by its line"
    );
    assert!(
        current >= frozen,
        "the contract went back from {frozen:?} to {current:?}"
    );
    if shape(&newest) != shape(&wit()) && line(current) == line(frozen) {
        // Within a line only an additive release may change the shape.
        assert!(
            step(current) > step(frozen),
            "wit/ changed since the frozen {frozen:?} but its version {current:?} did not rise \
             by an additive step (the patch before 1.0, the minor after) nor start a new line"
        );
    }
}

#[test]
fn within_a_line_the_current_contract_keeps_every_function_and_type_of_the_frozen_one() {
    // Additive only within a line: every line of the frozen shape that declares something is
    // still there, unchanged. A new line (0.1 → 0.2, 1.x → 2.0) may change anything; the host keeps
    // a binding of the frozen line.
    let newest = newest_frozen();
    if line(version(&wit())) != line(version(&newest)) {
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

#[test]
fn lines_are_the_ones_the_component_model_resolves() {
    assert_eq!(line((0, 1, 0)), line((0, 1, 7)));
    assert_ne!(line((0, 1, 0)), line((0, 2, 0)));
    assert_eq!(line((1, 0, 0)), line((1, 4, 2)));
    assert_ne!(line((1, 9, 0)), line((2, 0, 0)));
}
