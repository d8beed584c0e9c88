//! Operations that change the store: a typed request in, a typed response
//! out, one write transaction each.
//!
//! Each checks its arguments first (ids parsed into [`SlotId`] and
//! [`TaskId`], texts bounded), then takes the exclusive lock, re-reads what
//! it changes, writes primary records durably and updates the derived
//! indexes. Composite operations (task import, the CLI's read-and-claim) run
//! their steps in one transaction.
//!
//! [`SlotId`]: crate::model::SlotId
//! [`TaskId`]: crate::model::TaskId

pub mod board;
pub mod commits;
pub mod import;
pub mod messages;
pub mod pause;
pub mod slots;
pub mod tasks;
pub mod wake;
pub mod watchdog;

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::ids;

/// A list limit: `default` when not given, clamped to 1..=200.
pub(crate) fn limit(v: Option<u32>, default: usize) -> usize {
    v.map(|n| n as usize).unwrap_or(default).clamp(1, 200)
}

/// An optional text argument, bounded ("" when absent).
pub(crate) fn text_opt(field: &str, v: &Option<String>, max: usize) -> Result<String> {
    let s = v.clone().unwrap_or_default();
    ids::text(field, &s, max)?;
    Ok(s)
}

/// An optional text argument, bounded; None when absent or empty.
pub(crate) fn nonempty(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>> {
    Ok(Some(text_opt(field, v, max)?).filter(|s| !s.is_empty()))
}

/// An absolute path on one line (a worktree), with `\` made `/`.
pub(crate) fn abs_path(field: &str, v: &str) -> Result<String> {
    ids::text(field, v, 4096)?;
    if v.contains('\n') || !Path::new(v).is_absolute() {
        return Err(Error::invalid(
            field,
            format!("must be an absolute path on one line (got {v:?})"),
        ));
    }
    Ok(v.replace('\\', "/"))
}

/// An optional worktree argument.
pub(crate) fn opt_worktree(v: &Option<String>) -> Result<Option<String>> {
    match v.as_deref().filter(|s| !s.is_empty()) {
        Some(w) => Ok(Some(abs_path("worktree", w)?)),
        None => Ok(None),
    }
}

pub(crate) fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("must be one of {} (got {v:?})", allowed.join(", ")),
        ))
    }
}
