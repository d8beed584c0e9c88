//! Which slot owns a directory.
//!
//! A slot owns a directory when its registered worktree is that directory or
//! contains it. Paths are compared component by component and
//! case-sensitively (the reference compared lower-cased string prefixes, so
//! `/wt/a` claimed `/wt/abc` and `/WT/A`); when several worktrees contain the
//! directory (nested worktrees) the deepest one wins, and two slots
//! registered on the same worktree are reported as ambiguous rather than
//! resolved by registry order.

use std::path::{Component, Path, PathBuf};

use crate::error::Result;
use crate::model::Registry;
use crate::store::Store;

/// The answer to "which slot owns this directory?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotMatch {
    /// No registered worktree contains the directory.
    None,
    /// Exactly one slot's worktree is the deepest that contains it.
    One(String),
    /// Several slots registered the same (deepest) worktree.
    Ambiguous(Vec<String>),
}

impl SlotMatch {
    /// The slot, when exactly one matched.
    pub fn slot(&self) -> Option<&str> {
        match self {
            SlotMatch::One(s) => Some(s),
            _ => None,
        }
    }
}

/// Lexically normalise an absolute path: drop `.` and resolve `..`.
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The forms a path may be compared in: as written (normalised), and with
/// symlinks resolved when it exists.
fn forms(p: &Path) -> Vec<PathBuf> {
    let mut v = vec![normalise(p)];
    if let Ok(c) = std::fs::canonicalize(p)
        && !v.contains(&c)
    {
        v.push(c);
    }
    v
}

/// Which registered slot owns `path` (pure: the caller loaded the registry).
pub fn slot_for_path(reg: &Registry, path: &Path) -> SlotMatch {
    if !path.is_absolute() {
        return SlotMatch::None;
    }
    let targets = forms(path);
    // (depth of the matching worktree, slot)
    let mut hits: Vec<(usize, String)> = Vec::new();
    for slot in reg.all_slots() {
        let Some(e) = reg.entry(&slot) else { continue };
        let wt = e.worktree.as_str();
        if wt.is_empty() || !Path::new(wt).is_absolute() {
            continue;
        }
        let best = forms(Path::new(wt))
            .into_iter()
            .filter(|w| targets.iter().any(|t| t.starts_with(w)))
            .map(|w| w.components().count())
            .max();
        if let Some(depth) = best {
            hits.push((depth, slot));
        }
    }
    let Some(deepest) = hits.iter().map(|(d, _)| *d).max() else {
        return SlotMatch::None;
    };
    let mut slots: Vec<String> = hits
        .into_iter()
        .filter(|(d, _)| *d == deepest)
        .map(|(_, s)| s)
        .collect();
    slots.sort();
    slots.dedup();
    if slots.len() == 1 {
        SlotMatch::One(slots.remove(0))
    } else {
        SlotMatch::Ambiguous(slots)
    }
}

impl Store {
    /// Which registered slot owns `path` (read under the shared lock).
    pub fn slot_for_path(&self, path: &Path) -> Result<SlotMatch> {
        Ok(slot_for_path(
            &crate::records::registry::load(&self.read()?)?,
            path,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(_store: &Store, worktrees: &[(&str, &str)]) -> Registry {
        let mut r = Registry::new("2026-01-01T00:00:00.000Z");
        for (slot, wt) in worktrees {
            let id = crate::model::SlotId::parse("slot", slot).expect("slot");
            r.entry_mut(&id).worktree = wt.to_string();
        }
        r
    }

    #[test]
    fn exact_inside_longest_and_case_sensitive() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let r = reg(
            &store,
            &[
                ("outer", "/nowhere/wt"),
                ("inner", "/nowhere/wt/sub"),
                ("abc", "/nowhere/abc"),
            ],
        );
        let m = |p: &str| slot_for_path(&r, Path::new(p));
        assert_eq!(m("/nowhere/wt"), SlotMatch::One("outer".into()));
        assert_eq!(m("/nowhere/wt/x/y"), SlotMatch::One("outer".into()));
        assert_eq!(m("/nowhere/wt/sub/deeper"), SlotMatch::One("inner".into()));
        assert_eq!(m("/nowhere/wt/sub/../x"), SlotMatch::One("outer".into()));
        // A string prefix is not a path prefix, and case matters.
        assert_eq!(m("/nowhere/wtx"), SlotMatch::None);
        assert_eq!(m("/nowhere/ab"), SlotMatch::None);
        assert_eq!(m("/NOWHERE/wt"), SlotMatch::None);
        assert_eq!(m("relative/wt"), SlotMatch::None);
        let r2 = reg(&store, &[("a", "/same"), ("b", "/same/")]);
        assert_eq!(
            slot_for_path(&r2, Path::new("/same/x")),
            SlotMatch::Ambiguous(vec!["a".into(), "b".into()])
        );
    }
}
