//! The supervisor: the detached process that runs one job's Codex, reads
//! its `--json` event stream, keeps the job's record (thread, tokens,
//! files, summary, progress), records the end with its callback, and then
//! starts the next queued jobs. The transcript also goes to its stdout:
//! nowhere for a plain job, the pane a person watches for a `--tmux` one.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ledger::model::job::{FileChange, MAX_PROGRESS_NOTES, Tokens};
use ledger::model::{Job, JobId, JobState};
use ledger::{Store, records};

use crate::error::{Error, Result};
use crate::events::{self, Event, Item};
use crate::runner::{self, JOB_PROGRESS, Launcher, Runner};

/// At most one `job.progress` message per this long (the record gets
/// every note).
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// What the stream told so far.
#[derive(Default)]
struct Seen {
    thread_id: Option<String>,
    tokens: Option<Tokens>,
    files: Vec<FileChange>,
    last_message: Option<String>,
    turn_completed: bool,
    failure: Option<String>,
    notes: Vec<String>,
}

impl Seen {
    /// Take in one event; answers a progress note and a transcript line
    /// when the event is worth one.
    fn take(&mut self, ev: Event) -> (Option<String>, Option<String>) {
        match ev {
            Event::ThreadStarted { thread_id } => {
                let line = format!("[thread {thread_id}]");
                self.thread_id = Some(thread_id);
                (None, Some(line))
            }
            Event::TurnCompleted { usage } => {
                self.turn_completed = true;
                let t = Tokens {
                    input: usage.input_tokens,
                    cached_input: usage.cached_input_tokens,
                    output: usage.output_tokens,
                    reasoning_output: usage.reasoning_output_tokens,
                    ..Tokens::default()
                };
                let line = format!(
                    "[turn completed: {} input ({} cached), {} output tokens]",
                    t.input, t.cached_input, t.output
                );
                self.tokens = Some(t);
                (None, Some(line))
            }
            Event::TurnFailed { error } => {
                let line = format!("[turn failed: {}]", error.message);
                self.failure = Some(error.message);
                (None, Some(line))
            }
            Event::Error { message } => {
                let line = format!("[error: {message}]");
                self.failure = Some(message);
                (None, Some(line))
            }
            Event::ItemStarted { item } => match item {
                Item::CommandExecution { command, .. } => {
                    (Some(format!("running `{}`", short(&command))), None)
                }
                _ => (None, None),
            },
            Event::ItemCompleted { item } => self.item(item),
            Event::Other => (None, None),
        }
    }

    fn item(&mut self, item: Item) -> (Option<String>, Option<String>) {
        match item {
            Item::AgentMessage { text } => {
                let note = format!("said: {}", short(&text));
                self.last_message = Some(text.clone());
                (Some(note), Some(text))
            }
            Item::CommandExecution { command, exit_code } => {
                let code = exit_code.map_or_else(|| "?".into(), |c| c.to_string());
                (
                    Some(format!("ran `{}` (exit {code})", short(&command))),
                    Some(format!("$ {command}\n[exit {code}]")),
                )
            }
            Item::FileChange { changes, status } => {
                if status == "failed" {
                    return (None, Some("[patch failed]".into()));
                }
                let mut lines = Vec::new();
                for c in changes {
                    lines.push(format!("[{} {}]", c.kind, c.path));
                    self.files.retain(|f| f.path != c.path);
                    self.files.push(FileChange {
                        path: c.path,
                        kind: c.kind,
                    });
                }
                let names: Vec<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
                (
                    Some(format!("changed {}", short(&names.join(", ")))),
                    Some(lines.join("\n")),
                )
            }
            Item::McpToolCall { server, tool } => (
                Some(format!("called {server}.{tool}")),
                Some(format!("[tool {server}.{tool}]")),
            ),
            Item::Error { message } => (None, Some(format!("[warning: {message}]"))),
            Item::Other => (None, None),
        }
    }

    /// The context figures of the thread's session record, into the tokens.
    fn read_context(&mut self, codex_home: &Path, thread_id: &str) {
        let Some(ctx) = crate::rollout::context(codex_home, thread_id) else {
            tracing::debug!("no token_count in the session record of thread {thread_id}");
            return;
        };
        if let Some(t) = self.tokens.as_mut() {
            t.context_used = Some(ctx.used);
            t.context_window = ctx.window;
        }
    }

    /// Copy what was seen into the record.
    fn fill(&self, job: &mut Job) {
        if self.thread_id.is_some() {
            job.thread_id.clone_from(&self.thread_id);
        }
        if self.tokens.is_some() {
            job.tokens.clone_from(&self.tokens);
        }
        job.files_modified.clone_from(&self.files);
        if let Some(m) = &self.last_message {
            job.summary = runner::summary_of(m);
        }
        job.progress.extend(self.notes.iter().cloned());
        let n = job.progress.len();
        if n > MAX_PROGRESS_NOTES {
            job.progress.drain(..n - MAX_PROGRESS_NOTES);
        }
    }
}

