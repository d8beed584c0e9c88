//! Delivering one wake to one thread, by the route that works for it:
//!
//! 1. `app_server_url`: the thread's registered app-server already listens
//!    (`ws://`, `unix://`): resume there (its owner rejoins the thread) and
//!    run the turn.
//! 2. `queue`: another process holds the thread (its lock is flocked, or a
//!    resume is refused with "active writer"): `codex queue --thread T
//!    --message P`, which a connected owner runs by itself (within about ten
//!    seconds when idle, right after its turn when busy).
//! 3. `app_server`: nobody holds it: our own `codex app-server` resumes it,
//!    runs the turn, and exits, so the writer lock is released.
//!
//! Every route answers in a [`Delivered`]: route, status, timings and the
//! evidence; nothing here writes anything but Codex's own files.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use app_server_protocol::{
    ApprovalPolicy, SandboxMode, ThreadResumeParams, ThreadSettings, TurnStartParams, TurnStatus,
    UserInput,
};
use serde::Serialize;

use crate::Error;
use crate::connection::{AppServer, TurnOutcome};
use crate::evidence::Evidence;
use crate::home::{CodexHome, Holder};
use crate::policy::Policy;
use crate::process::{self, Codex};

/// The client name Codex records as the originator of our requests.
pub const CLIENT_NAME: &str = "codenator_wake";
/// How long `codex queue` may take.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// One wake to deliver.
#[derive(Clone, Debug)]
pub struct WakeRequest {
    pub thread_id: String,
    /// A listening app-server registered for the thread.
    pub url: Option<String>,
    pub prompt: String,
    /// The turn's working directory (the slot's worktree).
    pub cwd: Option<PathBuf>,
    pub approval_policy: ApprovalPolicy,
    pub sandbox: SandboxMode,
    pub effort: Option<String>,
    /// How long the turn may run before it is interrupted.
    pub timeout: Duration,
    pub policy: Policy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Our own `codex app-server` on stdio.
    AppServer,
    /// The thread's registered, listening app-server.
    AppServerUrl,
    /// `codex queue`, for the thread's owner to run.
    Queue,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::AppServer => "app_server",
            Route::AppServerUrl => "app_server_url",
            Route::Queue => "queue",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The turn ran and completed.
    Completed,
    /// The message is in the thread's queue; its owner runs it.
    Queued,
    /// Delivery or the turn failed (or timed out).
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Completed => "completed",
            Status::Queued => "queued",
            Status::Failed => "failed",
        }
    }
}

/// Milliseconds spent in each phase (absent: the phase did not happen).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    pub total_ms: u64,
    /// Spawn (or connect) and `initialize`.
    pub connect_ms: Option<u64>,
    pub resume_ms: Option<u64>,
    pub turn_ms: Option<u64>,
    pub queue_ms: Option<u64>,
    /// Closing our app-server until it exited.
    pub exit_ms: Option<u64>,
}

/// How a wake went.
#[derive(Clone, Debug, Serialize)]
pub struct Delivered {
    pub route: Route,
    pub status: Status,
    /// app_server_turn_completed, queued_for_owner, turn_failed, ...
    pub reason: String,
    pub error: Option<String>,
    /// Why the route was taken when it was not the first choice
    /// ("held (proc_locks, pid 123)", "resume refused: … active writer").
    pub route_note: Option<String>,
    /// The queued item's id (`queue` route).
    pub queue_item: Option<String>,
    /// The turn that ran (`app_server` routes).
    pub turn_id: Option<String>,
    pub timings: Timings,
    pub evidence: Evidence,
}

fn ms(d: Duration) -> u64 {
    d.as_millis().try_into().unwrap_or(u64::MAX)
}

/// Deliver `req` to its thread, by the first route that works.
pub async fn deliver(codex: &Codex, home: &CodexHome, req: &WakeRequest) -> Delivered {
    let started = Instant::now();
    let mut note = None;
    if let Some(url) = req.url.as_deref().filter(|u| !u.is_empty()) {
        match on_server(
            AppServer::connect(url, req.policy.clone()).await,
            req,
            Route::AppServerUrl,
        )
        .await
        {
            Attempt::Done(d) => return finish(*d, started, note),
            Attempt::Held(why) => return queue(codex, req, started, Some(why)).await,
            Attempt::Unreachable(why) => note = Some(format!("{url} unreachable: {why}")),
        }
    }
    if let Holder::Held { pid, how } = home.thread_holder(&req.thread_id) {
        let who = pid.map(|p| format!(", pid {p}")).unwrap_or_default();
        return queue(codex, req, started, Some(format!("held ({how}{who})"))).await;
    }
    let server = AppServer::spawn(codex, req.cwd.as_deref(), req.policy.clone()).await;
    match on_server(server, req, Route::AppServer).await {
        Attempt::Done(d) => finish(*d, started, note),
        Attempt::Held(why) => queue(codex, req, started, Some(why)).await,
        Attempt::Unreachable(why) => finish(
            failed(
                Route::AppServer,
                "app_server_unavailable",
                why,
                Evidence::default(),
            ),
            started,
            note,
        ),
    }
}

fn finish(mut d: Delivered, started: Instant, note: Option<String>) -> Delivered {
    d.timings.total_ms = ms(started.elapsed());
    if d.route_note.is_none() {
        d.route_note = note;
    }
    d
}

