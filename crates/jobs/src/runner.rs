//! Dispatching, listing, reconciling and stopping jobs: every change of a
//! job record runs in one ledger write transaction, with the callback
//! message and the task's report in the same transaction, so an ending is
//! recorded, called back and reported exactly once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ledger::api::{self, SendMessageResponse};
use ledger::model::ids::MAX_TITLE_LEN;
use ledger::model::job::{FileChange, JobSpec, SUMMARY_CHARS, Tokens};
use ledger::model::{Job, JobId, JobState, Payload, SlotId, TaskId};
use ledger::ops::messages::send_message_in;
use ledger::ops::tasks::update_task_in;
use ledger::records;
use ledger::store::{ReadTxn, WriteTxn};
use ledger::{Caller, Ctx, Store, time};
use schemars::JsonSchema;
use serde::Serialize;

use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::process;

/// Message types a job sends to its coordinator.
pub const JOB_COMPLETED: &str = "job.completed";
pub const JOB_FAILED: &str = "job.failed";
pub const JOB_KILLED: &str = "job.killed";
pub const JOB_PROGRESS: &str = "job.progress";

const REASONING: &[&str] = &["low", "medium", "high", "xhigh"];
const SANDBOXES: &[&str] = &["read-only", "workspace-write", "danger-full-access"];

/// How to start a job's supervisor: `exe args… --root <root> <job id>`
/// (the CLI's hidden `job supervise`); the same executable serves
/// codenator's MCP server as `exe mcp --root <root> --agent <slot>`.
#[derive(Clone, Debug)]
pub struct Launcher {
    pub exe: PathBuf,
    pub args: Vec<String>,
}

impl Launcher {
    /// `exe job supervise` (`codenator` and `codenator-mcp` both answer it).
    pub fn new(exe: PathBuf) -> Launcher {
        Launcher {
            exe,
            args: vec!["job".into(), "supervise".into()],
        }
    }

    /// The MCP server a `--slot` job's Codex starts, on the store at `root`.
    pub fn server(&self, root: &Path) -> WorkerServer {
        WorkerServer {
            program: self.exe.clone(),
            args: vec!["mcp".into()],
            root: root.to_path_buf(),
        }
    }
}

/// The codenator MCP server a `--slot` job registers in its Codex (as
/// `mcp_servers.codenator`, over whatever the user configured under that
/// name): `program args… --root <root> --agent <slot>`, its tools approved
/// (`codex exec` asks nobody).
#[derive(Clone, Debug)]
pub struct WorkerServer {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub root: PathBuf,
}

/// The name Codex knows codenator's MCP server by.
pub const MCP_SERVER: &str = "codenator";

/// A job to dispatch; paths are absolute.
#[derive(Clone, Debug, Default)]
pub struct StartRequest {
    pub envelope: Envelope,
    pub codex: PathBuf,
    pub dir: PathBuf,
    pub model: Option<String>,
    pub reasoning: Option<String>,
    pub sandbox: Option<String>,
    pub output_file: Option<PathBuf>,
    pub task_id: Option<String>,
    /// Set the worker limit (kept in the ledger) before starting.
    pub max_active: Option<u32>,
    /// A persistent project thread: continue the last job of this name.
    pub thread: Option<String>,
    /// Run this (program and arguments) with the job's JSON on stdin when it ends.
    pub notify: Vec<String>,
    /// The registered ledger slot the worker works as (see [`JobSpec::slot`]).
    pub slot: Option<String>,
    /// Host the worker in a detached tmux session: the tmux executable.
    pub tmux: Option<PathBuf>,
}

/// A job as the front ends show it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    /// 1 for the next queued job to start; only while queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
    /// Seconds since it started (until it ended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_seconds: Option<f64>,
    /// The share of the model's context window in use after the last
    /// model request, in percent (two decimals); absent when Codex recorded
    /// no window (unknown, not 0%).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_percent: Option<f64>,
    /// How to watch a `--tmux` job: `tmux -L <session> attach -t <session>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmux_attach: Option<String>,
}

/// What `job start` answers.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StartResponse {
    pub job: JobView,
    pub max_active: u32,
    /// The jobs running for the same coordinator now.
    pub running: Vec<String>,
}

/// What `jobs` answers.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct JobList {
    pub max_active: u32,
    pub running: usize,
    pub queued: usize,
    pub jobs: Vec<JobView>,
}

/// What `--dry-run` shows: the prompt and the command, nothing started.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct DryRun {
    pub prompt: String,
    pub command: Vec<String>,
}

