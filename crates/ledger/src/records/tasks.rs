//! `tasks/<task_id>.json`.

use crate::error::{Error, Result};
use crate::fs;
use crate::model::{Task, TaskId};
use crate::store::{ReadTxn, WriteTxn};

pub fn load(txn: &ReadTxn, id: &TaskId) -> Result<Option<Task>> {
    txn.read_json::<Task>(&txn.layout().task(id))
}

/// Load a task or fail with `not_found`.
pub fn require(txn: &ReadTxn, id: &TaskId) -> Result<Task> {
    load(txn, id)?.ok_or_else(|| Error::NotFound {
        kind: "task",
        id: id.to_string(),
    })
}

pub fn exists(txn: &ReadTxn, id: &TaskId) -> bool {
    txn.exists(&txn.layout().task(id))
}

/// Write a task durably. Its id was checked when it was created.
pub fn save(txn: &WriteTxn, task: &Task) -> Result<()> {
    let id = TaskId::parse("task_id", &task.task_id)?;
    txn.put_json(&txn.layout().task(&id), task)
}

/// Every task file: the parsed tasks, and the files that cannot be parsed.
/// Costs a read of every task: for rebuilding the index and for `doctor`.
pub fn load_all(txn: &ReadTxn) -> (Vec<Task>, Vec<String>) {
    let dir = txn.layout().tasks_dir();
    let mut tasks = Vec::new();
    let mut damaged = Vec::new();
    for name in super::json_files(&dir) {
        match fs::read_json::<Task>(&dir.join(&name)) {
            Ok(Some(t)) => tasks.push(t),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("skipping damaged task file tasks/{name}: {e}");
                damaged.push(format!("tasks/{name}"));
            }
        }
    }
    (tasks, damaged)
}
