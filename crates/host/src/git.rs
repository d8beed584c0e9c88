//! git, run in a slot's worktree: the facts of a reported commit, and the
//! current branch.

use std::path::Path;
use std::process::Command;

use ledger::api::{self, CommitFacts, ReportCommitResponse};
use ledger::{Ctx, Error, Result, Store};

/// Run git in `dir` and return its trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    run(dir, args, None)
}

/// Who a commit made by codenator itself (the demo's worktrees) is by.
pub struct Identity<'a> {
    pub name: &'a str,
    pub email: &'a str,
}

/// Run git in `dir` as `who` (author and committer).
pub fn git_as(dir: &Path, args: &[&str], who: &Identity) -> Result<String> {
    run(dir, args, Some(who))
}

fn run(dir: &Path, args: &[&str], who: Option<&Identity>) -> Result<String> {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args(args);
    if let Some(w) = who {
        for (k, v) in [
            ("GIT_AUTHOR_NAME", w.name),
            ("GIT_AUTHOR_EMAIL", w.email),
            ("GIT_COMMITTER_NAME", w.name),
            ("GIT_COMMITTER_EMAIL", w.email),
        ] {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().map_err(|e| Error::Io {
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

/// The current branch of a worktree, when it has one.
pub fn branch(worktree: &Path) -> Option<String> {
    git(worktree, &["branch", "--show-current"])
        .ok()
        .filter(|b| !b.is_empty())
}

/// How recent the commit that moved HEAD must be to count as this tool
/// call's: HEAD moves when `git commit` ends, and the hook runs when the
/// tool call ends.
const FRESH_COMMIT_SECS: i64 = 120;

/// Did a commit move HEAD in `dir` just now? Codex 0.169 gives a hook the
/// shell tool's output but not its exit code (openai/codex#42864), so a
/// failed `git commit` looks like a successful one; HEAD's reflog tells
/// them apart. Without a reflog (disabled), assume yes: the report is
/// deduplicated per commit anyway.
pub fn head_just_committed(dir: &Path) -> bool {
    let Ok(text) = git(
        dir,
        &["reflog", "-1", "--date=unix", "--format=%gd%x09%gs", "HEAD"],
    ) else {
        return true;
    };
    let Some((selector, action)) = text.trim().split_once('\t') else {
        return true;
    };
    let when = selector
        .rsplit_once('{')
        .and_then(|(_, t)| t.trim_end_matches('}').parse::<i64>().ok());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    action.starts_with("commit") && when.is_some_and(|t| now - t <= FRESH_COMMIT_SECS)
}

/// The facts of the commit `req` reports: what the request gives, the rest
/// read from git in `worktree` (HEAD when no sha is given).
pub fn commit_facts(worktree: &str, req: &api::ReportCommit) -> Result<CommitFacts> {
    let wt = Path::new(worktree);
    let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let sha = match given(&req.sha) {
        Some(s) => s,
        None => git(wt, &["rev-parse", "HEAD"])?,
    };
    let or_git = |v: &Option<String>, args: &[&str]| -> Result<String> {
        match given(v) {
            Some(v) => Ok(v),
            None => git(wt, args),
        }
    };
    let branch = or_git(&req.branch, &["branch", "--show-current"])?;
    let subject = or_git(&req.subject, &["log", "-1", "--pretty=%s", &sha])?;
    let body = match (&req.body, req.needs_git()) {
        (Some(b), _) => b.clone(),
        (None, true) => git(wt, &["log", "-1", "--pretty=%b", &sha])?,
        (None, false) => String::new(),
    };
    let changed = match &req.changed {
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
    Ok(CommitFacts {
        worktree: worktree.to_string(),
        sha,
        branch,
        subject,
        body,
        changed,
    })
}

/// `report_commit` end to end: check the request, read what it leaves out
/// from git in the slot's worktree, and record it in the ledger.
pub fn report_commit(
    store: &Store,
    ctx: &Ctx,
    req: &api::ReportCommit,
) -> Result<ReportCommitResponse> {
    let worktree = store.report_worktree(ctx, req)?;
    let facts = if req.needs_git() {
        commit_facts(&worktree, req)?
    } else {
        CommitFacts {
            worktree: worktree.clone(),
            sha: req.sha.clone().unwrap_or_default(),
            branch: req.branch.clone().unwrap_or_default(),
            subject: req.subject.clone().unwrap_or_default(),
            body: req.body.clone().unwrap_or_default(),
            changed: req.changed.clone().map(|c| c.0).unwrap_or_default(),
        }
    };
    store.report_commit(ctx, req, facts)
}
