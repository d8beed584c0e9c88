//! Slot threads: starting one (`thread-start`) and finding the ones Codex
//! already has (`thread-discover`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use app_server_client::protocol::{ApprovalPolicy, SandboxMode};
use app_server_client::sessions::{self, SessionThread};
use app_server_client::threads::{self, Server, StartRequest, Started, readiness_token};
use ledger::{Ctx, Store, api};
use serde::Serialize;

use crate::Settings;

/// `thread-start`'s arguments.
#[derive(Clone, Debug)]
pub struct ThreadStart {
    pub slot: String,
    pub cwd: PathBuf,
    /// Default: the reference's readiness prompt, expecting `READY_<SLOT>`.
    pub prompt: Option<String>,
    pub expected: Option<String>,
    pub url: Option<String>,
    pub timeout: Duration,
}

#[derive(Clone, Debug, Serialize)]
pub struct ThreadStartReport {
    #[serde(flatten)]
    pub started: Started,
    /// The thread is now the slot's `app_server_thread_id`.
    pub registered: bool,
}

/// Start a persistent thread in `cwd`, run one readiness turn (a thread
/// without a turn has no rollout: it could be neither resumed nor queued),
/// then register it as the slot's `app_server_thread_id` (no other field
/// changes).
pub async fn start(
    store: &Store,
    ctx: &Ctx,
    s: &Settings,
    t: &ThreadStart,
) -> anyhow::Result<ThreadStartReport> {
    ledger::SlotId::worker("slot", &t.slot)?;
    let token = readiness_token(&t.slot);
    let (prompt, expected) = match &t.prompt {
        Some(p) => (p.clone(), t.expected.clone()),
        None => (
            format!(
                "Codenator headless slot {}. Reply exactly: {token}.",
                t.slot
            ),
            Some(t.expected.clone().unwrap_or(token)),
        ),
    };
    let server = match &t.url {
        Some(u) => Server::Url(u.clone()),
        None => Server::Spawn(s.codex.clone()),
    };
    let started = threads::start(
        &server,
        &StartRequest {
            cwd: t.cwd.clone(),
            prompt,
            expected,
            approval_policy: s.approval_policy,
            sandbox: s.sandbox,
            ephemeral: false,
            base_instructions: Some(
                "Codenator headless slot. Follow the user turn and use the registered tools only."
                    .into(),
            ),
            effort: s.effort.clone(),
            timeout: t.timeout,
            policy: s.policy_for(&t.cwd.display().to_string()),
        },
    )
    .await;
    let mut registered = false;
    if let (true, Some(id)) = (started.ok, &started.thread_id) {
        store.register_slot(
            ctx,
            &api::RegisterSlot {
                slot: t.slot.clone(),
                app_server_thread_id: Some(id.clone()),
                app_server_url: t.url.clone(),
                ..api::RegisterSlot::default()
            },
        )?;
        registered = true;
    }
    Ok(ThreadStartReport {
        started,
        registered,
    })
}

/// The harmless proof: an ephemeral, read-only thread, one turn that must
/// answer a token, nothing written.
pub async fn proof(server: &Server, cwd: &Path, timeout: Duration) -> Started {
    const TOKEN: &str = "APP_SERVER_WAKE_OK";
    threads::start(
        server,
        &StartRequest {
            cwd: cwd.to_path_buf(),
            prompt: format!("Harmless app-server proof. Reply exactly: {TOKEN}."),
            expected: Some(TOKEN.into()),
            approval_policy: ApprovalPolicy::Never,
            sandbox: SandboxMode::ReadOnly,
            ephemeral: true,
            base_instructions: Some(
                "Harmless connectivity proof. Do not inspect or modify files. Reply briefly only."
                    .into(),
            ),
            effort: Some("low".into()),
            timeout,
            policy: app_server_client::Policy::decline_all(),
        },
    )
    .await
}

