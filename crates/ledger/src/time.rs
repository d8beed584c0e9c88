//! Timestamps in the reference's format: ISO-8601 UTC with milliseconds.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, as `2026-05-19T10:00:00.000Z`.
pub fn now() -> String {
    format(Utc::now())
}

pub fn format(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parse a stored timestamp; `None` when it is not a valid RFC 3339 time.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// File-name stamp: the ISO time with `:` and `.` replaced by `-`, so file
/// names sort chronologically.
pub fn stamp(iso: &str) -> String {
    iso.replace([':', '.'], "-")
}

/// Compact stamp for generated task ids: `YYYYMMDDTHHMMSS`.
pub fn compact(iso: &str) -> String {
    iso.replace(['-', ':'], "").chars().take(15).collect()
}
