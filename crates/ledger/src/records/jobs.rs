//! `jobs/<job_id>.json` and `jobs/limits.json`.

use crate::error::{Error, Result};
use crate::fs;
use crate::model::{Job, JobId, JobLimits};
use crate::store::{ReadTxn, WriteTxn};

pub fn load(txn: &ReadTxn, id: &JobId) -> Result<Option<Job>> {
    txn.read_json::<Job>(&txn.layout().job(id))
}

/// Load a job or fail with `not_found`.
pub fn require(txn: &ReadTxn, id: &JobId) -> Result<Job> {
    load(txn, id)?.ok_or_else(|| Error::NotFound {
        kind: "job",
        id: id.to_string(),
    })
}

/// Write a job durably. Its id was checked when it was created.
pub fn save(txn: &WriteTxn, job: &Job) -> Result<()> {
    let id = JobId::parse("job_id", &job.id)?;
    txn.put_json(&txn.layout().job(&id), job)
}

/// Every job record, oldest first; damaged files are skipped with a warning.
pub fn load_all(txn: &ReadTxn) -> Vec<Job> {
    let dir = txn.layout().jobs_dir();
    let mut jobs = Vec::new();
    let mut names = super::json_files(&dir);
    for n in txn.staged_names_in(&dir) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    for name in names {
        if name == "limits.json" {
            continue;
        }
        let Some(id) = name
            .strip_suffix(".json")
            .and_then(|n| JobId::parse("job_id", n).ok())
        else {
            continue;
        };
        match load(txn, &id) {
            Ok(Some(j)) => jobs.push(j),
            Ok(None) => {}
            Err(e) => tracing::warn!("skipping damaged job file jobs/{name}: {e}"),
        }
    }
    jobs.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    jobs
}

/// The limits; a damaged file means the defaults.
pub fn limits(txn: &ReadTxn) -> JobLimits {
    match txn.read_json::<JobLimits>(&txn.layout().job_limits()) {
        Ok(v) => v.unwrap_or_default(),
        Err(e) => {
            tracing::warn!("ignoring damaged jobs/limits.json: {e}");
            JobLimits::default()
        }
    }
}

pub fn save_limits(txn: &WriteTxn, limits: &JobLimits) -> Result<()> {
    txn.put_json(&txn.layout().job_limits(), limits)
}

/// Append to a job's transcript. Not a record: its one writer is the job's
/// supervisor, it is read whole or by its tail, and a torn last line after
/// a crash is shown as it is; so it takes no lock and no fsync.
pub fn append_log(store: &crate::Store, id: &JobId, text: &str) -> Result<()> {
    use std::io::Write;
    let path = store.layout().job_log(id);
    let mut f = open_append(&path)?;
    f.write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                f.write_all(b"\n")
            }
        })
        .map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })
}

/// A job's transcript, read without a lock (see [`append_log`]).
pub fn log_bytes(store: &crate::Store, id: &JobId) -> Result<Vec<u8>> {
    Ok(fs::read_bytes(&store.layout().job_log(id))?.unwrap_or_default())
}

/// The file a job's supervisor and its Codex write their stderr to.
pub fn open_stderr(store: &crate::Store, id: &JobId) -> Result<std::fs::File> {
    open_append(&store.layout().job_stderr(id))
}

fn open_append(path: &std::path::Path) -> Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::Io {
            path: path.to_path_buf(),
            source: e,
        })
}
