//! Validation of ids and free text at the edge.
//!
//! Ids become file names, so they are checked, not rewritten: the reference
//! turned `../../x` into `.._.._x`, which silently merged distinct ids. Here an
//! id that breaks the rule is refused with an error that states the rule.

use crate::error::{Error, Result};

/// Longest slot, milestone or lane id.
pub const MAX_ID_LEN: usize = 64;
/// Longest task or record id (generated task ids embed the slot id).
pub const MAX_TASK_ID_LEN: usize = 128;
/// Longest title or subject.
pub const MAX_TITLE_LEN: usize = 1_000;
/// Longest message body, description or summary.
pub const MAX_TEXT_LEN: usize = 64 * 1024;
/// Largest JSON payload (serialised).
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;
/// Most items in a string list (tests, criteria, dependencies, changed files).
pub const MAX_LIST_ITEMS: usize = 200;

/// The recipient that reaches every slot.
pub const BROADCAST: &str = "all";
/// The coordinator's slot id.
pub const COORDINATOR: &str = "coordinator";

const RULE: &str = "ids are 1 to N characters from A-Z a-z 0-9 . _ -, start with a letter or digit and never contain \"..\"";

fn check(field: &str, value: &str, max: usize) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && !value.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!(
                "{} (got {})",
                RULE.replace('N', &max.to_string()),
                preview(value)
            ),
        ))
    }
}

/// A slot id: the coordinator's or a worker's.
pub fn slot(field: &str, value: &str) -> Result<()> {
    check(field, value, MAX_ID_LEN)
}

/// A worker slot id: a slot id that is neither `coordinator` nor `all`.
pub fn worker_slot(field: &str, value: &str) -> Result<()> {
    slot(field, value)?;
    if value == BROADCAST {
        return Err(Error::invalid(
            field,
            "`all` is the broadcast address, not a slot",
        ));
    }
    Ok(())
}

/// A milestone or lane id.
pub fn short_id(field: &str, value: &str) -> Result<()> {
    check(field, value, MAX_ID_LEN)
}

/// A task id, a message id or a record id.
pub fn long_id(field: &str, value: &str) -> Result<()> {
    check(field, value, MAX_TASK_ID_LEN)
}

/// Free text: bounded, and without control characters other than newline and tab.
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("at most {max} bytes (got {} bytes)", value.len()),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(Error::invalid(
            field,
            format!("control character U+{:04X} is not allowed", c as u32),
        ));
    }
    Ok(())
}

/// A list of short strings.
pub fn list(field: &str, values: &[String]) -> Result<()> {
    if values.len() > MAX_LIST_ITEMS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_LIST_ITEMS} items (got {})", values.len()),
        ));
    }
    for v in values {
        text(field, v, MAX_TITLE_LEN)?;
    }
    Ok(())
}

/// A JSON payload: bounded when serialised.
pub fn payload(field: &str, value: &serde_json::Value) -> Result<()> {
    let len = serde_json::to_string(value)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if len > MAX_PAYLOAD_LEN {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_PAYLOAD_LEN} bytes of JSON (got {len})"),
        ));
    }
    Ok(())
}

/// Show at most 40 characters of a rejected value, with control characters escaped.
fn preview(value: &str) -> String {
    let shown: String = value.chars().take(40).collect();
    let mut out = format!("{shown:?}");
    if value.chars().count() > 40 {
        out.push_str(&format!(" ({} bytes)", value.len()));
    }
    out
}

/// FNV-1a: a stable 64-bit hash of a slot id, the same in every process.
pub(crate) fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_path_tricks_and_accepts_plain_ids() {
        for bad in ["", "../x", "a/b", "..", "a..b", ".hidden", "a\u{0}b", "a b"] {
            assert!(slot("slot", bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["session-01", "coordinator", "a.b_c-d", "X9"] {
            assert!(slot("slot", good).is_ok(), "{good:?} must be accepted");
        }
        assert!(slot("slot", &"a".repeat(65)).is_err());
        assert!(worker_slot("slot", "all").is_err());
    }

    #[test]
    fn text_limits() {
        assert!(text("m", "line\nnext\ttab", 100).is_ok());
        assert!(text("m", "bell\u{7}", 100).is_err());
        assert!(text("m", &"x".repeat(101), 100).is_err());
    }
}
