//! `report_commit`: a worker reports the commit that finishes its task; and
//! the commit hook's error log.
//!
//! The ledger does not run git: the host layer reads the commit's facts
//! (sha, branch, subject, changed files) from the worktree this module names
//! ([`Store::report_worktree`]) and hands them in.

use std::path::{Path, PathBuf};

use crate::api::{self, CommitFacts, ReportCommitResponse};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::index::work::{self, WorkChange};
use crate::model::ids::{self, COORDINATOR, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::message::COMMIT_REPORT;
use crate::model::report::HookError;
use crate::model::{CommitReport, Payload, SlotId, TaskId, TaskStatus};
use crate::records;
use crate::store::Store;
use crate::time;

use super::messages::{Draft, append};
use super::tasks::{change, check_run};

fn is_sha(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Check a `report_commit` request and the caller's right to make it.
fn check(ctx: &Ctx, req: &api::ReportCommit) -> Result<SlotId> {
    let slot = SlotId::parse("slot", &req.slot)?;
    ctx.caller.require_self(&slot, "report commits", false)?;
    if let Some(t) = &req.task_id {
        ids::long_id("task_id", t)?;
    }
    for (f, v, max) in [
        ("branch", &req.branch, MAX_TITLE_LEN),
        ("subject", &req.subject, MAX_TITLE_LEN),
        ("body", &req.body, MAX_TEXT_LEN),
        ("run_id", &req.run_id, MAX_TITLE_LEN),
        ("sha", &req.sha, 200),
    ] {
        ids::text(f, v.as_deref().unwrap_or(""), max)?;
    }
    if let Some(c) = &req.changed {
        ids::list("changed", &c.0)?;
    }
    if let Some(w) = req.worktree.as_deref().filter(|s| !s.is_empty()) {
        ids::text("worktree", w, 4096)?;
        if !Path::new(w).is_absolute() {
            return Err(Error::invalid(
                "worktree",
                format!("must be an absolute path (got {w:?})"),
            ));
        }
    }
    Ok(slot)
}

impl api::ReportCommit {
    /// Does the report need git to fill in what the caller left out?
    pub fn needs_git(&self) -> bool {
        self.sha.as_deref().is_none_or(str::is_empty)
            || self.branch.as_deref().is_none_or(str::is_empty)
            || self.subject.as_deref().is_none_or(str::is_empty)
            || self.changed.is_none()
    }
}

impl Store {
    /// Check a `report_commit` request, and name the worktree to read the
    /// commit from: the one given, else the slot's registered worktree ("" when
    /// it has none). Refuses what `report_commit` would refuse, before any
    /// git runs.
    pub fn report_worktree(&self, ctx: &Ctx, req: &api::ReportCommit) -> Result<String> {
        let slot = check(ctx, req)?;
        if let Some(w) = req.worktree.as_deref().filter(|s| !s.is_empty()) {
            return Ok(w.to_string());
        }
        let reg = records::registry::load(&self.read()?)?;
        let wt = reg.entry_or_default(&slot).worktree;
        if req.needs_git() && wt.is_empty() {
            return Err(Error::invalid(
                "worktree",
                "the slot has no registered worktree; pass worktree or sha, branch, subject and changed",
            ));
        }
        Ok(wt)
    }

    /// `report_commit`: record a commit report, mark the task reported and
    /// tell the coordinator. Reporting the same commit twice is a no-op.
    pub fn report_commit(
        &self,
        ctx: &Ctx,
        req: &api::ReportCommit,
        facts: CommitFacts,
    ) -> Result<ReportCommitResponse> {
        let slot = check(ctx, req)?;
        let CommitFacts {
            worktree,
            sha,
            branch,
            subject,
            body,
            changed,
        } = facts;
        if !is_sha(&sha) {
            return Err(Error::invalid(
                "sha",
                format!("must be 7 to 64 hex digits (got {sha:?})"),
            ));
        }
        ids::text("subject", &subject, MAX_TITLE_LEN)?;
        ids::text("branch", &branch, MAX_TITLE_LEN)?;
        ids::text("body", &body, MAX_TEXT_LEN)?;
        ids::list("changed", &changed)?;

        let txn = self.write()?;
        let idx = work::load(&txn)?;
        if let Some(prev) = idx
            .recent_reports
            .iter()
            .rev()
            .find(|r| r.slot == slot.as_str() && r.sha == sha)
        {
            let report = records::reports::load_for(&txn, &slot, &prev.sha, &prev.created_at)
                .ok()
                .flatten()
                .unwrap_or_else(|| CommitReport {
                    id: prev.id.clone(),
                    kind: COMMIT_REPORT.into(),
                    slot: prev.slot.clone(),
                    sha: prev.sha.clone(),
                    branch: prev.branch.clone(),
                    subject: prev.subject.clone(),
                    changed: prev.changed.clone(),
                    worktree: prev.worktree.clone(),
                    task_id: prev.task_id.clone(),
                    created_at: prev.created_at.clone(),
                    ..CommitReport::default()
                });
            return Ok(ReportCommitResponse {
                already_reported: true,
                report,
                task: None,
                message: None,
            });
        }
        let task = match req.task_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => {
                let t = records::tasks::require(&txn, &TaskId::parse("task_id", id)?)?;
                if t.slot != slot.as_str() {
                    return Err(Error::forbidden(
                        "own_slot_only",
                        format!(
                            "task {id:?} belongs to slot {:?}, not {:?}",
                            t.slot,
                            slot.as_str()
                        ),
                    ));
                }
                Some(t)
            }
            None => match idx
                .active_for(&slot)
                .and_then(|r| TaskId::stored(&r.task_id))
            {
                Some(id) => Some(records::tasks::require(&txn, &id)?),
                None => None,
            },
        };
        if let Some(t) = &task {
            check_run(t, req.run_id.as_deref())?;
            if t.status.is_closed() {
                return Err(Error::conflict(
                    "task_closed",
                    format!("task {:?} is already {}", t.task_id, t.status),
                ));
            }
        }
        let now = time::now();
        let report = CommitReport {
            id: crate::model::message::new_id("report"),
            kind: COMMIT_REPORT.into(),
            slot: slot.to_string(),
            sha: sha.clone(),
            branch: branch.clone(),
            subject: subject.clone(),
            body,
            changed: changed.clone(),
            worktree: worktree.clone(),
            task_id: task.as_ref().map(|t| t.task_id.clone()),
            run_id: req.run_id.clone().filter(|s| !s.is_empty()),
            created_at: now.clone(),
            ..CommitReport::default()
        };
        let mut ch = WorkChange::begin(&txn, (*idx).clone())?;
        let mut updated = None;
        if let Some(old) = task {
            let mut t = old.clone();
            t.commit = Some(sha.clone());
            if !branch.is_empty() {
                t.branch = branch.clone();
            }
            t.set_status(
                TaskStatus::Reported,
                change(&slot, &now, req.run_id.as_deref()),
            );
            t.updated_at = Some(now.clone());
            records::tasks::save(&txn, &t)?;
            ch.apply(Some(&old), &t);
            updated = Some(t);
        }
        let mut lines = vec![
            format!("Slot: {slot}"),
            format!("Branch: {branch}"),
            format!("Commit: {sha}"),
            format!("Subject: {subject}"),
            String::new(),
            "Changed files:".to_string(),
        ];
        if changed.is_empty() {
            lines.push("- No files listed".into());
        } else {
            lines.extend(changed.iter().map(|c| format!("- {c}")));
        }
        lines.push(String::new());
        lines.push(format!("Report created: {now}"));
        let payload: Payload = match serde_json::to_value(&report) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => Payload::new(),
        };
        let message = append(
            &txn,
            Draft {
                kind: COMMIT_REPORT,
                from: &slot,
                to: COORDINATOR,
                subject: &format!("Commit {}: {subject}", &sha[..7.min(sha.len())]),
                message: &lines.join("\n"),
                task_id: report.task_id.as_deref(),
                payload,
                cwd: &worktree,
            },
        )?;
        // The report file last: it is what makes a retry answer
        // already_reported, so it must not exist before the message does.
        records::reports::save(&txn, &slot, &report)?;
        ch.add_report(&report);
        ch.commit()?;
        txn.commit()?;
        Ok(ReportCommitResponse {
            already_reported: false,
            report,
            task: updated,
            message: Some(message),
        })
    }

    /// Keep a hook failure as `reports/<stamp>_hook_error.json` (the
    /// reference's file; report listings skip it). Returns the file written.
    pub fn record_hook_error(&self, message: &str, context: Payload) -> Result<PathBuf> {
        let record = HookError {
            id: crate::model::message::new_id("hook"),
            kind: "hook_error".into(),
            message: message.chars().take(4_000).collect(),
            context,
            created_at: time::now(),
        };
        self.transact(|txn| records::reports::save_hook_error(txn, &record))
    }
}
