//! The job tools: the MCP request types of `jobs::api` turned into the job
//! runner's calls. The supervisor of a job this server dispatches is this
//! program again (`job supervise`: `codenator mcp` is the `codenator`
//! binary, and `codenator-mcp` answers the same command).

use std::path::{Path, PathBuf};

use jobs::api::{
    CancelJobResponse, DispatchJob, JobOutput, JobOutputResponse, JobRef, SendToJob,
    SendToJobResponse,
};
use jobs::{Envelope, JobList, JobView, Launcher, Runner, StartRequest, StartResponse};
use ledger::model::JobId;
use ledger::{Ctx, Error, Result, Store};

fn runner(store: &Store) -> Result<Runner<'_>> {
    let exe = std::env::current_exe().map_err(|e| {
        Error::conflict(
            "job_runner",
            format!("cannot find this server's executable: {e}"),
        )
    })?;
    Ok(Runner::new(store, Launcher::new(exe)))
}

fn id(s: &str) -> Result<JobId> {
    JobId::parse("job_id", s)
}

fn absolute(field: &str, p: &str) -> Result<PathBuf> {
    let path = Path::new(p);
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Err(Error::invalid(
            field,
            format!("must be an absolute path (got {p:?})"),
        ))
    }
}

pub fn dispatch(store: &Store, ctx: &Ctx, p: &DispatchJob) -> Result<StartResponse> {
    let codex = host::codex::executable(None).ok_or_else(|| {
        Error::conflict(
            "no_codex",
            "no Codex found for the worker: set CODENATOR_CODEX for this server or put codex on its PATH",
        )
    })?;
    let req = StartRequest {
        envelope: Envelope {
            task: p.prompt.clone(),
            context: p.context.clone(),
            files: Vec::new(),
            goal: p.goal.clone(),
            constraints: p.constraints.clone(),
            expected: p.expected.clone(),
        },
        codex,
        dir: match &p.dir {
            Some(d) => absolute("dir", d)?,
            None => store.root().to_path_buf(),
        },
        model: p.model.clone(),
        reasoning: p.reasoning.clone(),
        sandbox: p.sandbox.clone(),
        output_file: p
            .output_file
            .as_deref()
            .map(|f| absolute("output_file", f))
            .transpose()?,
        task_id: p.task_id.clone(),
        max_active: None,
        thread: p.thread.clone(),
        notify: Vec::new(),
        slot: p.slot.clone(),
        tmux: None,
    };
    runner(store)?
        .dispatch(ctx, &req)
        .map_err(jobs::Error::into_ledger)
}

pub fn list(store: &Store) -> Result<JobList> {
    runner(store)?.list().map_err(jobs::Error::into_ledger)
}

pub fn status(store: &Store, p: &JobRef) -> Result<JobView> {
    runner(store)?
        .status(&id(&p.job_id)?)
        .map_err(jobs::Error::into_ledger)
}

pub fn output(store: &Store, p: &JobOutput) -> Result<JobOutputResponse> {
    let text = runner(store)?
        .output(&id(&p.job_id)?)
        .map_err(jobs::Error::into_ledger)?;
    Ok(JobOutputResponse {
        job_id: p.job_id.clone(),
        lines: text.lines().count(),
        text: jobs::api::tail(&text, p.tail),
    })
}

pub fn send(store: &Store, ctx: &Ctx, p: &SendToJob) -> Result<SendToJobResponse> {
    let follow_up = runner(store)?
        .send(ctx, &id(&p.job_id)?, &p.message)
        .map_err(jobs::Error::into_ledger)?;
    Ok(SendToJobResponse { follow_up })
}

pub fn cancel(store: &Store, ctx: &Ctx, p: &JobRef) -> Result<CancelJobResponse> {
    let job = runner(store)?
        .kill(ctx, &id(&p.job_id)?)
        .map_err(jobs::Error::into_ledger)?;
    Ok(CancelJobResponse { job })
}