fn failed(route: Route, reason: &str, error: String, evidence: Evidence) -> Delivered {
    Delivered {
        route,
        status: Status::Failed,
        reason: reason.into(),
        error: Some(error),
        route_note: None,
        queue_item: None,
        turn_id: None,
        timings: Timings::default(),
        evidence,
    }
}

enum Attempt {
    Done(Box<Delivered>),
    /// Another process writes the thread.
    Held(String),
    /// The server could not be reached or started.
    Unreachable(String),
}

/// Resume and run the turn on a server, then close the connection.
async fn on_server(server: Result<AppServer, Error>, req: &WakeRequest, route: Route) -> Attempt {
    let t0 = Instant::now();
    let mut s = match server {
        Ok(s) => s,
        Err(e) => return Attempt::Unreachable(e.to_string()),
    };
    if let Err(e) = s.initialize(CLIENT_NAME).await {
        let closed = s.close().await;
        return Attempt::Unreachable(format!(
            "{e} (stderr: {})",
            closed.evidence.stderr_tail.join(" | ")
        ));
    }
    let mut timings = Timings {
        connect_ms: Some(ms(t0.elapsed())),
        ..Timings::default()
    };
    let cwd = req.cwd.as_ref().map(|p| p.display().to_string());
    let t1 = Instant::now();
    let resumed = s
        .resume_thread(&ThreadResumeParams {
            settings: ThreadSettings {
                cwd: cwd.clone(),
                approval_policy: Some(req.approval_policy),
                sandbox: Some(req.sandbox),
            },
            ..ThreadResumeParams::thread(req.thread_id.clone())
        })
        .await;
    timings.resume_ms = Some(ms(t1.elapsed()));
    if let Err(e) = resumed {
        let held = e.is_held();
        let closed = s.close().await;
        return if held {
            Attempt::Held(format!("resume refused: {e}"))
        } else {
            Attempt::Done(Box::new(Delivered {
                timings,
                ..failed(route, "resume_failed", e.to_string(), closed.evidence)
            }))
        };
    }
    let turn = TurnStartParams {
        thread_id: req.thread_id.clone(),
        input: vec![UserInput::Text {
            text: req.prompt.clone(),
        }],
        cwd,
        approval_policy: Some(req.approval_policy),
        effort: req.effort.clone(),
    };
    let outcome = s.run_turn(&turn, req.timeout).await;
    let t2 = Instant::now();
    let closed = s.close().await;
    timings.exit_ms = Some(ms(t2.elapsed()));
    let d = match outcome {
        Ok(TurnOutcome {
            turn_id,
            status,
            error,
            timed_out,
            elapsed,
        }) => {
            timings.turn_ms = Some(ms(elapsed));
            let (st, reason) = match (status, timed_out) {
                (_, true) => (Status::Failed, "turn_timeout"),
                (TurnStatus::Completed, _) => (Status::Completed, "app_server_turn_completed"),
                (TurnStatus::Interrupted, _) => (Status::Failed, "turn_interrupted"),
                _ => (Status::Failed, "turn_failed"),
            };
            Delivered {
                route,
                status: st,
                reason: reason.into(),
                error,
                route_note: None,
                queue_item: None,
                turn_id: Some(turn_id),
                timings,
                evidence: closed.evidence,
            }
        }
        Err(e) => Delivered {
            timings,
            ..failed(
                route,
                "app_server_turn_error",
                e.to_string(),
                closed.evidence,
            )
        },
    };
    Attempt::Done(Box::new(d))
}

/// The queue route: `codex queue --thread T --message P`.
async fn queue(
    codex: &Codex,
    req: &WakeRequest,
    started: Instant,
    why: Option<String>,
) -> Delivered {
    let t0 = Instant::now();
    let args = codex.args(
        "queue",
        &["--thread", &req.thread_id, "--message", &req.prompt],
    );
    let run = process::run(codex, &args, QUEUE_TIMEOUT).await;
    let queue_ms = Some(ms(t0.elapsed()));
    let mut evidence = Evidence {
        thread_id: Some(req.thread_id.clone()),
        ..Evidence::default()
    };
    let mut d = match run {
        Err(e) => failed(
            Route::Queue,
            "queue_unavailable",
            format!("cannot run {}: {e}", codex.program.display()),
            evidence,
        ),
        Ok((status, stdout, stderr)) => {
            evidence.finish(stderr.clone());
            let item = queued_item(&stdout);
            match status {
                Some(s) if s.success() => Delivered {
                    route: Route::Queue,
                    status: Status::Queued,
                    reason: "queued_for_owner".into(),
                    error: None,
                    route_note: None,
                    queue_item: item,
                    turn_id: None,
                    timings: Timings::default(),
                    evidence,
                },
                Some(s) => failed(
                    Route::Queue,
                    "queue_failed",
                    format!("codex queue exited with {s}: {}", stderr.join(" | ")),
                    evidence,
                ),
                None => failed(
                    Route::Queue,
                    "queue_timeout",
                    format!("codex queue did not finish within {QUEUE_TIMEOUT:?}"),
                    evidence,
                ),
            }
        }
    };
    d.timings.queue_ms = queue_ms;
    d.route_note = why;
    d.timings.total_ms = ms(started.elapsed());
    d
}

/// The item id in `Queued message <id> for thread <T>.`
fn queued_item(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Queued message ")?;
        rest.split_whitespace().next().map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_queued_item() {
        assert_eq!(
            super::queued_item("Queued message 3f2a for thread T.\n").as_deref(),
            Some("3f2a")
        );
        assert_eq!(super::queued_item("something else"), None);
    }
}
