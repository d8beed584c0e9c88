//! The codenator MCP stdio server.
//!
//! A thin layer over the [`ledger`] crate: each MCP tool is one ledger
//! operation, run inline on the server's one thread as the resolved
//! caller; its typed answer becomes `structuredContent` plus the same JSON
//! as text, and its type is the tool's `outputSchema`. It holds no state of its own between
//! calls; everything lives in the ledger, so any number of server processes
//! can share one store.

use std::path::PathBuf;

use ledger::{Ctx, SlotId, Store, api};
use rmcp::{
    ErrorData as McpError, ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{CallToolResult, Implementation, RequestMetaObject, ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};
use serde_json::{Value, json};

mod adapter;
mod jobs_tools;
pub mod schemas;

pub use adapter::{AdapterRequest, PlannedWake};
use schemas::output_schema;

/// Tool arguments that, when they do not decode, say which field is wrong
/// (`slot: invalid type: integer 5, expected a string`): serde alone names
/// the value but not the field. The schema is the wrapped type's.
pub struct Args<T>(pub T);

impl<'de, T: serde::de::DeserializeOwned> serde::Deserialize<'de> for Args<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        serde_path_to_error::deserialize(value)
            .map(Args)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." {
                    serde::de::Error::custom(inner)
                } else {
                    serde::de::Error::custom(format!("{path}: {inner}"))
                }
            })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Args<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Where the server's store is and who it speaks for.
#[derive(Clone, Debug)]
pub struct Config {
    /// The root (absolute, before the nested-root rule).
    pub root: PathBuf,
    /// The explicit agent, if any. None means "the slot bound to the
    /// calling Codex thread" (see [`Store::resolve_caller`]).
    pub agent: Option<SlotId>,
}

impl Config {
    /// The root by the one rule of [`host::root`] (`--root`, the root
    /// variables, a store at or above the current directory, else the
    /// current directory), and the agent by `--agent` then the variables.
    pub fn resolve(root: Option<PathBuf>, agent: Option<String>) -> anyhow::Result<Config> {
        let root = host::root::Root::resolve(root.as_deref())?.path;
        let agent = host::agent(agent.as_deref()).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Config { root, agent })
    }
}

const INSTRUCTIONS: &str = "Codenator coordinates one coordinator and many worker slots (Codex sessions) \
through a durable shared ledger. Workers: register_slot once, record_heartbeat regularly (it renews the \
lease on your claimed task), read_inbox, claim_next_task, work only in your worktree, then report_commit \
(update_task with a blocker if stuck). The coordinator: create_task, read its inbox for commit reports, \
update_task to integrated, plan_wake to see who needs attention, requeue_expired_leases for dead workers, \
and record_summary_pause when the summary pause is due. get_task tells one task's whole story; \
list_tasks finds tasks. Background Codex workers: dispatch_job (a self-contained prompt), list_jobs, \
job_status, job_output, send_to_job (a follow-up on its thread), cancel_job; results arrive in the inbox as \
job.completed / job.failed. Every answer is JSON; errors name the rule that refused the call.";

/// The MCP server over one store.
#[derive(Clone)]
pub struct CodenatorServer {
    store: Store,
    agent: Option<SlotId>,
    /// Put each call's fsyncs, server-side time and write-lock time in its
    /// `_meta` (see [`host::call_stats`]).
    call_stats: bool,
    tool_router: ToolRouter<Self>,
}

/// A typed answer as `structuredContent` plus the same JSON as text. The
/// text is written from the answer itself, in its fields' order (rmcp's
/// `CallToolResult::structured` formats the value through `Display`, a
/// second, slower walk of it).
fn structured<T: serde::Serialize>(answer: &T) -> serde_json::Result<CallToolResult> {
    let text = serde_json::to_string(answer)?;
    let mut r = CallToolResult::success(vec![rmcp::model::ContentBlock::text(text)]);
    r.structured_content = Some(serde_json::to_value(answer)?);
    Ok(r)
}

fn refusal(e: &ledger::Error) -> CallToolResult {
    let mut err = json!({"code": e.code(), "message": e.to_string()});
    if let Some(rule) = e.rule() {
        err["rule"] = json!(rule);
    }
    CallToolResult::structured_error(json!({ "error": err }))
}

