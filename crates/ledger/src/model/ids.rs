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

/// A slot id that passed the id rule: the only thing a slot's file names
/// (cursor, heartbeat, inbox index) are ever built from.
///
/// Invariant: the string satisfies the id rule (at most [`MAX_ID_LEN`]).
/// `all` is a valid slot id as a recipient; [`SlotId::worker`] refuses it
/// where a real slot is meant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(String);

impl SlotId {
    /// Check `value` (named `field` in the error) and wrap it.
    pub fn parse(field: &str, value: &str) -> Result<SlotId> {
        check(field, value, MAX_ID_LEN)?;
        Ok(SlotId(value.to_string()))
    }

    /// A slot that can own work: any valid id but the broadcast address.
    pub fn worker(field: &str, value: &str) -> Result<SlotId> {
        let id = SlotId::parse(field, value)?;
        if id.is_broadcast() {
            return Err(Error::invalid(
                field,
                "`all` is the broadcast address, not a slot",
            ));
        }
        Ok(id)
    }

    /// A stored slot id, when it is valid (records written by other tools
    /// may hold anything).
    pub fn stored(value: &str) -> Option<SlotId> {
        SlotId::parse("slot", value).ok()
    }

    pub fn coordinator() -> SlotId {
        SlotId(COORDINATOR.to_string())
    }

    pub fn broadcast() -> SlotId {
        SlotId(BROADCAST.to_string())
    }

    pub fn is_coordinator(&self) -> bool {
        self.0 == COORDINATOR
    }

    pub fn is_broadcast(&self) -> bool {
        self.0 == BROADCAST
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A task (or record) id that passed the id rule (at most
/// [`MAX_TASK_ID_LEN`]): the only thing a task's file name is built from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(String);

impl TaskId {
    pub fn parse(field: &str, value: &str) -> Result<TaskId> {
        check(field, value, MAX_TASK_ID_LEN)?;
        Ok(TaskId(value.to_string()))
    }

    /// A stored task id, when it is valid.
    pub fn stored(value: &str) -> Option<TaskId> {
        TaskId::parse("task_id", value).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A background job's id (`job_<16 hex>` when codenator makes it) that
/// passed the id rule: the only thing a job's file names are built from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(String);

impl JobId {
    pub fn parse(field: &str, value: &str) -> Result<JobId> {
        check(field, value, MAX_ID_LEN)?;
        Ok(JobId(value.to_string()))
    }

    /// A stored job id, when it is valid.
    pub fn stored(value: &str) -> Option<JobId> {
        JobId::parse("job_id", value).ok()
    }

    /// A new, random job id.
    pub fn generate() -> JobId {
        JobId(crate::model::message::new_id("job"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! id_traits {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}
id_traits!(SlotId);
id_traits!(TaskId);
id_traits!(JobId);

/// A milestone or lane id.
pub fn short_id(field: &str, value: &str) -> Result<()> {
    check(field, value, MAX_ID_LEN)
}

/// A record id (message, report, wake attempt) or another long id.
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
pub fn payload<T: serde::Serialize + ?Sized>(field: &str, value: &T) -> Result<()> {
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
            assert!(
                SlotId::parse("slot", bad).is_err(),
                "{bad:?} must be refused"
            );
            assert!(
                TaskId::parse("task_id", bad).is_err(),
                "{bad:?} must be refused"
            );
        }
        for good in ["session-01", "coordinator", "a.b_c-d", "X9"] {
            assert!(
                SlotId::parse("slot", good).is_ok(),
                "{good:?} must be accepted"
            );
        }
        assert!(SlotId::parse("slot", &"a".repeat(65)).is_err());
        assert!(TaskId::parse("task_id", &"a".repeat(65)).is_ok());
        assert!(SlotId::worker("slot", "all").is_err());
        assert!(SlotId::parse("slot", "coordinator").is_ok_and(|s| s.is_coordinator()));
    }

    #[test]
    fn text_limits() {
        assert!(text("m", "line\nnext\ttab", 100).is_ok());
        assert!(text("m", "bell\u{7}", 100).is_err());
        assert!(text("m", &"x".repeat(101), 100).is_err());
    }
}