/// A proposed thread for a slot.
#[derive(Clone, Debug, Serialize)]
pub struct Proposal {
    pub slot: String,
    pub thread_id: String,
    /// explicit_slot (a user message names the slot) or worktree (the
    /// session ran in the slot's registered worktree).
    pub confidence: &'static str,
    pub session_started_at: Option<String>,
    pub cwd: Option<String>,
    /// A worktree the session was told to work in (shown, never applied).
    pub worktree_hint: Option<String>,
    pub title: String,
    pub file: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub slot: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiscoverReport {
    pub sessions_dir: String,
    pub scanned: usize,
    pub proposals: Vec<Proposal>,
    pub skipped: Vec<Skipped>,
    pub applied: Vec<Proposal>,
}

/// Does `text` name `slot` as in "slot session-01" (the word `slot`, any
/// case, then the id exactly, not followed by another id character)?
pub fn names_slot(text: &str, slot: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = lower[from..].find("slot") {
        let start = from + i;
        from = start + 4;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let rest = &text[from..];
        let trimmed = rest.trim_start_matches([' ', '\t', ':', '`', '"', '\'']);
        if before_ok && trimmed.len() < rest.len() && trimmed.starts_with(slot) {
            // The id ends there: nothing that could continue it follows (a
            // full stop may, when the sentence ends with the id).
            let mut after = trimmed[slot.len()..].chars();
            let id_char = |c: char| c.is_ascii_alphanumeric() || "_-".contains(c);
            let ends = match after.next() {
                None => true,
                Some('.') => !after.next().is_some_and(|c| id_char(c) || c == '.'),
                Some(c) => !id_char(c),
            };
            if ends {
                return true;
            }
        }
    }
    false
}

/// A path on the line after "Work in" / "worktree" (or on one of the next
/// three lines): POSIX (`/…`) or Windows (`C:\…`, `C:/…`).
pub fn worktree_hint(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let lower = l.to_lowercase();
        let Some(pos) = ["work in", "worktree", "работай в"]
            .iter()
            .find_map(|k| lower.find(k).map(|p| p + k.len()))
        else {
            continue;
        };
        let tail = lower
            .get(pos..)
            .map(|_| &l[pos.min(l.len())..])
            .unwrap_or("");
        for candidate in std::iter::once(tail).chain(lines.iter().skip(i + 1).take(3).copied()) {
            if let Some(p) = first_path(candidate) {
                return Some(p);
            }
        }
    }
    None
}

fn first_path(s: &str) -> Option<String> {
    s.split_whitespace()
        .map(|w| w.trim_matches(|c: char| "`\"'.,;:()<>".contains(c) && c != ':'))
        .map(|w| w.trim_end_matches(['.', ',', ';']))
        .find(|w| {
            let b = w.as_bytes();
            w.starts_with('/')
                || (b.len() >= 3
                    && b[0].is_ascii_alphabetic()
                    && b[1] == b':'
                    && (b[2] == b'\\' || b[2] == b'/'))
        })
        .map(|w| w.trim_matches('`').to_string())
}

/// Two paths name the same directory (trailing separators ignored; Windows
/// drive paths case-insensitively).
fn same_dir(a: &str, b: &str) -> bool {
    let norm = |p: &str| {
        let t = p.trim_end_matches(['/', '\\']).replace('\\', "/");
        if t.as_bytes().get(1) == Some(&b':') {
            t.to_ascii_lowercase()
        } else {
            t
        }
    };
    !a.is_empty() && norm(a) == norm(b)
}

