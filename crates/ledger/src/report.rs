//! `report_commit`: a worker reports the commit that finishes its task.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::api;
use crate::error::{Error, Result};
use crate::fsutil::{self, Durability};
use crate::ids::{self, COORDINATOR, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::messages;
use crate::ops::{Ctx, check_run, stamp_status};
use crate::registry::str_field;
use crate::store::Store;
use crate::tasks;
use crate::time;

/// Run git in `dir` and return its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
    if !out.status.success() {
        return Err(Error::invalid(
            "worktree",
            format!(
                "git {} failed in {}: {}",
                args.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

fn is_sha(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    /// `report_commit`: record a commit report, mark the task reported and
    /// tell the coordinator. Reporting the same commit twice is a no-op.
    pub fn report_commit(&self, ctx: &Ctx, req: &api::ReportCommit) -> Result<Value> {
        ids::slot("slot", &req.slot)?;
        ctx.caller
            .require_self(&req.slot, "report commits", false)?;
        if let Some(t) = &req.task_id {
            ids::long_id("task_id", t)?;
        }
        for (f, v, max) in [
            ("branch", &req.branch, MAX_TITLE_LEN),
            ("subject", &req.subject, MAX_TITLE_LEN),
            ("body", &req.body, MAX_TEXT_LEN),
            ("run_id", &req.run_id, MAX_TITLE_LEN),
        ] {
            ids::text(f, v.as_deref().unwrap_or(""), max)?;
        }
        if let Some(c) = &req.changed {
            ids::list("changed", &c.0)?;
        }
        let worktree = match req.worktree.as_deref().filter(|s| !s.is_empty()) {
            Some(w) => {
                ids::text("worktree", w, 4096)?;
                if !Path::new(w).is_absolute() {
                    return Err(Error::invalid(
                        "worktree",
                        format!("must be an absolute path (got {w:?})"),
                    ));
                }
                w.to_string()
            }
            None => {
                let _l = self.lock_shared()?;
                let reg = self.registry()?;
                reg.entry(&req.slot)
                    .map(|e| str_field(e, "worktree").to_string())
                    .unwrap_or_default()
            }
        };
        let needs_git = req.sha.as_deref().is_none_or(str::is_empty)
            || req.branch.as_deref().is_none_or(str::is_empty)
            || req.subject.as_deref().is_none_or(str::is_empty)
            || req.changed.is_none();
        if needs_git && worktree.is_empty() {
            return Err(Error::invalid(
                "worktree",
                "the slot has no registered worktree; pass worktree or sha, branch, subject and changed",
            ));
        }
        let wt = Path::new(&worktree);
        let sha = match req.sha.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => s.to_string(),
            None => git(wt, &["rev-parse", "HEAD"])?,
        };
        if !is_sha(&sha) {
            return Err(Error::invalid(
                "sha",
                format!("must be 7 to 64 hex digits (got {sha:?})"),
            ));
        }
        let pick = |given: &Option<String>, args: &[&str]| -> Result<String> {
            match given.as_deref().filter(|s| !s.is_empty()) {
                Some(v) => Ok(v.to_string()),
                None => git(wt, args),
            }
        };
        let branch = pick(&req.branch, &["branch", "--show-current"])?;
        let subject = pick(&req.subject, &["log", "-1", "--pretty=%s", &sha])?;
        let body = match (&req.body, needs_git) {
            (Some(b), _) => b.clone(),
            (None, true) => git(wt, &["log", "-1", "--pretty=%b", &sha])?,
            (None, false) => String::new(),
        };
        let changed: Vec<String> = match &req.changed {
            Some(c) => c.0.clone(),
            None => git(
                wt,
                &[
                    "diff-tree",
                    "--no-commit-id",
                    "--name-status",
                    "-r",
                    "--root",
                    &sha,
                ],
            )?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        };

        let _lock = self.lock_exclusive()?;
        let mut idx = tasks::load_index(self, true)?;
        if let Some(prev) = idx
            .recent_reports
            .iter()
            .rev()
            .find(|r| r["slot"] == json!(req.slot) && r["sha"] == json!(sha))
        {
            return Ok(json!({"already_reported": true, "report": prev, "message": Value::Null}));
        }
        let task = match req.task_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => {
                let t = tasks::require(self, id)?;
                if t.slot != req.slot {
                    return Err(Error::forbidden(
                        "own_slot_only",
                        format!(
                            "task {id:?} belongs to slot {:?}, not {:?}",
                            t.slot, req.slot
                        ),
                    ));
                }
                Some(t)
            }
            None => {
                let active = idx
                    .open_for(&req.slot)
                    .into_iter()
                    .filter(|r| r.status == "active")
                    .max_by_key(|r| r.started_at.clone())
                    .map(|r| r.task_id.clone());
                match active {
                    Some(id) => Some(tasks::require(self, &id)?),
                    None => None,
                }
            }
        };
        if let Some(t) = &task {
            check_run(t, req.run_id.as_deref())?;
            if tasks::is_closed(&t.status) {
                return Err(Error::conflict(
                    "task_closed",
                    format!("task {:?} is already {}", t.task_id, t.status),
                ));
            }
        }
        let now = time::now();
        let id = messages::new_id("report");
        let report = json!({
            "id": id, "type": "commit_report", "slot": req.slot, "sha": sha,
            "branch": branch, "subject": subject, "body": body, "changed": changed,
            "worktree": worktree, "task_id": task.as_ref().map(|t| t.task_id.clone()),
            "run_id": req.run_id.clone().filter(|s| !s.is_empty()),
            "created_at": now,
        });
        tasks::begin(self)?;
        let mut updated = Value::Null;
        if let Some(old) = task {
            let mut t = old.clone();
            t.status = "reported".into();
            t.commit = Some(sha.clone());
            if !branch.is_empty() {
                t.branch = branch.clone();
            }
            stamp_status(&mut t, &now);
            t.updated_at = Some(now.clone());
            tasks::save(self, &t)?;
            idx.apply(Some(&old), &t);
            updated = t.to_json();
        }
        let mut lines = vec![
            format!("Slot: {}", req.slot),
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
        let task_id = report["task_id"].as_str().map(str::to_owned);
        let msg = self.append_message(
            "commit_report",
            &req.slot,
            COORDINATOR,
            &format!("Commit {}: {subject}", &sha[..7.min(sha.len())]),
            &lines.join("\n"),
            task_id.as_deref(),
            report.clone(),
            &worktree,
        )?;
        // The report file last: it is what makes a retry answer
        // already_reported, so it must not exist before the message does.
        let short = &sha[..12.min(sha.len())];
        fsutil::write_json(
            &self.path(&format!(
                "reports/{}_{}_{short}.json",
                time::stamp(&now),
                req.slot
            )),
            &report,
            Durability::Durable,
        )?;
        if let Value::Object(r) = &report {
            idx.add_report(r);
        }
        tasks::commit(self, &mut idx)?;
        Ok(json!({"already_reported": false, "report": report, "task": updated, "message": msg}))
    }
}