fn thread_of(meta: &RequestMetaObject) -> Option<String> {
    meta.0
        .get("threadId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .map(str::to_owned)
}

impl CodenatorServer {
    /// Open the store (creating it if needed) and build the server.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let store = Store::open_with(&config.root, host::store_options()).map_err(|e| {
            anyhow::anyhow!("cannot open the store under {}: {e}", config.root.display())
        })?;
        store
            .refresh_indexes()
            .map_err(|e| anyhow::anyhow!("cannot index the store: {e}"))?;
        // Messages the reference CLI left as inbox files join the ledger
        // once, so this server and the CLI agree on what is unread.
        match store.import_legacy_inbox_if_pending() {
            Ok(Some(r)) => tracing::info!(
                appended = r.totals.appended,
                marked_read = r.totals.marked_read,
                "brought the v1 inbox into the ledger"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!("the v1 inbox import failed: {e}"),
        }
        Ok(Self {
            store,
            agent: config.agent.clone(),
            call_stats: host::call_stats(),
            tool_router: Self::tool_router(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Run one ledger operation inline, as the resolved caller.
    /// The answer's type names the tool (see [`schemas::ToolOutput`]).
    async fn run<T, F>(
        &self,
        meta: RequestMetaObject,
        registering: Option<String>,
        op: F,
    ) -> Result<CallToolResult, McpError>
    where
        T: schemas::ToolOutput,
        F: FnOnce(&Store, &Ctx) -> ledger::Result<T> + Send + 'static,
    {
        let tool = T::TOOL;
        let store = self.store.clone();
        let agent = self.agent.clone();
        let thread = thread_of(&meta);
        let started = std::time::Instant::now();
        // The op runs right here, on the server's one thread (see
        // [`serve_stdio`]): no hop to another thread and back, which cost
        // more than the op's own file work. Its fsyncs are this thread's. A
        // panic in it becomes an error answer, not a dead server.
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let before = ledger::fs::thread_fsync_count();
            let locked_before = ledger::fs::thread_exclusive_ns();
            let run = || {
                let caller = store.resolve_caller(
                    agent.as_ref(),
                    thread.as_deref(),
                    registering.as_deref(),
                )?;
                let ctx = Ctx {
                    caller,
                    thread_id: thread,
                };
                op(&store, &ctx)
            };
            let out = run();
            let locked_us = (ledger::fs::thread_exclusive_ns() - locked_before) / 1_000;
            (out, ledger::fs::thread_fsync_count() - before, locked_us)
        }));
        let (fsyncs, locked_us) = joined.as_ref().map_or((0, 0), |(_, n, l)| (*n, *l));
        let mut result = match joined.map(|(out, _, _)| out) {
            Ok(Ok(v)) => match structured(&v) {
                Ok(r) => r,
                Err(e) => {
                    return Err(McpError::internal_error(
                        format!("{tool}: cannot encode the answer: {e}"),
                        None,
                    ));
                }
            },
            Ok(Err(e)) => {
                tracing::info!(tool, error = %e, "refused");
                refusal(&e)
            }
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                tracing::error!(tool, "operation failed: {why}");
                return Err(McpError::internal_error(
                    format!("{tool} failed internally: {why}"),
                    None,
                ));
            }
        };
        let micros = started.elapsed().as_micros() as u64;
        tracing::debug!(tool, micros, fsyncs, "call");
        if self.call_stats {
            let mut meta = rmcp::model::MetaObject::new();
            meta.0.insert("codenator/fsyncs".into(), json!(fsyncs));
            meta.0.insert("codenator/micros".into(), json!(micros));
            meta.0
                .insert("codenator/lock_micros".into(), json!(locked_us));
            result.meta = Some(meta);
        }
        Ok(result)
    }
}

type Answer = Result<CallToolResult, McpError>;