fn short(s: &str) -> String {
    let one_line = s.lines().next().unwrap_or_default();
    let mut out = runner::truncate(one_line, 120);
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Run job `id` (this process was started for it by [`Runner`]);
/// `codex_home` is where Codex keeps its session records (the context
/// window is read there).
pub fn supervise(
    store: &Store,
    launcher: Launcher,
    id: &JobId,
    codex_home: Option<&Path>,
) -> Result<()> {
    let me = std::process::id();
    let job = {
        // Waits until the starter's transaction (which recorded this
        // process) is committed.
        let txn = store.read()?;
        records::jobs::require(&txn, id)?
    };
    if job.state != JobState::Running || job.pid != Some(me) {
        tracing::warn!(
            "job {id} is {} with pid {:?}; this supervisor (pid {me}) has nothing to do",
            job.state.as_str(),
            job.pid
        );
        return Ok(());
    }
    let server = launcher.server(store.root());
    let runner = Runner::new(store, launcher);
    let outcome = run_codex(store, &job, &server).map(|(mut seen, status)| {
        if let (Some(home), Some(thread)) = (codex_home, seen.thread_id.clone()) {
            seen.read_context(home, &thread);
        }
        (seen, status)
    });
    let txn = store.write()?;
    let mut current = records::jobs::require(&txn, id)?;
    match outcome {
        Ok((seen, status)) => {
            seen.fill(&mut current);
            let (state, reason, code) = ending(&seen, status);
            runner::end_job(&txn, &mut current, state, reason, code)?;
        }
        Err(e) => {
            runner::end_job(&txn, &mut current, JobState::Failed, e.to_string(), None)?;
        }
    }
    runner.launch_queued(&txn)?;
    txn.commit()?;
    show(&format!(
        "[job {id} {}{}]",
        current.state.as_str(),
        current
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default()
    ));
    // Last: for a `--tmux` job this ends the session this process runs in.
    runner::after_end(&current);
    Ok(())
}

/// The end a finished Codex means: state, reason, exit code.
fn ending(seen: &Seen, status: std::process::ExitStatus) -> (JobState, String, Option<i32>) {
    let code = status.code();
    if status.success() && seen.turn_completed && seen.failure.is_none() {
        return (JobState::Completed, String::new(), code);
    }
    let how = match (code, crate::process::ending_signal(&status)) {
        (Some(c), _) => format!("codex exited with code {c}"),
        (None, Some(s)) => format!("codex was killed by signal {s}"),
        _ => "codex ended".to_string(),
    };
    let reason = match &seen.failure {
        Some(f) => format!("{how}: {f}"),
        None if !seen.turn_completed => format!("{how} before the turn completed"),
        None => how,
    };
    (JobState::Failed, reason, code)
}

/// A transcript line on stdout (a `--tmux` job's pane); a closed stdout
/// is nobody watching.
fn show(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Start Codex and follow its stream to the end.
fn run_codex(
    store: &Store,
    job: &Job,
    server: &runner::WorkerServer,
) -> Result<(Seen, std::process::ExitStatus)> {
    let id = JobId::parse("job_id", &job.id)?;
    let stderr = records::jobs::open_stderr(store, &id)?;
    let mut child = Command::new(&job.spec.codex)
        .args(runner::codex_args(&job.spec, &job.prompt, Some(server)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| Error::Spawn {
            what: job.spec.codex.clone(),
            source: e,
        })?;
    let codex_pid = child.id();
    update(store, &id, |j| j.codex_pid = Some(codex_pid))?;
    let started = format!("[codex pid {codex_pid}]");
    records::jobs::append_log(store, &id, &started)?;
    show(&started);
    let mut seen = Seen::default();
    let mut last_sent: Option<Instant> = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.map_err(|e| Error::Io {
                what: "reading codex's output".into(),
                source: e,
            })?;
            let Some(ev) = events::parse(&line) else {
                continue;
            };
            let record = matches!(
                ev,
                Event::ThreadStarted { .. } | Event::ItemCompleted { .. }
            );
            let (note, text) = seen.take(ev);
            if let Some(t) = &text {
                records::jobs::append_log(store, &id, t)?;
                show(t);
            }
            if let Some(n) = &note {
                seen.notes.push(n.clone());
            }
            if record || note.is_some() {
                let send =
                    note.is_some() && last_sent.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL);
                progress(store, &id, &mut seen, send)?;
                if send {
                    last_sent = Some(Instant::now());
                }
            }
        }
    }
    let status = child.wait().map_err(|e| Error::Io {
        what: "waiting for codex".into(),
        source: e,
    })?;
    Ok((seen, status))
}

/// Write what was seen into the record; with `send`, also tell the
/// coordinator the latest note (`job.progress`).
fn progress(store: &Store, id: &JobId, seen: &mut Seen, send: bool) -> Result<()> {
    let txn = store.write()?;
    let mut job = records::jobs::require(&txn, id)?;
    if job.state != JobState::Running {
        return Ok(());
    }
    seen.fill(&mut job);
    let latest = seen.notes.last().cloned();
    seen.notes.clear();
    if send && let Some(note) = latest {
        let mut payload = ledger::model::Payload::new();
        payload.insert("job_id".into(), job.id.clone().into());
        payload.insert("note".into(), note.clone().into());
        runner::notify(
            &txn,
            &job,
            JOB_PROGRESS,
            format!("job {} progress", job.id),
            note,
            payload,
        )?;
    }
    records::jobs::save(&txn, &job)?;
    txn.commit()?;
    Ok(())
}

/// Change a running job's record.
fn update(store: &Store, id: &JobId, f: impl FnOnce(&mut Job)) -> Result<()> {
    let txn = store.write()?;
    let mut job = records::jobs::require(&txn, id)?;
    if job.state == JobState::Running {
        f(&mut job);
        records::jobs::save(&txn, &job)?;
        txn.commit()?;
    }
    Ok(())
}
