//! Hosting a job's supervisor in a detached tmux session (`job start
//! --tmux`), so a person can attach and watch it. Each job gets a tmux
//! server of its own (`tmux -L <session>`): a new server takes the
//! environment of the process that starts it, so the worker runs with the
//! starter's environment (`CODEX_HOME`, keys, `PATH`), whatever tmux
//! server the person runs; nothing of their sessions is touched; and
//! ending the job ends the server. Everything else is as without tmux:
//! the supervisor reads Codex's JSONL, leads the job's process group, is
//! reconciled by pid and start time, and its tree is what `job kill` ends.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// The session (and its server's socket name) of a job.
pub fn session_name(job_id: &str) -> String {
    // tmux turns `.` and `:` in session names into `_`.
    format!("codenator-{job_id}").replace(['.', ':'], "_")
}

/// What a person types to watch the session.
pub fn attach_command(session: &str) -> String {
    format!("tmux -L {session} attach -t {session}")
}

/// Start `program args…` as the only window of a new detached session in
/// `dir`; answers the pane's pid, which is the program itself (tmux runs a
/// command of several words with `execvp`, without a shell).
pub fn start(
    tmux: &Path,
    session: &str,
    dir: &str,
    program: &Path,
    args: &[OsString],
) -> Result<u32> {
    let out = Command::new(tmux)
        .args(["-L", session, "new-session", "-d", "-s", session])
        .args([
            "-x",
            "200",
            "-y",
            "50",
            "-c",
            dir,
            "-P",
            "-F",
            "#{pane_pid}",
        ])
        .arg(program)
        .args(args)
        // Started from inside tmux, the new server is still its own.
        .env_remove("TMUX")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Spawn {
            what: format!("{} (for --tmux)", tmux.display()),
            source: e,
        })?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "tmux could not start session {session} ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|_| {
        Error::Invalid(format!(
            "tmux started session {session} but did not say its pane's pid (got {:?})",
            text.trim()
        ))
    })
}

/// End the session's server, when it is still there (a session whose pane
/// ended usually went with it).
pub fn end(tmux: &str, session: &str) {
    let ended = Command::new(tmux)
        .args(["-L", session, "kill-server"])
        .env_remove("TMUX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = ended {
        tracing::warn!("tmux session {session}: cannot run {tmux} kill-server: {e}");
    }
}
