//! `codenator job …` and `codenator jobs`: background Codex workers, a thin
//! layer over the `jobs` crate. The supervisor of a job is this program
//! again (`job supervise`, hidden), started detached by the runner.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use jobs::{Envelope, Launcher, Runner, StartRequest};
use ledger::model::JobId;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct JobArgs {
    #[command(subcommand)]
    pub command: JobCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum JobCommand {
    /// Dispatch a prompt to a background Codex worker; prints the job id at once.
    Start(Box<StartArgs>),
    /// One job: state, elapsed time, tokens, files, summary, exit code, pid, thread.
    Status(IdArgs),
    /// The job's whole transcript.
    Output(IdArgs),
    /// The last N lines of the job's transcript.
    Capture(CaptureArgs),
    /// Stream the job's transcript until it ends.
    Watch(IdArgs),
    /// Block until the jobs end (or the timeout passes: exit 1).
    Wait(WaitArgs),
    /// A follow-up on a job's thread (`codex exec resume`), started when the job has ended.
    Send(SendArgs),
    /// End a job's whole process tree (or drop it from the queue).
    Kill(IdArgs),
    /// Move a queued job to the front of its queue.
    Prioritize(IdArgs),
    /// Run a job's Codex and record it (started by the runner, detached).
    #[command(hide = true)]
    Supervise(IdArgs),
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// What the worker is to do (the Task section of the envelope).
    pub prompt: String,
    #[command(flatten)]
    pub common: Common,
    /// Context section: what the worker must know.
    #[arg(long, allow_hyphen_values = true)]
    pub context: Option<String>,
    /// Goal section.
    #[arg(long, allow_hyphen_values = true)]
    pub goal: Option<String>,
    /// A constraint (repeatable).
    #[arg(long = "constraint", allow_hyphen_values = true)]
    pub constraints: Vec<String>,
    /// Expected Output section.
    #[arg(long, allow_hyphen_values = true)]
    pub expected: Option<String>,
    /// Include the files matching GLOB (relative to --dir) in the Context section (repeatable).
    #[arg(long = "file", value_name = "GLOB")]
    pub files: Vec<String>,
    /// Include docs/CODEBASE_MAP.md (of --dir) when present.
    #[arg(long)]
    pub map: bool,
    /// Codex executable (default: $CODENATOR_CODEX, then `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex: Option<PathBuf>,
    /// The model the worker uses (`codex exec -m`; default: Codex's own setting)
    #[arg(long)]
    pub model: Option<String>,
    /// low, medium, high or xhigh.
    #[arg(long)]
    pub reasoning: Option<String>,
    /// read-only, workspace-write or danger-full-access.
    #[arg(long)]
    pub sandbox: Option<String>,
    /// Working directory of the worker (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Also write the final answer to this file.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Tie the job to a ledger task: it is claimed now and reported when the job completes.
    #[arg(long)]
    pub task: Option<String>,
    /// Work as this registered slot: the worker's codenator tools speak for it, and the --task
    /// (which must be the slot's) is claimed and reported by it. One job per slot at a time.
    #[arg(long, value_name = "SLOT")]
    pub slot: Option<String>,
    /// Host the worker in a detached tmux session (`codenator-<job id>`, on a tmux server of its
    /// own) that you can attach to and watch; `job status` prints the attach command.
    #[arg(long)]
    pub tmux: bool,
    /// Set the worker limit per coordinator (kept in the ledger; default 6).
    #[arg(long, value_name = "N")]
    pub max_active: Option<u32>,
    /// Run on a named, persistent Codex thread: created by the first job of the name, continued
    /// by the later ones.
    #[arg(long, value_name = "NAME")]
    pub thread: Option<String>,
    /// When the job ends, run CMD (split like a shell would, run without one) with the job's JSON
    /// on stdin: a desktop notification, a spoken summary.
    #[arg(long, value_name = "CMD")]
    pub notify_on_complete: Option<String>,
    /// Print the whole prompt and the command; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print `{job, max_active, running}` as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct IdArgs {
    pub id: String,
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct SendArgs {
    pub id: String,
    /// The follow-up prompt.
    pub message: String,
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    pub id: String,
    /// How many lines (default 20).
    pub lines: Option<usize>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Give up after this long (`90`, `30s`, `5m`, `1h`); exit 1 then.
    #[arg(long)]
    pub timeout: Option<String>,
    #[command(flatten)]
    pub common: Common,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ListArgs {
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
    #[command(flatten)]
    pub common: Common,
    /// Set the worker limit per coordinator first (kept in the ledger).
    #[arg(long, value_name = "N")]
    pub max_active: Option<u32>,
    /// Print `{max_active, running, queued, jobs}` as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum JobsCommand {
    /// Remove jobs that ended long ago: records, transcripts, stderr (the latest job of each
    /// named thread, and jobs a follow-up waits for, stay).
    Clean(CleanArgs),
}

#[derive(clap::Args, Debug)]
pub struct CleanArgs {
    /// Ended more than this long ago (`7d`, `12h`, `30m`, `90`).
    #[arg(long, default_value = "7d")]
    pub older_than: String,
    #[command(flatten)]
    pub common: Common,
    /// Print the ids removed as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// This program as the jobs' supervisor.
fn launcher() -> anyhow::Result<Launcher> {
    let exe = std::env::current_exe().context("cannot find this program's executable")?;
    Ok(Launcher::new(exe))
}

fn job_id(s: &str) -> anyhow::Result<JobId> {
    Ok(JobId::parse("job id", s)?)
}

pub fn run(env_top: &Common, args: &JobArgs) -> anyhow::Result<u8> {
    match &args.command {
        JobCommand::Start(a) => start(&Env::new(env_top, &a.common), a),
        JobCommand::Status(a) => {
            let env = Env::new(env_top, &a.common);
            let store = env.store()?;
            let view = Runner::new(&store, launcher()?).status(&job_id(&a.id)?)?;
            if a.json {
                print_json(&view)?;
            } else {
                print_job(&view)?;
            }
            Ok(0)
        }
        JobCommand::Output(a) => {
            let store = Env::new(env_top, &a.common).store()?;
            let text = Runner::new(&store, launcher()?).output(&job_id(&a.id)?)?;
            say!("{}", text.trim_end());
            Ok(0)
        }
        JobCommand::Capture(a) => {
            let store = Env::new(env_top, &a.common).store()?;
            let text = Runner::new(&store, launcher()?).output(&job_id(&a.id)?)?;
            say!("{}", jobs::api::tail(&text, Some(a.lines.unwrap_or(20))));
            Ok(0)
        }
        JobCommand::Watch(a) => {
            let store = Env::new(env_top, &a.common).store()?;
            let runner = Runner::new(&store, launcher()?);
            let id = job_id(&a.id)?;
            let mut shown = 0;
            loop {
                // Read the state first: a transcript read after it holds
                // every line written before the end.
                let view = runner.status(&id)?;
                let text = runner.output(&id)?;
                if text.len() > shown {
                    let new = &text[shown..];
                    let upto = if view.job.state.is_final() {
                        new.len()
                    } else {
                        new.rfind('\n').map_or(0, |i| i + 1)
                    };
                    if upto > 0 {
                        say!("{}", new[..upto].trim_end_matches('\n'));
                        shown += upto;
                    }
                }
                if view.job.state.is_final() {
                    print_job(&view)?;
                    return Ok(if view.job.state == ledger::model::JobState::Completed {
                        0
                    } else {
                        1
                    });
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        JobCommand::Wait(a) => {
            let store = Env::new(env_top, &a.common).store()?;
            let ids = a
                .ids
                .iter()
                .map(|s| job_id(s))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let timeout = a.timeout.as_deref().map(parse_duration).transpose()?;
            let (views, done) = Runner::new(&store, launcher()?).wait(&ids, timeout)?;
            if a.json {
                print_json(&views)?;
            } else {
                for v in &views {
                    print_job(v)?;
                }
            }
            if !done {
                eprintln!("codenator: job wait: timed out before every job ended");
            }
            Ok(if done { 0 } else { 1 })
        }
        JobCommand::Send(a) => {
            let env = Env::new(env_top, &a.common);
            let store = env.store()?;
            let ctx = env.ctx(&store, None)?;
            let ans = Runner::new(&store, launcher()?).send(&ctx, &job_id(&a.id)?, &a.message)?;
            if a.json {
                print_json(&ans)?;
            } else {
                say!("{}", ans.job.job.id);
                eprintln!(
                    "codenator: follow-up {} {} on the thread of {}",
                    ans.job.job.id,
                    ans.job.job.state.as_str(),
                    ans.job.job.continues.as_deref().unwrap_or("")
                );
            }
            Ok(0)
        }
        JobCommand::Kill(a) => act_on(
            env_top,
            a,
            |r, c, i| r.kill(c, i),
            |v| {
                format!(
                    "{} {}: {}",
                    v.job.id,
                    v.job.state.as_str(),
                    v.job.reason.as_deref().unwrap_or("")
                )
            },
        ),
        JobCommand::Prioritize(a) => act_on(
            env_top,
            a,
            |r, c, i| r.prioritize(c, i),
            |v| {
                format!(
                    "{} queued at position {}",
                    v.job.id,
                    v.queue_position.unwrap_or(1)
                )
            },
        ),
        JobCommand::Supervise(a) => {
            let store = Env::new(env_top, &a.common).store_without_import()?;
            jobs::supervisor::supervise(
                &store,
                launcher()?,
                &job_id(&a.id)?,
                host::codex::home().as_deref(),
            )?;
            Ok(0)
        }
    }
}

/// A coordinator's action on one job (kill, prioritize), printed as JSON
/// or as `line` says.
fn act_on(
    env_top: &Common,
    a: &IdArgs,
    act: fn(&Runner<'_>, &ledger::Ctx, &JobId) -> jobs::Result<jobs::JobView>,
    line: fn(&jobs::JobView) -> String,
) -> anyhow::Result<u8> {
    let env = Env::new(env_top, &a.common);
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let view = act(&Runner::new(&store, launcher()?), &ctx, &job_id(&a.id)?)?;
    if a.json {
        print_json(&view)?;
    } else {
        say!("{}", line(&view));
    }
    Ok(0)
}

fn start(env: &Env, a: &StartArgs) -> anyhow::Result<u8> {
    let Some(codex) = host::codex::executable(a.codex.as_deref()) else {
        bail!(
            "no Codex found: pass --codex PATH, set CODENATOR_CODEX, or install it (`npm install -g @openai/codex`)"
        );
    };
    let tmux = match a.tmux {
        true => Some(host::tmux().with_context(|| {
            format!(
                "--tmux needs tmux, and there is none on PATH: {}, or start the job without --tmux",
                host::TMUX_INSTALL
            )
        })?),
        false => None,
    };
    let cwd = host::cwd().context("cannot read the current directory")?;
    let abs = |p: &PathBuf| host::root::absolute(&cwd, p);
    let dir = a.dir.as_ref().map_or_else(|| cwd.clone(), abs);
    let req = StartRequest {
        envelope: Envelope {
            task: a.prompt.clone(),
            context: a.context.clone(),
            files: jobs::envelope::include_files(&dir, &a.files, a.map)?,
            goal: a.goal.clone(),
            constraints: a.constraints.clone(),
            expected: a.expected.clone(),
        },
        codex: if codex.components().count() > 1 {
            abs(&codex)
        } else {
            codex
        },
        dir,
        model: a.model.clone(),
        reasoning: a.reasoning.clone(),
        sandbox: a.sandbox.clone(),
        output_file: a.output.as_ref().map(abs),
        task_id: a.task.clone(),
        max_active: a.max_active,
        thread: a.thread.clone(),
        notify: match &a.notify_on_complete {
            Some(c) => shlex::split(c)
                .filter(|v| !v.is_empty())
                .with_context(|| format!("--notify-on-complete: cannot split {c:?} into words"))?,
            None => Vec::new(),
        },
        slot: a.slot.clone(),
        tmux,
    };
    if a.dry_run {
        let dry = jobs::runner::dry_run(&req, &launcher()?.server(&env.root()?.path))?;
        if a.json {
            print_json(&dry)?;
        } else {
            say!("{}", dry.prompt.trim_end());
            say!("");
            say!("command: {}", shell_words(&dry.command));
            say!("(dry run: nothing started)");
        }
        return Ok(0);
    }
    let store = env.store()?;
    let ctx = env.ctx(&store, None)?;
    let ans = Runner::new(&store, launcher()?).dispatch(&ctx, &req)?;
    if a.json {
        print_json(&ans)?;
    } else {
        say!("{}", ans.job.job.id);
        if let Some(p) = ans.job.queue_position {
            eprintln!(
                "codenator: queued at position {p}: {} of {} workers busy ({})",
                ans.running.len(),
                ans.max_active,
                ans.running.join(", ")
            );
        }
    }
    Ok(0)
}

pub fn list(env: &Env, a: &ListArgs) -> anyhow::Result<u8> {
    if let Some(JobsCommand::Clean(c)) = &a.command {
        let env = Env {
            root: c.common.root.clone().or_else(|| env.root.clone()),
            as_slot: c.common.as_slot.clone().or_else(|| env.as_slot.clone()),
        };
        let store = env.store()?;
        let ctx = env.ctx(&store, None)?;
        let removed =
            Runner::new(&store, launcher()?).clean(&ctx, parse_duration(&c.older_than)?)?;
        if c.json {
            print_json(&removed)?;
        } else {
            say!("removed {} job(s)", removed.len());
            for id in &removed {
                say!("{id}");
            }
        }
        return Ok(0);
    }
    let store = env.store()?;
    let runner = Runner::new(&store, launcher()?);
    if let Some(n) = a.max_active {
        let ctx = env.ctx(&store, None)?;
        ctx.caller.require_coordinator("setting the worker limit")?;
        if n == 0 {
            bail!("--max-active must be at least 1");
        }
        let txn = store.write()?;
        let mut limits = ledger::records::jobs::limits(&txn);
        limits.max_active = Some(n);
        ledger::records::jobs::save_limits(&txn, &limits)?;
        runner.launch_queued(&txn)?;
        txn.commit()?;
    }
    let list = runner.list()?;
    if a.json {
        print_json(&list)?;
        return Ok(0);
    }
    say!(
        "{} running, {} queued (limit {} per coordinator)",
        list.running,
        list.queued,
        list.max_active
    );
    for v in &list.jobs {
        print_job(v)?;
    }
    Ok(0)
}

fn print_job(v: &jobs::JobView) -> anyhow::Result<()> {
    let j = &v.job;
    let mut line = format!("{}  {}", j.id, j.state.as_str());
    if let Some(p) = v.queue_position {
        line.push_str(&format!(" (#{p})"));
    }
    if let Some(e) = v.elapsed_seconds {
        line.push_str(&format!("  {e:.1}s"));
    }
    if let Some(s) = &j.spec.slot {
        line.push_str(&format!("  as {s}"));
    }
    if let Some(t) = &j.tokens {
        line.push_str(&format!(
            "  tokens {} in ({} cached) {} out",
            t.input, t.cached_input, t.output
        ));
        match (t.context_used, t.context_window, v.context_percent) {
            (Some(used), Some(window), Some(p)) => {
                line.push_str(&format!("  context {used} of {window} ({p:.2}%)"));
            }
            (Some(used), _, _) => {
                line.push_str(&format!("  context {used} of an unknown window"));
            }
            _ => line.push_str("  context unknown"),
        }
    }
    if !j.files_modified.is_empty() {
        line.push_str(&format!("  {} file(s)", j.files_modified.len()));
    }
    if let Some(c) = j.exit_code {
        line.push_str(&format!("  exit {c}"));
    }
    if let Some(p) = j.pid {
        line.push_str(&format!("  pid {p}"));
    }
    if let Some(t) = &j.thread_id {
        line.push_str(&format!("  thread {t}"));
    }
    say!("{line}");
    let text = if j.summary.is_empty() {
        j.reason.clone().unwrap_or_default()
    } else {
        j.summary.clone()
    };
    if !text.is_empty() {
        say!("    {}", text.lines().next().unwrap_or_default());
    }
    if let (Some(session), Some(attach)) = (&j.tmux_session, &v.tmux_attach) {
        say!("    tmux session {session}: watch with `{attach}`");
    }
    Ok(())
}

/// `90`, `30s`, `5m`, `1h`, `7d`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("bad duration {s:?}: use 90, 30s, 5m, 1h or 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("bad duration {s:?}: use 90, 30s, 5m, 1h or 7d"),
    };
    Ok(Duration::from_secs(secs))
}

/// The command as one would type it (for `--dry-run`; nothing runs it).
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