#[tool_router]
impl CodenatorServer {
    /// Slots (unread counts, current task, heartbeat, lease) and open tasks, paged.
    #[tool(
        output_schema = output_schema("get_status"),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_status(
        &self,
        Parameters(Args(p)): Parameters<Args<api::GetStatus>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.get_status(c, &p)).await
    }

    /// Register or update a slot (a worker registers itself; binds the calling Codex thread to the slot).
    #[tool(
        output_schema = output_schema("register_slot"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn register_slot(
        &self,
        Parameters(Args(p)): Parameters<Args<api::RegisterSlot>>,
        meta: RequestMetaObject,
    ) -> Answer {
        let slot = Some(p.slot.clone());
        self.run(meta, slot, move |s, c| s.register_slot(c, &p))
            .await
    }

    /// Send a message to a slot (or `all`) as the calling slot.
    #[tool(
        output_schema = output_schema("send_message"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn send_message(
        &self,
        Parameters(Args(p)): Parameters<Args<api::SendMessage>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.send_message(c, &p))
            .await
    }

    /// Read unread messages of a slot, oldest first; by default marks the returned ones read.
    #[tool(
        output_schema = output_schema("read_inbox"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn read_inbox(
        &self,
        Parameters(Args(p)): Parameters<Args<api::ReadInbox>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.read_inbox(c, &p)).await
    }

    /// The Focus Board: milestones, lanes, tasks, assignments, reports and integration receipts.
    #[tool(
        output_schema = output_schema("get_focus_board"),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_focus_board(
        &self,
        Parameters(Args(p)): Parameters<Args<api::GetFocusBoard>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.get_focus_board(c, &p))
            .await
    }

    /// Coordinator-only: create or update a milestone.
    #[tool(
        output_schema = output_schema("upsert_milestone"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn upsert_milestone(
        &self,
        Parameters(Args(p)): Parameters<Args<api::UpsertMilestone>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.upsert_milestone(c, &p))
            .await
    }

    /// Coordinator-only: create or update a lane.
    #[tool(
        output_schema = output_schema("upsert_lane"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn upsert_lane(
        &self,
        Parameters(Args(p)): Parameters<Args<api::UpsertLane>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.upsert_lane(c, &p)).await
    }

    /// Coordinator-only: queue a task for a slot and send it the task.assign message. Existing task ids are refused.
    #[tool(
        output_schema = output_schema("create_task"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn create_task(
        &self,
        Parameters(Args(p)): Parameters<Args<api::CreateTask>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.create_task(c, &p)).await
    }

    /// Claim the calling slot's oldest queued task whose dependencies are integrated. Claims exactly one, atomically, with a lease your heartbeats renew.
    #[tool(
        output_schema = output_schema("claim_next_task"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn claim_next_task(
        &self,
        Parameters(Args(p)): Parameters<Args<api::ClaimNextTask>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.claim_next_task(c, &p))
            .await
    }

    /// Update a task: status, commit, tests, blocker. Workers update their own tasks; integration is the coordinator's.
    #[tool(
        output_schema = output_schema("update_task"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn update_task(
        &self,
        Parameters(Args(p)): Parameters<Args<api::UpdateTask>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.update_task(c, &p)).await
    }

    /// One task's whole story: the record, its status history (who and when), its lease, and its messages.
    #[tool(
        output_schema = output_schema("get_task"),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_task(
        &self,
        Parameters(Args(p)): Parameters<Args<api::GetTask>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.get_task(c, &p)).await
    }

    /// Find tasks, open and closed: filter by status, slot, milestone, lane and text; paged.
    #[tool(
        output_schema = output_schema("list_tasks"),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tasks(
        &self,
        Parameters(Args(p)): Parameters<Args<api::ListTasks>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.list_tasks(c, &p)).await
    }

    /// Report a commit of the calling slot (defaults read from its worktree), mark its task reported and notify the coordinator.
    #[tool(
        output_schema = output_schema("report_commit"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn report_commit(
        &self,
        Parameters(Args(p)): Parameters<Args<api::ReportCommit>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| host::git::report_commit(s, c, &p))
            .await
    }

    /// Record the calling slot's heartbeat (ok, failed or stale); an ok heartbeat renews the lease of the run's claimed task.
    #[tool(
        output_schema = output_schema("record_heartbeat"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn record_heartbeat(
        &self,
        Parameters(Args(p)): Parameters<Args<api::RecordHeartbeat>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.record_heartbeat(c, &p))
            .await
    }

    /// Plan which slots to wake, notify or leave alone (read-only).
    #[tool(
        output_schema = output_schema("plan_wake"),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn plan_wake(
        &self,
        Parameters(Args(p)): Parameters<Args<api::PlanWake>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| {
            Ok(s.plan_wake(c, &p)?.map_actions(PlannedWake::from))
        })
        .await
    }

    /// Coordinator-only: put active tasks whose lease expired (their run stopped sending heartbeats) back in their slot's queue.
    #[tool(
        output_schema = output_schema("requeue_expired_leases"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn requeue_expired_leases(
        &self,
        Parameters(Args(p)): Parameters<Args<api::RequeueExpiredLeases>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.requeue_expired_leases(c, &p))
            .await
    }

    /// Coordinator-only: record the periodic summary pause.
    #[tool(
        output_schema = output_schema("record_summary_pause"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn record_summary_pause(
        &self,
        Parameters(Args(p)): Parameters<Args<api::RecordSummaryPause>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.record_summary_pause(c, &p))
            .await
    }

    /// Record evidence of a wake attempt for a slot.
    #[tool(
        output_schema = output_schema("record_wake_attempt"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = false)
    )]
    async fn record_wake_attempt(
        &self,
        Parameters(Args(p)): Parameters<Args<api::RecordWakeAttempt>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| s.record_wake_attempt(c, &p))
            .await
    }

    /// Coordinator-only: dispatch a background Codex worker with a self-contained prompt (it shares no context with you: give context, goal, constraints, expected output). Starts at once while fewer than the limit (6) run, else queues; the result arrives in your inbox as job.completed / job.failed, with job.progress notes while it runs.
    #[tool(
        output_schema = output_schema("dispatch_job"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = true)
    )]
    async fn dispatch_job(
        &self,
        Parameters(Args(p)): Parameters<Args<jobs::api::DispatchJob>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| jobs_tools::dispatch(s, c, &p))
            .await
    }

    /// Every background job: state, elapsed time, tokens, files modified, summary, exit code, pid, thread, queue position. Dead workers are recorded failed first.
    #[tool(
        output_schema = output_schema("list_jobs"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn list_jobs(
        &self,
        Parameters(Args(_p)): Parameters<Args<jobs::api::ListJobs>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, _| jobs_tools::list(s)).await
    }

    /// One background job's record (reconciled with its process first).
    #[tool(
        output_schema = output_schema("job_status"),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn job_status(
        &self,
        Parameters(Args(p)): Parameters<Args<jobs::api::JobRef>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, _| jobs_tools::status(s, &p))
            .await
    }

    /// A background job's transcript (its messages, commands and file changes), whole or its last lines.
    #[tool(
        output_schema = output_schema("job_output"),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn job_output(
        &self,
        Parameters(Args(p)): Parameters<Args<jobs::api::JobOutput>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, _| jobs_tools::output(s, &p))
            .await
    }

    /// Coordinator-only: a follow-up on a job's Codex thread. Recorded at once as a queued job that resumes the thread when the job has ended.
    #[tool(
        output_schema = output_schema("send_to_job"),
        annotations(read_only_hint = false, destructive_hint = false, open_world_hint = true)
    )]
    async fn send_to_job(
        &self,
        Parameters(Args(p)): Parameters<Args<jobs::api::SendToJob>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| jobs_tools::send(s, c, &p))
            .await
    }

    /// Coordinator-only: stop a background job (its whole process tree) or drop it from the queue.
    #[tool(
        output_schema = output_schema("cancel_job"),
        annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false, open_world_hint = false)
    )]
    async fn cancel_job(
        &self,
        Parameters(Args(p)): Parameters<Args<jobs::api::JobRef>>,
        meta: RequestMetaObject,
    ) -> Answer {
        self.run(meta, None, move |s, c| jobs_tools::cancel(s, c, &p))
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CodenatorServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "auralis-codenator",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Log to stderr (stdout belongs to MCP). `RUST_LOG` sets the filter.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rmcp=warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// `job supervise --root ROOT ID`: run one job's supervisor (the runner
/// starts it detached; see `jobs::supervisor`).
pub fn supervise_job(args: &[std::ffi::OsString]) -> anyhow::Result<()> {
    let (root, id) = match args {
        [flag, root, id] if flag == "--root" => (PathBuf::from(root), id.to_string_lossy()),
        _ => anyhow::bail!("usage: job supervise --root ROOT JOB_ID"),
    };
    let store = host::root::Root::resolve(Some(&root))?.open_existing()?;
    let launcher = jobs::Launcher::new(std::env::current_exe()?);
    jobs::supervisor::supervise(
        &store,
        launcher,
        &ledger::model::JobId::parse("job_id", &id)?,
        host::codex::home().as_deref(),
    )?;
    Ok(())
}

/// Serve MCP over stdin/stdout until the client closes stdin, on a
/// runtime of one thread: a session sends one call at a time, and each
/// call's ledger work runs inline on that thread (see
/// [`CodenatorServer::run`]), so nothing hops between threads.
pub fn run_stdio(config: Config) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve_stdio(config))
}

