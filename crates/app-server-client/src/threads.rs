//! New threads: a persistent one for a slot (`thread-start`), and the
//! harmless ephemeral proof that an app-server runs turns at all.
//!
//! A thread without a turn has no rollout, so it can be neither resumed
//! nor queued: a new slot thread always runs one readiness turn, then our
//! app-server exits so the writer lock is released.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use app_server_protocol::{
    ApprovalPolicy, SandboxMode, ThreadSettings, ThreadStartParams, TurnStartParams, TurnStatus,
};
use serde::Serialize;

use crate::Error;
use crate::connection::AppServer;
use crate::deliver::CLIENT_NAME;
use crate::evidence::Evidence;
use crate::policy::Policy;
use crate::process::Codex;

/// Where the thread's server is.
#[derive(Clone, Debug)]
pub enum Server {
    /// Spawn our own `codex app-server` (in this directory).
    Spawn(Codex),
    /// A listening app-server.
    Url(String),
}

/// A thread to start and the turn to run on it.
#[derive(Clone, Debug)]
pub struct StartRequest {
    pub cwd: PathBuf,
    pub prompt: String,
    /// The agent's text must contain this for the start to count.
    pub expected: Option<String>,
    pub approval_policy: ApprovalPolicy,
    pub sandbox: SandboxMode,
    pub ephemeral: bool,
    pub base_instructions: Option<String>,
    pub effort: Option<String>,
    pub timeout: Duration,
    pub policy: Policy,
}

#[derive(Clone, Debug, Serialize)]
pub struct Started {
    pub ok: bool,
    /// thread_started, expected_text_missing, turn_failed, app_server_error
    pub reason: String,
    pub thread_id: Option<String>,
    pub turn_id: Option<String>,
    pub rollout: Option<String>,
    pub error: Option<String>,
    pub elapsed_ms: u64,
    pub evidence: Evidence,
}

/// The readiness token of a slot: `READY_<SLOT>` with non-alphanumerics
/// as `_`, upper-cased (the reference's).
pub fn readiness_token(slot: &str) -> String {
    let s: String = slot
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("READY_{s}")
}

/// Start a thread, run one turn, close the server.
pub async fn start(server: &Server, req: &StartRequest) -> Started {
    let t0 = Instant::now();
    let s = match server {
        Server::Spawn(codex) => AppServer::spawn(codex, Some(&req.cwd), req.policy.clone()).await,
        Server::Url(url) => AppServer::connect(url, req.policy.clone()).await,
    };
    let mut s = match s {
        Ok(s) => s,
        Err(e) => {
            return Started {
                ok: false,
                reason: "app_server_error".into(),
                thread_id: None,
                turn_id: None,
                rollout: None,
                error: Some(e.to_string()),
                elapsed_ms: t0.elapsed().as_millis() as u64,
                evidence: Evidence::default(),
            };
        }
    };
    let run = run(&mut s, req).await;
    let closed = s.close().await;
    let mut started = match run {
        Ok(started) => started,
        Err((thread_id, e)) => Started {
            ok: false,
            reason: "app_server_error".into(),
            thread_id,
            turn_id: None,
            rollout: None,
            error: Some(e.to_string()),
            elapsed_ms: 0,
            evidence: Evidence::default(),
        },
    };
    started.evidence = closed.evidence;
    started.elapsed_ms = t0.elapsed().as_millis() as u64;
    if started.ok
        && let Some(expected) = &req.expected
        && !started.evidence.agent_text_tail.contains(expected.as_str())
    {
        started.ok = false;
        started.reason = "expected_text_missing".into();
        started.error = Some(format!("the reply does not contain {expected:?}"));
    }
    started
}

async fn run(s: &mut AppServer, req: &StartRequest) -> Result<Started, (Option<String>, Error)> {
    s.initialize(CLIENT_NAME).await.map_err(|e| (None, e))?;
    let thread = s
        .start_thread(&ThreadStartParams {
            settings: ThreadSettings {
                cwd: Some(req.cwd.display().to_string()),
                approval_policy: Some(req.approval_policy),
                sandbox: Some(req.sandbox),
            },
            ephemeral: Some(req.ephemeral),
            base_instructions: req.base_instructions.clone(),
            ..ThreadStartParams::default()
        })
        .await
        .map_err(|e| (None, e))?
        .thread;
    let turn = TurnStartParams {
        cwd: Some(req.cwd.display().to_string()),
        approval_policy: Some(req.approval_policy),
        effort: req.effort.clone(),
        ..TurnStartParams::text(thread.id.clone(), req.prompt.clone())
    };
    let outcome = s
        .run_turn(&turn, req.timeout)
        .await
        .map_err(|e| (Some(thread.id.clone()), e))?;
    let ok = outcome.status == TurnStatus::Completed && !outcome.timed_out;
    Ok(Started {
        ok,
        reason: if ok { "thread_started" } else { "turn_failed" }.into(),
        thread_id: Some(thread.id),
        turn_id: Some(outcome.turn_id),
        rollout: thread.path,
        error: outcome.error,
        elapsed_ms: 0,
        evidence: Evidence::default(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn readiness_tokens_are_the_references() {
        assert_eq!(super::readiness_token("session-01"), "READY_SESSION_01");
        assert_eq!(super::readiness_token("w.2"), "READY_W_2");
    }
}