/// The callback's payload (`job.completed` / `job.failed` / `job.killed`).
#[derive(Serialize)]
struct Callback<'a> {
    job_id: &'a str,
    state: JobState,
    summary: &'a str,
    tokens: &'a Option<Tokens>,
    files_modified: &'a [FileChange],
    exit_code: Option<i32>,
    reason: &'a Option<String>,
    thread_id: &'a Option<String>,
    task_id: &'a Option<String>,
}

/// Check a request and build the job's spec.
fn spec_of(req: &StartRequest) -> Result<JobSpec> {
    ledger::model::ids::text(
        "prompt",
        &req.envelope.task,
        ledger::model::ids::MAX_TEXT_LEN,
    )?;
    if req.envelope.task.trim().is_empty() {
        return Err(Error::Invalid("the prompt must not be empty".into()));
    }
    let one_of = |field: &str, v: &Option<String>, allowed: &[&str]| -> Result<()> {
        match v {
            Some(s) if !allowed.contains(&s.as_str()) => Err(Error::Invalid(format!(
                "{field} must be one of {} (got {s:?})",
                allowed.join(", ")
            ))),
            _ => Ok(()),
        }
    };
    one_of("--reasoning", &req.reasoning, REASONING)?;
    one_of("--sandbox", &req.sandbox, SANDBOXES)?;
    if let Some(m) = &req.model {
        ledger::model::ids::long_id("model", m)?;
    }
    if let Some(t) = &req.task_id {
        TaskId::parse("task_id", t)?;
    }
    if let Some(t) = &req.thread {
        ledger::model::ids::short_id("thread", t)?;
    }
    if let Some(s) = &req.slot {
        let slot = SlotId::parse("--slot", s)?;
        if slot.is_coordinator() || slot.is_broadcast() {
            return Err(Error::Invalid(format!(
                "--slot names the worker slot the job works as; {slot} is not one"
            )));
        }
    }
    ledger::model::ids::list("notify", &req.notify)?;
    if req.max_active == Some(0) {
        return Err(Error::Invalid("--max-active must be at least 1".into()));
    }
    Ok(JobSpec {
        codex: path_string(&req.codex)?,
        dir: path_string(&req.dir)?,
        model: req.model.clone(),
        reasoning: req.reasoning.clone(),
        sandbox: req.sandbox.clone(),
        output_file: req.output_file.as_deref().map(path_string).transpose()?,
        task_id: req.task_id.clone(),
        resume_thread: None,
        notify: req.notify.clone(),
        slot: req.slot.clone(),
        tmux: req.tmux.as_deref().map(path_string).transpose()?,
    })
}

fn path_string(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Invalid(format!("path is not valid UTF-8: {}", p.display())))
}

/// A string as a TOML value (a `-c key=value` override): JSON's string
/// syntax is TOML's basic string.
fn toml_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The `-c` overrides that register codenator's MCP server speaking for
/// `slot` (replacing the command and arguments of any `codenator` entry in
/// the user's configuration).
fn server_overrides(server: &WorkerServer, slot: &str) -> Vec<String> {
    let key = format!("mcp_servers.{MCP_SERVER}");
    let mut args = server.args.clone();
    args.extend([
        "--root".into(),
        server.root.display().to_string(),
        "--agent".into(),
        slot.to_string(),
    ]);
    let list: Vec<String> = args.iter().map(|a| toml_string(a)).collect();
    [
        format!(
            "{key}.command={}",
            toml_string(&server.program.display().to_string())
        ),
        format!("{key}.args=[{}]", list.join(",")),
        format!("{key}.default_tools_approval_mode=\"approve\""),
    ]
    .into_iter()
    .flat_map(|o| ["-c".to_string(), o])
    .collect()
}

/// The `codex` arguments that run a job (no shell: one argument each);
/// `server` is the MCP server a `--slot` job registers.
pub fn codex_args(spec: &JobSpec, prompt: &str, server: Option<&WorkerServer>) -> Vec<String> {
    let mut a: Vec<String> = vec!["exec".into()];
    let push = |a: &mut Vec<String>, flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.push(flag.into());
            a.push(v.clone());
        }
    };
    a.extend([
        "-C".into(),
        spec.dir.clone(),
        "--skip-git-repo-check".into(),
    ]);
    push(&mut a, "-s", &spec.sandbox);
    let effort = spec
        .reasoning
        .as_ref()
        .map(|r| format!("model_reasoning_effort=\"{r}\""));
    push(&mut a, "-c", &effort);
    if let (Some(slot), Some(server)) = (&spec.slot, server) {
        a.extend(server_overrides(server, slot));
    }
    if spec.resume_thread.is_some() {
        // `-s`/`-C` go before `resume`; the rest after it.
        a.push("resume".into());
    }
    a.push("--json".into());
    push(&mut a, "-m", &spec.model);
    push(&mut a, "-o", &spec.output_file);
    a.push("--".into());
    if let Some(t) = &spec.resume_thread {
        a.push(t.clone());
    }
    a.push(prompt.to_string());
    a
}

