//! One conversation with an app-server: ours (spawned on stdio) or one that
//! already listens (WebSocket). Requests are sent and their responses
//! awaited while every server request that arrives meanwhile is answered by
//! the [`Policy`] and every notification is recorded as [`Evidence`]: the
//! connection is read only while we wait for something, and the server
//! sends requests only during turns, which we always wait for.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use app_server_protocol::jsonrpc::{self, Reply, Request};
use app_server_protocol::notification::TurnNotification;
use app_server_protocol::server_request::AnswerBody;
use app_server_protocol::{
    ClientInfo, InitializeCapabilities, InitializeParams, InitializeResponse, Message, RequestId,
    RpcError, ServerNotification, ThreadItem, ThreadResponse, ThreadResumeParams,
    ThreadStartParams, Turn, TurnInterruptParams, TurnStartParams, TurnStartResponse, TurnStatus,
    method,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::Error;
use crate::evidence::{AnsweredRequest, Evidence};
use crate::policy::{Items, Policy};
use crate::process::{self, Child, Codex};
use crate::transport::Transport;

/// How long a request (not a turn) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closed app-server may take to exit before its group is killed.
pub const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Notifications too frequent to be worth a place in the evidence.
const NOISY: [&str; 5] = [
    "thread/tokenUsage/updated",
    "account/rateLimits/updated",
    "item/commandExecution/outputDelta",
    "item/reasoning/summaryTextDelta",
    "item/reasoning/textDelta",
];

/// How a turn ended.
#[derive(Clone, Debug)]
pub struct TurnOutcome {
    pub turn_id: String,
    pub status: TurnStatus,
    pub error: Option<String>,
    /// It did not complete in time and was interrupted.
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// What is left when a conversation ends.
#[derive(Debug)]
pub struct Closed {
    pub evidence: Evidence,
    /// The spawned app-server's exit status (`None`: it was killed, or it
    /// was not ours).
    pub exit: Option<std::process::ExitStatus>,
}

pub struct AppServer {
    transport: Transport,
    child: Option<Child>,
    policy: Policy,
    items: Items,
    evidence: Evidence,
    next_id: i64,
    completed: HashMap<String, Turn>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl AppServer {
    /// Spawn `codex app-server` (stdio) in `cwd`, in its own process group.
    pub async fn spawn(
        codex: &Codex,
        cwd: Option<&Path>,
        policy: Policy,
    ) -> Result<AppServer, Error> {
        let args = codex.args("app-server", &[]);
        let mut child = process::spawn(codex, &args, cwd, true).map_err(|e| Error::Spawn {
            program: codex.program.display().to_string(),
            source: e,
        })?;
        let (Some(stdin), Some(stdout)) = (child.take_stdin(), child.take_stdout()) else {
            return Err(Error::Closed("the app-server's pipes are missing".into()));
        };
        Ok(AppServer::new(
            Transport::stdio(stdin, stdout),
            Some(child),
            policy,
        ))
    }

    /// Connect to an app-server that listens at `url` (`ws://…`, `unix://…`).
    pub async fn connect(url: &str, policy: Policy) -> Result<AppServer, Error> {
        Ok(AppServer::new(Transport::connect(url).await?, None, policy))
    }

    fn new(transport: Transport, child: Option<Child>, policy: Policy) -> AppServer {
        AppServer {
            transport,
            child,
            policy,
            items: Items::default(),
            evidence: Evidence::default(),
            next_id: 1,
            completed: HashMap::new(),
        }
    }

    /// The spawned app-server's process id (its group id on Unix).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.pid)
    }

    /// `initialize` then the `initialized` notification.
    pub async fn initialize(&mut self, client_name: &str) -> Result<InitializeResponse, Error> {
        let params = InitializeParams {
            client_info: ClientInfo {
                name: client_name.to_string(),
                title: Some("codenator".into()),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            capabilities: InitializeCapabilities {
                experimental_api: true,
                opt_out_notification_methods: vec![method::AGENT_MESSAGE_DELTA.into()],
            },
        };
        let r = self
            .request(method::INITIALIZE, &params, REQUEST_TIMEOUT)
            .await?;
        let text = serde_json::to_string(&jsonrpc::Notification {
            method: method::INITIALIZED,
        })
        .map_err(|e| Error::Protocol(e.to_string()))?;
        self.transport.send(text).await?;
        Ok(r)
    }

    pub async fn start_thread(&mut self, p: &ThreadStartParams) -> Result<ThreadResponse, Error> {
        let r: ThreadResponse = self
            .request(method::THREAD_START, p, REQUEST_TIMEOUT)
            .await?;
        self.evidence.thread_id = Some(r.thread.id.clone());
        Ok(r)
    }

    /// `thread/resume`. A thread another process holds is refused with
    /// [`Error::is_held`].
    pub async fn resume_thread(&mut self, p: &ThreadResumeParams) -> Result<ThreadResponse, Error> {
        self.evidence.thread_id = Some(p.thread_id.clone());
        self.request(method::THREAD_RESUME, p, REQUEST_TIMEOUT)
            .await
    }

    /// Start a turn and wait for it to complete; after `timeout`, interrupt
    /// it (and wait a little for the interruption to land).
    pub async fn run_turn(
        &mut self,
        p: &TurnStartParams,
        timeout: Duration,
    ) -> Result<TurnOutcome, Error> {
        let started = Instant::now();
        let r: TurnStartResponse = self.request(method::TURN_START, p, REQUEST_TIMEOUT).await?;
        let turn_id = r.turn.id;
        self.evidence.turn_id = Some(turn_id.clone());
        let outcome = match self.wait_turn(&turn_id, started + timeout).await {
            Ok(turn) => TurnOutcome {
                status: turn.status,
                error: turn.error.map(|e| e.message),
                turn_id,
                timed_out: false,
                elapsed: started.elapsed(),
            },
            Err(Error::Timeout(_)) => {
                let interrupt = TurnInterruptParams {
                    thread_id: p.thread_id.clone(),
                    turn_id: turn_id.clone(),
                };
                let sent: Result<app_server_protocol::Ignored, Error> = self
                    .request(method::TURN_INTERRUPT, &interrupt, Duration::from_secs(10))
                    .await;
                let status = match sent {
                    Ok(_) => self
                        .wait_turn(&turn_id, Instant::now() + Duration::from_secs(10))
                        .await
                        .map(|t| t.status)
                        .unwrap_or(TurnStatus::InProgress),
                    Err(e) => {
                        tracing::warn!("turn/interrupt failed: {e}");
                        TurnStatus::InProgress
                    }
                };
                TurnOutcome {
                    status,
                    error: Some(format!("the turn did not complete within {timeout:?}")),
                    turn_id,
                    timed_out: true,
                    elapsed: started.elapsed(),
                }
            }
            Err(e) => return Err(e),
        };
        self.evidence.turn_status = Some(outcome.status.as_str().into());
        self.evidence.turn_error = outcome.error.clone();
        Ok(outcome)
    }

    /// Wait for `turn/completed` of `turn_id`.
    pub async fn wait_turn(&mut self, turn_id: &str, deadline: Instant) -> Result<Turn, Error> {
        loop {
            if let Some(t) = self.completed.remove(turn_id) {
                return Ok(t);
            }
            if let Some((id, _)) = self.step(deadline, "turn/completed").await? {
                tracing::debug!("a response to request {id} nobody waits for");
            }
        }
    }

    /// Wait for the next turn to start on the connection and complete
    /// (an owner running a queued message), returning it.
    pub async fn wait_next_turn(&mut self, deadline: Instant) -> Result<Turn, Error> {
        let seen = self.evidence.turns_started.len();
        loop {
            if let Some(id) = self.evidence.turns_started.get(seen).cloned() {
                return self.wait_turn(&id, deadline).await;
            }
            self.step(deadline, "a new turn").await?;
        }
    }

    /// Send a request and wait for its response, answering server requests
    /// and recording notifications meanwhile.
    pub async fn request<P: Serialize, R: DeserializeOwned>(
        &mut self,
        method: &str,
        params: &P,
        timeout: Duration,
    ) -> Result<R, Error> {
        let id = RequestId::Int(self.next_id);
        self.next_id += 1;
        let text = serde_json::to_string(&Request {
            id: id.clone(),
            method,
            params,
        })
        .map_err(|e| Error::Protocol(e.to_string()))?;
        self.transport.send(text).await?;
        let deadline = Instant::now() + timeout;
        loop {
            match self.step(deadline, method).await? {
                Some((rid, result)) if rid == id => {
                    return match result {
                        Ok(raw) => jsonrpc::decode_result(&raw)
                            .map_err(|e| Error::Protocol(format!("{method}: {e}"))),
                        Err(error) => Err(Error::Refused {
                            method: method.to_string(),
                            error,
                        }),
                    };
                }
                Some((rid, _)) => tracing::debug!("a response to request {rid} nobody waits for"),
                None => {}
            }
        }
    }

    /// Read one message: a response is returned; a server request is
    /// answered; a notification is recorded.
    async fn step(
        &mut self,
        deadline: Instant,
        waiting_for: &str,
    ) -> Result<Option<(RequestId, Result<Box<RawValue>, RpcError>)>, Error> {
        let read = tokio::time::timeout_at(deadline.into(), self.transport.recv()).await;
        let text = match read {
            Err(_) => return Err(Error::Timeout(waiting_for.to_string())),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(None)) => {
                let stderr = self
                    .child
                    .as_ref()
                    .map(|c| c.stderr.last(6))
                    .unwrap_or_default();
                return Err(Error::Closed(format!(
                    "while waiting for {waiting_for}; stderr: {}",
                    stderr.join(" | ")
                )));
            }
            Ok(Ok(Some(t))) => t,
        };
        match Message::parse(&text) {
            Err(e) => {
                tracing::warn!("unreadable message from the app-server: {e}");
                Ok(None)
            }
            Ok(Message::Response { id, result }) => Ok(Some((id, result))),
            Ok(Message::Request { id, request }) => {
                let a = self.policy.answer(&request, &self.items, now_secs());
                tracing::info!(
                    "answered {} with {} ({})",
                    request.method(),
                    a.answer.summary(),
                    a.detail
                );
                self.evidence.answered(AnsweredRequest {
                    method: request.method().to_string(),
                    answer: a.answer.summary(),
                    detail: a.detail.clone(),
                });
                let text = match a.answer.body() {
                    AnswerBody::Result(r) => serde_json::to_string(&Reply::Result {
                        id: &id,
                        result: &r,
                    }),
                    AnswerBody::Error(e) => {
                        let reply: Reply<'_, ()> = Reply::Error { id: &id, error: &e };
                        serde_json::to_string(&reply)
                    }
                }
                .map_err(|e| Error::Protocol(e.to_string()))?;
                self.transport.send(text).await?;
                Ok(None)
            }
            Ok(Message::Notification(n)) => {
                self.record(n);
                Ok(None)
            }
        }
    }

    fn record(&mut self, n: ServerNotification) {
        let method = n.method().to_string();
        match n {
            ServerNotification::TurnStarted(TurnNotification { turn, .. }) => {
                self.evidence.turn_started(turn.id.clone());
                self.evidence.event(method);
            }
            ServerNotification::TurnCompleted(TurnNotification { turn, .. }) => {
                self.evidence
                    .event(format!("{method} [{}]", turn.status.as_str()));
                self.completed.insert(turn.id.clone(), turn);
            }
            ServerNotification::ItemStarted(i) => {
                self.items.remember(&i.item);
                self.evidence.event(format!("{method} [{}]", i.item.kind()));
            }
            ServerNotification::ItemCompleted(i) => {
                match &i.item {
                    ThreadItem::McpToolCall {
                        server,
                        tool,
                        status,
                        ..
                    } => self.evidence.tool_call(format!("{server}/{tool} {status}")),
                    ThreadItem::AgentMessage { text, .. } => {
                        self.evidence.agent_text(text);
                        self.evidence.agent_text("\n");
                    }
                    _ => {}
                }
                self.evidence.event(format!("{method} [{}]", i.item.kind()));
            }
            ServerNotification::Error(e) => self.evidence.event(format!(
                "error: {}{}",
                e.error.message,
                if e.will_retry { " (retrying)" } else { "" }
            )),
            ServerNotification::AgentMessageDelta(d) => self.evidence.agent_text(&d.delta),
            ServerNotification::Other { method, .. } => {
                if !NOISY.contains(&method.as_str()) {
                    self.evidence.event(method);
                }
            }
        }
    }

    /// The evidence so far.
    pub fn evidence(&self) -> &Evidence {
        &self.evidence
    }

    /// End the conversation: close stdin (or the socket); a spawned
    /// app-server then exits, releasing its thread locks; after
    /// [`EXIT_GRACE`] its process group is killed.
    pub async fn close(mut self) -> Closed {
        self.transport.close().await;
        let (exit, stderr) = match self.child.take() {
            Some(child) => {
                let tail = child.stderr.clone();
                let exit = child.finish(EXIT_GRACE).await;
                (exit, tail.last(crate::evidence::STDERR_TAIL))
            }
            None => (None, Vec::new()),
        };
        let mut evidence = self.evidence;
        evidence.finish(stderr);
        Closed { evidence, exit }
    }
}