/// The server's side of the stdio transport.
type StdioReader = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;
type StdioWriter = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// stdin and stdout for the transport. Where they are pipes (as when Codex
/// starts the server) they are driven by the runtime itself, non-blocking:
/// tokio's `stdin()`/`stdout()` do every read and write on a blocking pool
/// thread, two thread hops per message that cost more than a ledger read.
/// Anything else (a terminal, a file) goes through tokio's stdio.
fn stdio() -> (StdioReader, StdioWriter) {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use tokio::net::unix::pipe;
        let input = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .and_then(pipe::Receiver::from_owned_fd);
        let output = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .and_then(pipe::Sender::from_owned_fd);
        let reader: StdioReader = match input {
            Ok(r) => Box::pin(r),
            Err(_) => Box::pin(tokio::io::stdin()),
        };
        let writer: StdioWriter = match output {
            Ok(w) => Box::pin(w),
            Err(_) => Box::pin(tokio::io::stdout()),
        };
        (reader, writer)
    }
    #[cfg(not(unix))]
    {
        (Box::pin(tokio::io::stdin()), Box::pin(tokio::io::stdout()))
    }
}

async fn serve_stdio(config: Config) -> anyhow::Result<()> {
    let server = CodenatorServer::new(&config)?;
    tracing::info!(
        root = %config.root.display(),
        store = %server.store().dir().display(),
        agent = config.agent.as_ref().map_or("(bound by Codex thread)", |a| a.as_str()),
        "codenator MCP server ready"
    );
    let service = server.serve(stdio()).await?;
    let reason = service.waiting().await?;
    tracing::info!(?reason, "stopped");
    Ok(())
}