/// `--dry-run`: the prompt and the command, nothing started.
pub fn dry_run(req: &StartRequest, server: &WorkerServer) -> Result<DryRun> {
    let spec = spec_of(req)?;
    let prompt = req.envelope.prompt();
    let mut command = vec![spec.codex.clone()];
    command.extend(codex_args(&spec, &prompt, Some(server)));
    Ok(DryRun { prompt, command })
}

/// A text cut to at most `n` characters.
pub fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// The job runner over one store.
pub struct Runner<'s> {
    pub store: &'s Store,
    pub launcher: Launcher,
}

impl<'s> Runner<'s> {
    pub fn new(store: &'s Store, launcher: Launcher) -> Runner<'s> {
        Runner { store, launcher }
    }

    /// `job start`: record the job, claim its task, and start it now when
    /// a worker slot is free (else it queues).
    pub fn dispatch(&self, ctx: &Ctx, req: &StartRequest) -> Result<StartResponse> {
        ctx.caller.require_coordinator("starting a job")?;
        let spec = spec_of(req)?;
        let prompt = req.envelope.prompt();
        let txn = self.store.write()?;
        if let Some(n) = req.max_active {
            let mut limits = records::jobs::limits(&txn);
            limits.max_active = Some(n);
            records::jobs::save_limits(&txn, &limits)?;
        }
        let all = records::jobs::load_all(&txn);
        // A named thread continues its latest job that has (or will have)
        // a Codex thread.
        let continues = req.thread.as_ref().and_then(|name| {
            all.iter()
                .rev()
                .find(|j| {
                    j.thread_name.as_ref() == Some(name)
                        && (!j.state.is_final() || j.thread_id.is_some())
                })
                .map(|j| j.id.clone())
        });
        if let Some(s) = &spec.slot {
            // The earlier jobs of the named thread run before this one.
            let same_thread: Vec<&str> = all
                .iter()
                .filter(|j| req.thread.is_some() && j.thread_name == req.thread)
                .map(|j| j.id.as_str())
                .collect();
            check_slot(&txn, &all, s, spec.task_id.as_deref(), &same_thread)?;
        }
        let job = Job {
            id: JobId::generate().to_string(),
            coordinator: ctx.caller.slot().to_string(),
            state: JobState::Queued,
            prompt,
            created_at: time::now(),
            queue_order: next_order(&all),
            spec,
            thread_name: req.thread.clone(),
            continues,
            ..Job::default()
        };
        if let Some(t) = &job.spec.task_id {
            // A `--slot` job's task is claimed by that slot; otherwise by
            // the coordinator for the job.
            let by = match &job.spec.slot {
                Some(_) => task_ctx(&job)?,
                None => ctx.clone(),
            };
            update_task_in(
                &txn,
                &by,
                &api::UpdateTask {
                    task_id: t.clone(),
                    status: Some("active".into()),
                    visible_progress_summary: Some(format!("job {} dispatched", job.id)),
                    ..api::UpdateTask::default()
                },
            )?;
        }
        self.enqueue(txn, job)
    }

    /// `job send`: a follow-up on a job's thread. It becomes a job of its
    /// own that continues the thread with `codex exec resume` once the
    /// job (and any follow-up sent before) has ended: recorded durably
    /// now, so it is never lost, and started by whoever ends that job.
    pub fn send(&self, ctx: &Ctx, id: &JobId, message: &str) -> Result<StartResponse> {
        ctx.caller.require_coordinator("sending to a job")?;
        ledger::model::ids::text("message", message, ledger::model::ids::MAX_TEXT_LEN)?;
        if message.trim().is_empty() {
            return Err(Error::Invalid("the message must not be empty".into()));
        }
        let txn = self.store.write()?;
        let first = records::jobs::require(&txn, id)?;
        if first.state.is_final() && first.thread_id.is_none() {
            return Err(Error::Invalid(format!(
                "job {id} ended ({}) without a Codex thread; there is nothing to continue",
                first.state.as_str()
            )));
        }
        let all = records::jobs::load_all(&txn);
        // The last job on this thread: follow-ups run one after another.
        let mut chain = vec![first.id.clone()];
        for j in &all {
            if j.continues.as_ref().is_some_and(|c| chain.contains(c)) {
                chain.push(j.id.clone());
            }
        }
        if let Some(s) = &first.spec.slot {
            let same_thread: Vec<&str> = chain.iter().map(String::as_str).collect();
            check_slot(&txn, &all, s, None, &same_thread)?;
        }
        let job = Job {
            id: JobId::generate().to_string(),
            coordinator: first.coordinator.clone(),
            state: JobState::Queued,
            prompt: message.to_string(),
            created_at: time::now(),
            queue_order: next_order(&all),
            spec: JobSpec {
                output_file: None,
                task_id: None,
                resume_thread: None,
                ..first.spec.clone()
            },
            thread_name: first.thread_name.clone(),
            continues: chain.last().cloned(),
            ..Job::default()
        };
        self.enqueue(txn, job)
    }

    /// Save a new queued job, start what may start, commit, answer.
    fn enqueue(&self, txn: WriteTxn, job: Job) -> Result<StartResponse> {
        let id = JobId::parse("job_id", &job.id)?;
        records::jobs::save(&txn, &job)?;
        self.launch_queued(&txn)?;
        let jobs = records::jobs::load_all(&txn);
        let limits = records::jobs::limits(&txn);
        txn.commit()?;
        let view = view_in(&jobs, &id).ok_or_else(|| Error::Invalid("job vanished".into()))?;
        let running = jobs
            .iter()
            .filter(|j| j.state == JobState::Running && j.coordinator == view.job.coordinator)
            .map(|j| j.id.clone())
            .collect();
        Ok(StartResponse {
            job: view,
            max_active: limits.max_active(),
            running,
        })
    }

    /// Start queued jobs, in order, while their coordinator has fewer than
    /// the limit running. Runs under the caller's write lock, so no two
    /// processes can both take the last slot.
    pub fn launch_queued(&self, txn: &WriteTxn) -> Result<()> {
        let max = records::jobs::limits(txn).max_active() as usize;
        let mut jobs = records::jobs::load_all(txn);
        jobs.sort_by(queue_cmp);
        let mut running: std::collections::HashMap<String, usize> = Default::default();
        for j in jobs.iter().filter(|j| j.state == JobState::Running) {
            *running.entry(j.coordinator.clone()).or_default() += 1;
        }
        let queued: Vec<Job> = jobs
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .cloned()
            .collect();
        for mut job in queued {
            let n = running.entry(job.coordinator.clone()).or_default();
            if *n >= max {
                continue;
            }
            if let Some(c) = job.continues.clone() {
                match jobs.iter().find(|j| j.id == c) {
                    Some(prev) if !prev.state.is_final() => continue,
                    Some(prev) if prev.thread_id.is_some() => {
                        job.spec.resume_thread.clone_from(&prev.thread_id);
                    }
                    _ => {
                        let reason = format!(
                            "job {c}, whose thread this one continues, ended without a Codex thread"
                        );
                        end_job(txn, &mut job, JobState::Failed, reason, None)?;
                        continue;
                    }
                }
            }
            match self.spawn_supervisor(&job) {
                Ok((pid, start, session)) => {
                    job.state = JobState::Running;
                    job.pid = Some(pid);
                    job.pid_start = Some(start);
                    job.tmux_session = session;
                    job.started_at = Some(time::now());
                    records::jobs::save(txn, &job)?;
                    *n += 1;
                }
                Err(e) => {
                    let reason = format!("the job's supervisor could not start: {e}");
                    tracing::warn!("job {}: {reason}", job.id);
                    end_job(txn, &mut job, JobState::Failed, reason, None)?;
                }
            }
        }
        Ok(())
    }

    /// Start the detached supervisor of a job: its own process group (see
    /// [`process::detach`]), no shell, stdin from the null device, stderr
    /// to the job's stderr file; or, for a `--tmux` job, as the pane of a
    /// new detached tmux session (which leads its own process group too).
    /// Answers its pid, its start time and the tmux session.
    fn spawn_supervisor(&self, job: &Job) -> Result<(u32, u64, Option<String>)> {
        let id = JobId::parse("job_id", &job.id)?;
        if let Some(tmux) = &job.spec.tmux {
            let session = crate::tmux::session_name(&job.id);
            let mut args: Vec<std::ffi::OsString> =
                self.launcher.args.iter().map(Into::into).collect();
            args.extend([
                "--root".into(),
                self.store.root().as_os_str().to_owned(),
                id.as_str().into(),
            ]);
            let pid = crate::tmux::start(
                Path::new(tmux),
                &session,
                &job.spec.dir,
                &self.launcher.exe,
                &args,
            )?;
            let Some(start) = process::start_time(pid) else {
                crate::tmux::end(tmux, &session);
                return Err(Error::Invalid(format!(
                    "the supervisor exited at once in tmux session {session}"
                )));
            };
            return Ok((pid, start, Some(session)));
        }
        let stderr = records::jobs::open_stderr(self.store, &id)?;
        let mut cmd = Command::new(&self.launcher.exe);
        cmd.args(&self.launcher.args)
            .arg("--root")
            .arg(self.store.root())
            .arg(id.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        process::detach(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| Error::Spawn {
            what: self.launcher.exe.display().to_string(),
            source: e,
        })?;
        let pid = child.id();
        let Some(start) = process::start_time(pid) else {
            let status = child.wait().ok();
            return Err(Error::Invalid(format!(
                "the supervisor exited at once ({status:?})"
            )));
        };
        // Reap it when it ends, for as long as this process lives (a long
        // running MCP server would otherwise keep zombies).
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok((pid, start, None))
    }

    /// Make the records agree with the processes: a running job whose
    /// supervisor is gone becomes failed (with its callback), and queued
    /// jobs start when slots are free. Takes the write lock only when
    /// there is something to change.
    pub fn reconcile(&self) -> Result<()> {
        let needs = {
            let txn = self.store.read()?;
            needs_reconcile(&txn)
        };
        if !needs {
            return Ok(());
        }
        let txn = self.store.write()?;
        let mut ended = Vec::new();
        for mut job in records::jobs::load_all(&txn) {
            if job.state == JobState::Running && !worker_alive(&job) {
                if let Some(pid) = job.pid {
                    // Whatever of its tree is left (a Codex whose supervisor
                    // was killed) must not run on unrecorded.
                    process::kill_tree(pid);
                }
                let reason = format!(
                    "the worker died: its supervisor (pid {}) is gone without recording an end",
                    job.pid.map_or_else(|| "unknown".into(), |p| p.to_string())
                );
                end_job(&txn, &mut job, JobState::Failed, reason, None)?;
                ended.push(job);
            }
        }
        self.launch_queued(&txn)?;
        txn.commit()?;
        for job in &ended {
            after_end(job);
        }
        Ok(())
    }

    /// `jobs`: every job, reconciled first.
    pub fn list(&self) -> Result<JobList> {
        self.reconcile()?;
        let txn = self.store.read()?;
        let jobs = records::jobs::load_all(&txn);
        let max_active = records::jobs::limits(&txn).max_active();
        let views: Vec<JobView> = jobs
            .iter()
            .filter_map(|j| {
                let id = JobId::stored(&j.id)?;
                view_in(&jobs, &id)
            })
            .collect();
        Ok(JobList {
            max_active,
            running: jobs.iter().filter(|j| j.state == JobState::Running).count(),
            queued: jobs.iter().filter(|j| j.state == JobState::Queued).count(),
            jobs: views,
        })
    }

    /// `job status`: one job, reconciled first.
    pub fn status(&self, id: &JobId) -> Result<JobView> {
        self.reconcile()?;
        let txn = self.store.read()?;
        records::jobs::require(&txn, id)?;
        let jobs = records::jobs::load_all(&txn);
        view_in(&jobs, id).ok_or_else(|| Error::Invalid(format!("job {id} vanished")))
    }

    /// `job kill`: end a running job's whole process tree (or drop a
    /// queued one), record it killed and call back.
    pub fn kill(&self, ctx: &Ctx, id: &JobId) -> Result<JobView> {
        ctx.caller.require_coordinator("killing a job")?;
        self.reconcile()?;
        let txn = self.store.write()?;
        let mut job = records::jobs::require(&txn, id)?;
        if job.state.is_final() {
            return Err(Error::Invalid(format!(
                "job {id} already ended ({})",
                job.state.as_str()
            )));
        }
        let mut killed = 0;
        if job.state == JobState::Running
            && let Some(pid) = job.pid
            && worker_alive(&job)
        {
            // Under the lock: the supervisor cannot record an ending of its
            // own in between.
            killed = process::kill_tree(pid);
        }
        let by = ctx.caller.slot();
        let reason = if killed > 0 {
            format!("killed by {by} (job kill: {killed} process(es) ended)")
        } else {
            format!("killed by {by} (job kill)")
        };
        end_job(&txn, &mut job, JobState::Killed, reason, None)?;
        self.launch_queued(&txn)?;
        let jobs = records::jobs::load_all(&txn);
        txn.commit()?;
        after_end(&job);
        view_in(&jobs, id).ok_or_else(|| Error::Invalid(format!("job {id} vanished")))
    }

    /// `job prioritize`: a queued job goes first in its queue.
    pub fn prioritize(&self, ctx: &Ctx, id: &JobId) -> Result<JobView> {
        ctx.caller.require_coordinator("prioritizing a job")?;
        let txn = self.store.write()?;
        let mut job = records::jobs::require(&txn, id)?;
        if job.state != JobState::Queued {
            return Err(Error::Invalid(format!(
                "job {id} is {}, not queued",
                job.state.as_str()
            )));
        }
        let all = records::jobs::load_all(&txn);
        job.queue_order = all
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .map(|j| j.queue_order)
            .min()
            .unwrap_or(0)
            - 1;
        records::jobs::save(&txn, &job)?;
        let jobs = records::jobs::load_all(&txn);
        txn.commit()?;
        view_in(&jobs, id).ok_or_else(|| Error::Invalid(format!("job {id} vanished")))
    }

    /// `jobs clean`: remove jobs that ended more than `older_than` ago,
    /// their records, transcripts and stderr. Kept: the latest job of each
    /// named thread (later jobs of the name continue its thread) and any
    /// job a follow-up still waits for. Answers the ids removed.
    pub fn clean(&self, ctx: &Ctx, older_than: std::time::Duration) -> Result<Vec<String>> {
        ctx.caller.require_coordinator("cleaning jobs")?;
        self.reconcile()?;
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(older_than)
                .map_err(|_| Error::Invalid("--older-than is too long".into()))?;
        let txn = self.store.write()?;
        let jobs = records::jobs::load_all(&txn);
        let mut keep: Vec<&str> = jobs
            .iter()
            .filter(|j| !j.state.is_final())
            .filter_map(|j| j.continues.as_deref())
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for j in jobs.iter().rev() {
            if let Some(name) = j.thread_name.as_deref()
                && !names.contains(&name)
            {
                names.push(name);
                keep.push(&j.id);
            }
        }
        let mut removed = Vec::new();
        for j in &jobs {
            let old = j
                .ended_at
                .as_deref()
                .and_then(time::parse)
                .is_some_and(|t| t < cutoff);
            if j.state.is_final() && old && !keep.contains(&j.id.as_str()) {
                let id = JobId::parse("job_id", &j.id)?;
                records::jobs::delete(&txn, &id);
                removed.push(id);
            }
        }
        txn.commit()?;
        for id in &removed {
            records::jobs::remove_logs(self.store, id)?;
        }
        Ok(removed.into_iter().map(String::from).collect())
    }

    /// `job output`: the job's whole transcript.
    pub fn output(&self, id: &JobId) -> Result<String> {
        {
            let txn = self.store.read()?;
            records::jobs::require(&txn, id)?;
        }
        let bytes = records::jobs::log_bytes(self.store, id)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Wait until every job named has ended, or `timeout` passed; the
    /// records are reconciled on every look. Answers the jobs and whether
    /// all ended.
    pub fn wait(
        &self,
        ids: &[JobId],
        timeout: Option<std::time::Duration>,
    ) -> Result<(Vec<JobView>, bool)> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        loop {
            let views = ids
                .iter()
                .map(|id| self.status(id))
                .collect::<Result<Vec<_>>>()?;
            let done = views.iter().all(|v| v.job.state.is_final());
            if done || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok((views, done));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

/// Is there a dead worker to record, or a queued job with a free slot?
fn needs_reconcile(txn: &ReadTxn) -> bool {
    let jobs = records::jobs::load_all(txn);
    if jobs
        .iter()
        .any(|j| j.state == JobState::Running && !worker_alive(j))
    {
        return true;
    }
    let max = records::jobs::limits(txn).max_active() as usize;
    // A follow-up waiting for a job that has not ended cannot start yet.
    let waiting = |q: &Job| {
        q.continues
            .as_ref()
            .is_some_and(|c| jobs.iter().any(|j| &j.id == c && !j.state.is_final()))
    };
    jobs.iter()
        .filter(|j| j.state == JobState::Queued && !waiting(j))
        .any(|q| {
            jobs.iter()
                .filter(|j| j.state == JobState::Running && j.coordinator == q.coordinator)
                .count()
                < max
        })
}

/// Is the job's supervisor (pid and start time) still running?
pub fn worker_alive(job: &Job) -> bool {
    match (job.pid, job.pid_start) {
        (Some(pid), Some(start)) => process::alive(pid, start),
        _ => false,
    }
}

/// The queue order of a new job: after every other.
fn next_order(all: &[Job]) -> i64 {
    all.iter().map(|j| j.queue_order).max().unwrap_or(0) + 1
}

/// Queue order: `queue_order`, then age.
fn queue_cmp(a: &Job, b: &Job) -> std::cmp::Ordering {
    a.queue_order
        .cmp(&b.queue_order)
        .then(a.created_at.cmp(&b.created_at))
        .then(a.id.cmp(&b.id))
}

/// A job with its queue position and elapsed time, from all the jobs.
fn view_in(jobs: &[Job], id: &JobId) -> Option<JobView> {
    let job = jobs.iter().find(|j| j.id == id.as_str())?.clone();
    let queue_position = (job.state == JobState::Queued).then(|| {
        let mut queued: Vec<&Job> = jobs
            .iter()
            .filter(|j| j.state == JobState::Queued && j.coordinator == job.coordinator)
            .collect();
        queued.sort_by(|a, b| queue_cmp(a, b));
        queued.iter().position(|j| j.id == job.id).unwrap_or(0) + 1
    });
    let elapsed_seconds = job.started_at.as_deref().and_then(time::parse).map(|s| {
        let end = job
            .ended_at
            .as_deref()
            .and_then(time::parse)
            .unwrap_or_else(chrono::Utc::now);
        (end - s).num_milliseconds() as f64 / 1000.0
    });
    let context_percent = job
        .tokens
        .as_ref()
        .and_then(ledger::model::job::Tokens::context_percent)
        .map(|p| (p * 100.0).round() / 100.0);
    let tmux_attach = job.tmux_session.as_deref().map(crate::tmux::attach_command);
    Some(JobView {
        job,
        queue_position,
        elapsed_seconds,
        context_percent,
        tmux_attach,
    })
}

/// Who claims and reports a job's task: the slot it works as (`--slot`),
/// else the coordinator it reports to.
fn task_ctx(job: &Job) -> Result<Ctx> {
    let slot = match &job.spec.slot {
        Some(s) => SlotId::parse("slot", s)?,
        None => SlotId::parse("coordinator", &job.coordinator)?,
    };
    Ok(Ctx::new(Caller::new(slot)))
}

/// May a new job work as `slot`? It must be registered, have no other job
/// that has not ended (one worker per slot; the jobs of the thread it
/// continues, `same_thread`, run before it, one after another, so they do
/// not count), and own the job's task.
fn check_slot(
    txn: &ReadTxn,
    all: &[Job],
    slot: &str,
    task_id: Option<&str>,
    same_thread: &[&str],
) -> Result<()> {
    let id = SlotId::parse("--slot", slot)?;
    if !records::registry::load(txn)?.is_registered(id.as_str()) {
        return Err(Error::Invalid(format!(
            "--slot {id}: the slot is not registered; register it first (`codenator register {id} --project P --focus F --worktree DIR`, or the register_slot tool)"
        )));
    }
    if let Some(other) = all.iter().find(|j| {
        !j.state.is_final()
            && j.spec.slot.as_deref() == Some(id.as_str())
            && !same_thread.contains(&j.id.as_str())
    }) {
        return Err(Error::Invalid(format!(
            "--slot {id}: job {} is {} as that slot; one job works as a slot at a time (wait for it, or continue it with `job send`)",
            other.id,
            other.state.as_str()
        )));
    }
    if let Some(t) = task_id {
        let task = records::tasks::require(txn, &TaskId::parse("task_id", t)?)?;
        if task.slot != id.as_str() {
            return Err(Error::Invalid(format!(
                "--task {t} is assigned to {}, not to {id}: a job working as a slot works on that slot's tasks",
                task.slot
            )));
        }
    }
    Ok(())
}

/// What follows a job's end, once it is committed: its
/// `--notify-on-complete` command, and the end of its tmux session.
pub fn after_end(job: &Job) {
    run_notify(job);
    if let (Some(tmux), Some(session)) = (&job.spec.tmux, &job.tmux_session) {
        crate::tmux::end(tmux, session);
    }
}

/// Send a message about a job to its coordinator, in `txn`.
pub(crate) fn notify(
    txn: &WriteTxn,
    job: &Job,
    kind: &str,
    subject: String,
    message: String,
    payload: Payload,
) -> Result<SendMessageResponse> {
    // The job speaks for itself (its id is a valid slot id), so its
    // messages are unread news in the coordinator's own inbox.
    let ctx = Ctx::new(Caller::new(SlotId::parse("job_id", &job.id)?));
    Ok(send_message_in(
        txn,
        &ctx,
        &api::SendMessage {
            to: job.coordinator.clone(),
            message,
            from: Some(job.id.clone()),
            kind: Some(kind.into()),
            subject: Some(truncate(&subject, MAX_TITLE_LEN)),
            task_id: job.spec.task_id.clone(),
            payload: Some(payload),
        },
    )?)
}

/// Record a job's end in `txn`: its state and reason, the callback to its
/// coordinator, and its task reported (completed) or blocked (otherwise).
/// A job that already ended is left as it is (no second callback).
pub(crate) fn end_job(
    txn: &WriteTxn,
    job: &mut Job,
    state: JobState,
    reason: String,
    exit_code: Option<i32>,
) -> Result<()> {
    let id = JobId::parse("job_id", &job.id)?;
    let current = records::jobs::require(txn, &id)?;
    if current.state.is_final() {
        *job = current;
        return Ok(());
    }
    job.state = state;
    job.ended_at = Some(time::now());
    if exit_code.is_some() {
        job.exit_code = exit_code;
    }
    if state != JobState::Completed {
        job.reason = Some(reason);
    }
    let kind = match state {
        JobState::Completed => JOB_COMPLETED,
        JobState::Killed => JOB_KILLED,
        _ => JOB_FAILED,
    };
    let payload = serde_json::to_value(Callback {
        job_id: &job.id,
        state,
        summary: &job.summary,
        tokens: &job.tokens,
        files_modified: &job.files_modified,
        exit_code: job.exit_code,
        reason: &job.reason,
        thread_id: &job.thread_id,
        task_id: &job.spec.task_id,
    })
    .ok()
    .and_then(|v| v.as_object().cloned())
    .unwrap_or_default();
    let files: Vec<&str> = job.files_modified.iter().map(|f| f.path.as_str()).collect();
    let mut body = match state {
        JobState::Completed => job.summary.clone(),
        _ => job.reason.clone().unwrap_or_default(),
    };
    if let Some(t) = &job.tokens {
        body.push_str(&format!(
            "\ntokens: {} in ({} cached), {} out",
            t.input, t.cached_input, t.output
        ));
        match (t.context_percent(), t.context_window) {
            (Some(p), Some(w)) => body.push_str(&format!("; context {p:.2}% of {w}")),
            _ => body.push_str("; context window unknown"),
        }
    }
    if !files.is_empty() {
        body.push_str(&format!("\nfiles: {}", files.join(", ")));
    }
    let sent = notify(
        txn,
        job,
        kind,
        format!("job {} {}", job.id, state.as_str()),
        truncate(&body, ledger::model::ids::MAX_TEXT_LEN / 2),
        payload,
    )?;
    job.callback_id = Some(sent.message.id.clone());
    if let Some(task) = job.spec.task_id.clone() {
        let ctx = task_ctx(job)?;
        let req = match state {
            JobState::Completed => api::UpdateTask {
                task_id: task.clone(),
                status: Some("reported".into()),
                visible_progress_summary: Some(truncate(
                    &format!("job {}: {}", job.id, job.summary),
                    MAX_TITLE_LEN,
                )),
                ..api::UpdateTask::default()
            },
            _ => api::UpdateTask {
                task_id: task.clone(),
                blocker: Some(format!(
                    "job {} {}: {}",
                    job.id,
                    state.as_str(),
                    job.reason.clone().unwrap_or_default()
                )),
                ..api::UpdateTask::default()
            },
        };
        if let Err(e) = update_task_in(txn, &ctx, &req) {
            tracing::warn!("job {}: could not update task {task}: {e}", job.id);
        }
    }
    records::jobs::save(txn, job)?;
    Ok(())
}

/// Run the job's `--notify-on-complete` command with its record (JSON) on
/// stdin; after the end is committed, outside the lock. A failure is
/// logged: the job's end stands.
pub fn run_notify(job: &Job) {
    use std::io::Write;
    let Some((program, args)) = job.spec.notify.split_first() else {
        return;
    };
    let run = || -> std::io::Result<std::process::ExitStatus> {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&job.spec.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            let json = serde_json::to_vec(job).map_err(std::io::Error::other)?;
            stdin.write_all(&json)?;
        }
        child.wait()
    };
    match run() {
        Ok(s) if s.success() => {}
        Ok(s) => tracing::warn!("job {}: --notify-on-complete {program} ended {s}", job.id),
        Err(e) => tracing::warn!("job {}: --notify-on-complete {program}: {e}", job.id),
    }
}

/// The summary kept of a final message.
pub(crate) fn summary_of(text: &str) -> String {
    truncate(text.trim(), SUMMARY_CHARS)
}
