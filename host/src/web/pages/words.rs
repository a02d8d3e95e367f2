//! How the pages say things to people: amounts in minor units, moments, waits.

pub use crate::access::money;

/// `2026-12-01 14:05 UTC`: a moment (Unix seconds), for people; `none` when there is none.
pub fn when(t: Option<i64>, none: &str) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| none.to_string())
}

/// `2026-12-01 14:05`: a moment in a table of them (all UTC), or nothing.
pub fn at(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// `12 seconds`, `3 minutes`: a wait, for people.
pub fn duration_words(seconds: i64) -> String {
    match seconds.max(1) {
        1 => "1 second".into(),
        s if s < 90 => format!("{s} seconds"),
        s => format!("{} minutes", (s + 59) / 60),
    }
}
