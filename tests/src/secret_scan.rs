//! The scanner of the secret sweep (see [`crate::sweep`] for what is collected and where): finds
//! Stripe secret keys and webhook signing secrets in the artifacts of a whole test run, and fails a
//! run that left no artifacts of a required kind, so it cannot pass vacuously.
//!
//! It knows secrets two ways: by shape (`sk_test_`, `sk_live_`, `rk_test_`, `rk_live_` or `whsec_`
//! followed by key characters) and by value (every registered secret, also without its prefix).
//! The masked form the host shows (`sk_test_…4242`: the prefix, an ellipsis and at most the last
//! four characters) is allowed; more characters after the ellipsis is a finding. A finding names the
//! file, line, column, record and kind of secret, never the secret.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::sweep::Kind;

/// Prefixes of secrets, and what a value with that prefix is.
const PREFIXES: [(&str, &str); 5] = [
    ("sk_test_", "Stripe secret key"),
    ("sk_live_", "Stripe secret key"),
    ("rk_test_", "Stripe restricted key"),
    ("rk_live_", "Stripe restricted key"),
    ("whsec_", "webhook signing secret"),
];

/// The ellipsis of the masked form, as text, JSON escape and HTML entities.
const ELLIPSES: [&str; 5] = ["…", "\\u2026", "&hellip;", "&#8230;", "&#x2026;"];

/// Characters shown after the ellipsis in the masked form.
const MASK_TAIL: usize = 4;

/// A registered secret's value without its prefix is looked for when it is at least this long
/// (shorter ones, such as `shop`, occur in ordinary text).
const MIN_BARE_VALUE: usize = 10;

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Inside a word (`paydesk_live_…`, `network_test_…`): not the start of a secret.
fn inside_word(text: &[u8], at: usize) -> bool {
    at > 0 && {
        let b = text[at - 1];
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
    }
}

fn key_chars(text: &[u8], from: usize) -> usize {
    text[from..].iter().take_while(|b| is_key_char(**b)).count()
}

/// One secret found in a text; it says where and what, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line and column (in bytes).
    pub line: usize,
    pub column: usize,
    /// E.g. "Stripe secret key (sk_test_ + 12 characters)".
    pub what: String,
    /// The record the line belongs to (its `=== ` label), if any.
    pub record: Option<String>,
}

/// Every secret in `text`: values shaped like secrets, masked forms that show more than the last
/// four characters, and the registered `known` secrets (also without their prefix).
pub fn scan(text: &str, known: &[String]) -> Vec<Finding> {
    let bytes = text.as_bytes();
    let mut hits: Vec<(usize, String)> = Vec::new();
    for (prefix, name) in PREFIXES {
        for (at, _) in text.match_indices(prefix) {
            if inside_word(bytes, at) {
                continue;
            }
            let after = at + prefix.len();
            let n = key_chars(bytes, after);
            if n > 0 {
                hits.push((at, format!("{name} ({prefix} + {n} characters)")));
                continue;
            }
            if let Some(ellipsis) = ELLIPSES.iter().find(|e| text[after..].starts_with(**e)) {
                let shown = key_chars(bytes, after + ellipsis.len());
                if shown > MASK_TAIL {
                    hits.push((
                        at,
                        format!(
                            "{name} masked with {shown} characters shown ({prefix}… allows {MASK_TAIL})"
                        ),
                    ));
                }
            }
        }
    }
    // Every registered value at once, in one pass over the text (the sweep reads tens of MB
    // against a couple of hundred secrets), overlapping matches included.
    let bares: Vec<(&str, &str)> = known
        .iter()
        .map(|secret| {
            PREFIXES
                .iter()
                .find_map(|(p, _)| secret.strip_prefix(p).map(|rest| (*p, rest)))
                .unwrap_or(("", secret.as_str()))
        })
        .filter(|(_, bare)| bare.len() >= MIN_BARE_VALUE)
        .collect();
    let values = aho_corasick::AhoCorasick::new(bares.iter().map(|(_, bare)| bare))
        .expect("registered secrets make an automaton");
    for found in values.find_overlapping_iter(text) {
        let (prefix, bare) = bares[found.pattern().as_usize()];
        let at = found.start();
        // With its prefix it was found above.
        if !prefix.is_empty() && text[..at].ends_with(prefix) {
            continue;
        }
        hits.push((
            at,
            format!(
                "a registered secret's value without its prefix ({} characters)",
                bare.len()
            ),
        ));
    }
    hits.sort();
    hits.into_iter()
        .map(|(at, what)| {
            let before = &text[..at];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let record = before
                .rfind("\n=== ")
                .map(|i| i + 1)
                .or_else(|| before.starts_with("=== ").then_some(0))
                .map(|i| {
                    let label = &text[i + 4..];
                    let label = &label[..label.find('\n').unwrap_or(label.len())];
                    if scan(label, known).is_empty() {
                        label.chars().take(120).collect::<String>()
                    } else {
                        "(label withheld: it holds a secret)".to_string()
                    }
                });
            Finding {
                line: before.matches('\n').count() + 1,
                column: at - line_start + 1,
                what,
                record,
            }
        })
        .collect()
}