/// Propose a thread for each registered worker slot that has none (neither
/// an `app_server_thread_id` nor a thread bound through MCP
/// `_meta.threadId`), from the newest `limit` session files under
/// `sessions_dir`. A session naming the slot wins over one that merely ran
/// in its worktree; among equals, the newest file wins.
pub fn discover(
    store: &Store,
    ctx: &Ctx,
    sessions_dir: &Path,
    limit: usize,
    only: &[String],
) -> anyhow::Result<DiscoverReport> {
    let status = store.get_status(ctx, &api::GetStatus::default())?;
    let found: Vec<SessionThread> = sessions::scan(sessions_dir, limit);
    let mut proposals = Vec::new();
    let mut skipped = Vec::new();
    for row in &status.slots {
        if row.slot == ledger::model::ids::COORDINATOR {
            continue;
        }
        if !only.is_empty() && !only.contains(&row.slot) {
            continue;
        }
        let known = row
            .app_server_thread_id
            .as_deref()
            .or(row.codex_thread_id.as_deref())
            .filter(|t| !t.is_empty());
        if let Some(t) = known {
            skipped.push(Skipped {
                slot: row.slot.clone(),
                reason: format!("thread_known ({t})"),
            });
            continue;
        }
        let explicit = found
            .iter()
            .find(|s| s.user_texts.iter().any(|t| names_slot(t, &row.slot)));
        let by_worktree = || {
            found
                .iter()
                .find(|s| s.cwd.as_deref().is_some_and(|c| same_dir(c, &row.worktree)))
        };
        let (session, confidence) = match explicit {
            Some(s) => (s, "explicit_slot"),
            None => match by_worktree() {
                Some(s) => (s, "worktree"),
                None => {
                    skipped.push(Skipped {
                        slot: row.slot.clone(),
                        reason: "no_session_found".into(),
                    });
                    continue;
                }
            },
        };
        let text = session.user_texts.first().cloned().unwrap_or_default();
        proposals.push(Proposal {
            slot: row.slot.clone(),
            thread_id: session.thread_id.clone(),
            confidence,
            session_started_at: session.started_at.clone(),
            cwd: session.cwd.clone(),
            worktree_hint: session.user_texts.iter().find_map(|t| worktree_hint(t)),
            title: text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(120)
                .collect(),
            file: session.file.display().to_string(),
        });
    }
    Ok(DiscoverReport {
        sessions_dir: sessions_dir.display().to_string(),
        scanned: found.len(),
        proposals,
        skipped,
        applied: Vec::new(),
    })
}

/// Register each proposal's thread as its slot's `app_server_thread_id`;
/// nothing else of the slot changes.
pub fn apply(store: &Store, ctx: &Ctx, report: &mut DiscoverReport) -> anyhow::Result<()> {
    for p in &report.proposals {
        store.register_slot(
            ctx,
            &api::RegisterSlot {
                slot: p.slot.clone(),
                app_server_thread_id: Some(p.thread_id.clone()),
                ..api::RegisterSlot::default()
            },
        )?;
        report.applied.push(p.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_slot_matches_whole_ids_only() {
        assert!(names_slot("You are slot session-01.", "session-01"));
        assert!(names_slot(
            "Codenator headless slot worker-1. Reply",
            "worker-1"
        ));
        assert!(!names_slot("slot worker-1.5", "worker-1"));
        assert!(names_slot("Codenator headless SLOT worker_a", "worker_a"));
        assert!(names_slot("slot: `w-3`", "w-3"));
        assert!(!names_slot("slot session-012", "session-01"));
        assert!(!names_slot("timeslot session-01", "session-01"));
        assert!(!names_slot("session-01", "session-01"));
    }

    #[test]
    fn worktree_hints_read_posix_and_windows_paths() {
        assert_eq!(
            worktree_hint("Slot w1.\nWork in: /srv/wt/one.").as_deref(),
            Some("/srv/wt/one")
        );
        assert_eq!(
            worktree_hint("Your worktree:\n  C:\\src\\wt-two").as_deref(),
            Some("C:\\src\\wt-two")
        );
        assert_eq!(
            worktree_hint("Работай в E:/code/three").as_deref(),
            Some("E:/code/three")
        );
        assert_eq!(worktree_hint("nothing here"), None);
    }

    #[test]
    fn same_dir_ignores_trailing_separators() {
        assert!(same_dir("/w/one/", "/w/one"));
        assert!(same_dir("C:\\W\\One", "c:/w/one"));
        assert!(!same_dir("/w/One", "/w/one"));
        assert!(!same_dir("", ""));
    }
}
