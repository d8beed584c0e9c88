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

/// Remove a job's record (`jobs clean`); its transcript and stderr go
/// with [`remove_logs`] once that is committed.
pub fn delete(txn: &WriteTxn, id: &JobId) {
    txn.delete(&txn.layout().job(id));
}

/// Remove a job's transcript and stderr (not records: no journal).
pub fn remove_logs(store: &crate::Store, id: &JobId) -> Result<()> {
    for path in [store.layout().job_log(id), store.layout().job_stderr(id)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::Io { path, source: e }),
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobState;

    #[test]
    fn a_deleted_job_is_gone_inside_the_transaction_and_after_it() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io {
            path: std::env::temp_dir(),
            source: e,
        })?;
        let store = crate::Store::open(dir.path())?;
        let id = JobId::generate();
        let job = Job {
            id: id.to_string(),
            coordinator: "coordinator".into(),
            state: JobState::Completed,
            created_at: crate::time::now(),
            ..Job::default()
        };
        store.transact(|txn| save(txn, &job))?;
        let path = store.layout().job(&id);
        assert!(path.is_file());
        store.transact(|txn| {
            delete(txn, &id);
            assert!(load(txn, &id)?.is_none());
            assert!(load_all(txn).is_empty());
            assert!(!txn.exists(&path));
            Ok(())
        })?;
        assert!(!path.exists());
        assert!(load_all(&store.read()?).is_empty());
        // A put after the delete, in one transaction, keeps the record.
        store.transact(|txn| {
            delete(txn, &id);
            save(txn, &job)
        })?;
        assert_eq!(load_all(&store.read()?).len(), 1);
        Ok(())
    }
}