/// What one artifact kind came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub files: usize,
    pub bytes: u64,
}

/// The result of a sweep.
#[derive(Debug, Default)]
pub struct Report {
    pub root: PathBuf,
    /// Per kind: how many files, how many bytes.
    pub kinds: BTreeMap<Kind, Tally>,
    /// Registered secrets (distinct).
    pub secrets: usize,
    /// Required kinds with no (non-empty) artifact.
    pub missing: Vec<Kind>,
    /// Files found that are no artifact kind.
    pub unknown_files: Vec<PathBuf>,
    pub findings: Vec<(PathBuf, Finding)>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.findings.is_empty() && self.missing.is_empty()
    }
}

/// Scan every artifact under `root`. Errors only when `root` cannot be read at all.
pub fn sweep(root: &Path) -> std::io::Result<Report> {
    let mut report = Report {
        root: root.to_path_buf(),
        ..Report::default()
    };
    let mut files: Vec<(Kind, PathBuf)> = Vec::new();
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut entries: Vec<PathBuf> = fs::read_dir(&dir)?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match Kind::from_file_name(&name) {
                Some(kind) => files.push((kind, path)),
                None => report.unknown_files.push(path),
            }
        }
    }
    let mut known: Vec<String> = Vec::new();
    for (kind, path) in &files {
        let bytes = fs::read(path)?;
        let tally = report.kinds.entry(*kind).or_default();
        tally.files += 1;
        tally.bytes += bytes.len() as u64;
        if *kind == Kind::Secrets {
            known.extend(
                String::from_utf8_lossy(&bytes)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
    }
    known.sort();
    known.dedup();
    report.secrets = known.len();
    for (kind, path) in &files {
        if *kind == Kind::Secrets {
            continue;
        }
        let text = String::from_utf8_lossy(&fs::read(path)?).into_owned();
        report
            .findings
            .extend(scan(&text, &known).into_iter().map(|f| (path.clone(), f)));
    }
    report.missing = Kind::REQUIRED
        .into_iter()
        .filter(|k| report.kinds.get(k).is_none_or(|t| t.bytes == 0))
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whats(text: &str, known: &[&str]) -> Vec<String> {
        let known: Vec<String> = known.iter().map(|s| s.to_string()).collect();
        scan(text, &known).into_iter().map(|f| f.what).collect()
    }

    #[test]
    fn a_planted_secret_is_found_and_never_printed() {
        let text = "=== GET /settings 200\n{\"key\": \"sk_test_GoodKeyNeverShown7731\"}\n";
        let found = scan(text, &[]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 2);
        assert_eq!(found[0].column, 10);
        assert_eq!(found[0].record.as_deref(), Some("GET /settings 200"));
        assert!(found[0].what.contains("secret key"), "{}", found[0].what);
        assert!(!format!("{found:?}").contains("GoodKey"), "{found:?}");
        // Nor through the record's label.
        let found = scan(
            "=== GET /x?key=sk_test_GoodKey 200\nok sk_test_GoodKey\n",
            &[],
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(!format!("{found:?}").contains("GoodKey"), "{found:?}");
    }

    #[test]
    fn every_kind_of_secret_is_found() {
        for secret in [
            "sk_test_a",
            "sk_live_0123456789abcd",
            "rk_test_abc",
            "rk_live_abc",
            "whsec_FixtureSigningSecret0123456789",
        ] {
            for text in [
                format!("Bearer {secret}"),
                format!("\"{secret}\""),
                format!("key={secret}&x=1"),
                format!("value: {secret:?}"),
            ] {
                assert_eq!(whats(&text, &[]).len(), 1, "{text}");
            }
        }
    }

    #[test]
    fn the_masked_form_is_allowed_and_nothing_longer() {
        for allowed in [
            "sk_test_…4242",
            "sk_test_…",
            "whsec_…6789",
            "\"sk_live_\\u20269876\"",
            "<td>rk_live_&hellip;abcd</td>",
            "a secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_",
            "placeholder=\"sk_test_...\"",
        ] {
            assert_eq!(whats(allowed, &[]), Vec::<String>::new(), "{allowed}");
        }
        for too_long in ["sk_test_…Shown7731", "whsec_…56789", "sk_live_&#8230;abcde"] {
            let found = whats(too_long, &[]);
            assert_eq!(found.len(), 1, "{too_long}: {found:?}");
            assert!(found[0].contains("masked with"), "{found:?}");
        }
    }

    #[test]
    fn words_that_contain_a_prefix_are_not_secrets() {
        assert!(whats("paydesk_live_mode network_test_run task_test_x", &[]).is_empty());
    }

    #[test]
    fn a_registered_secret_is_found_without_its_prefix_too() {
        let known = ["sk_test_GoodKeyNeverShown7731", "sk_test_shop"];
        assert_eq!(
            whats("the key GoodKeyNeverShown7731 leaked", &known).len(),
            1
        );
        // With its prefix: one finding, not two.
        assert_eq!(whats("sk_test_GoodKeyNeverShown7731", &known).len(), 1);
        // Short values are only looked for with their prefix.
        assert!(whats("shop", &known).is_empty());
        assert!(whats("sk_test_…7731", &known).is_empty());
    }

    #[test]
    fn the_sweep_fails_on_a_planted_secret_and_on_missing_artifacts() {
        let root = tempfile::tempdir().unwrap();
        // Nothing there: it cannot pass.
        let empty = sweep(root.path()).unwrap();
        assert!(!empty.passed());
        assert_eq!(empty.missing, Kind::REQUIRED.to_vec());
        // Every required kind, all clean.
        let dir = root.path().join("suite-1");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("secrets.txt"), "sk_test_GoodKeyNeverShown7731\n").unwrap();
        fs::write(dir.join("logs.txt"), "INFO saved key sk_test_…7731\n").unwrap();
        fs::write(dir.join("responses.txt"), "=== GET / 200\nok\n").unwrap();
        fs::write(dir.join("emails.txt"), "=== mail\nPaid\n").unwrap();
        fs::write(dir.join("guest-inputs.txt"), "=== http.send\nOk(..)\n").unwrap();
        let clean = sweep(root.path()).unwrap();
        assert!(clean.passed(), "{clean:?}");
        assert_eq!(clean.secrets, 1);
        // A secret planted in one email.
        fs::write(
            dir.join("emails.txt"),
            "=== mail\nYour key is GoodKeyNeverShown7731\n",
        )
        .unwrap();
        let dirty = sweep(root.path()).unwrap();
        assert!(!dirty.passed());
        assert_eq!(dirty.findings.len(), 1, "{:?}", dirty.findings);
        assert!(dirty.findings[0].0.ends_with("emails.txt"));
        // An empty required file counts as missing.
        fs::write(dir.join("emails.txt"), "").unwrap();
        assert_eq!(sweep(root.path()).unwrap().missing, vec![Kind::Emails]);
    }
}
