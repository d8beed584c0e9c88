//! Read views: pure reads under one shared lock, writing nothing (not even
//! a default board).
//!
//! [`snapshot`] is one consistent read of the store that the others build
//! on; [`slot_health`] is the one decision about a slot that the wake plan,
//! recovery and the watchdog all present, each under the reference's names.

pub mod board;
pub mod pause;
pub mod recent;
pub mod recovery;
pub mod slot_health;
pub mod snapshot;
pub mod stamp;
pub mod status;
pub mod tasks;
pub mod wake_plan;
pub mod worktrees;

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};
use crate::time;

pub use snapshot::Snapshot;

/// Resolve an optional ISO time: (parsed, as given or formatted now).
pub(crate) fn checked_at(v: Option<&str>) -> Result<(DateTime<Utc>, String)> {
    match v.filter(|s| !s.is_empty()) {
        Some(s) => Ok((
            time::parse(s).ok_or_else(|| {
                Error::invalid("checked_at", format!("not an ISO-8601 time: {s:?}"))
            })?,
            s.to_string(),
        )),
        None => {
            let n = Utc::now();
            Ok((n, time::format(n)))
        }
    }
}

/// A window in minutes, refused unless finite and positive.
pub(crate) fn minutes(field: &str, v: Option<f64>, default: f64) -> Result<Duration> {
    let m = v.unwrap_or(default);
    if !m.is_finite() || m <= 0.0 {
        return Err(Error::invalid(
            field,
            format!("must be a positive number of minutes (got {m})"),
        ));
    }
    Ok(Duration::milliseconds((m * 60_000.0) as i64))
}
