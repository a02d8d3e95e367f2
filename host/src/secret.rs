//! The `Secret` wrapper for Stripe keys and webhook signing secrets: its `Debug` and `Display` print
//! `***`, [`Secret::masked`] is the form pages may show, and the value is read (`expose`) only where
//! a header is built or a signature checked.

use std::fmt;

/// A secret string. Never printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A form safe to show: the prefix up to the mode and the last four characters (`sk_test_…4242`).
    pub fn masked(&self) -> String {
        let s = &self.0;
        let prefix_end = [
            "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_", "whsec_",
        ]
        .iter()
        .find(|p| s.starts_with(**p))
        .map_or(0, |p| p.len());
        let tail: String = s
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if s.chars().count() <= prefix_end + 4 {
            format!("{}…", &s[..prefix_end])
        } else {
            format!("{}…{tail}", &s[..prefix_end])
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
