//! Two task operations of the reference CLI that have no MCP tool:
//!
//! - `list_tasks`: every task record (open and closed), in assignment order.
//! - `import_inbox_tasks` (`task-import-inbox SLOT`): turn a slot's unread
//!   plain messages into queued tasks. Each becomes a task through
//!   `create_task` (so it gets its `task.assign`, the id rules and the
//!   work index), and the source message is consumed, so the slot sees one
//!   unread item per task, as when the reference rewrote the inbox file.
//!
//! Fixed here: the reference re-imported `task.assign` messages and messages
//! naming an existing task, overwriting that task (status back to queued,
//! commit lost); here both are skipped and a task id is never overwritten.
//! Re-running imports nothing: an imported message is consumed, its task id
//! (`<slot>-inbox-<message id>` unless the message named a new task id) is
//! taken, and tasks the reference imported are found by `source_message_id`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::api;
use crate::cursor;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::ids::{self, BROADCAST, COORDINATOR, MAX_TITLE_LEN};
use crate::messages::RESERVED_TYPES;
use crate::ops::Ctx;
use crate::store::Store;
use crate::tasks::{self, Task};

/// Arguments of [`Store::list_tasks`].
#[derive(Clone, Debug, Default)]
pub struct ListTasks {
    /// Only this slot's tasks.
    pub slot: Option<String>,
    /// Only tasks with this status.
    pub status: Option<String>,
}

/// Arguments of [`Store::import_inbox_tasks`].
#[derive(Clone, Debug, Default)]
pub struct ImportInboxTasks {
    /// Worker slot whose unread messages become tasks.
    pub slot: String,
    /// Say what would be imported, change nothing.
    pub dry_run: bool,
}

/// Most unread messages one import looks at.
const IMPORT_BATCH: u32 = 200;

impl Store {
    /// Every task record, sorted like the reference (by file name, then
    /// stably by `assigned_at`, else `created_at`). Pure read.
    pub fn list_tasks(&self, _ctx: &Ctx, req: &ListTasks) -> Result<Value> {
        if let Some(s) = &req.slot {
            ids::slot("slot", s)?;
        }
        let _lock = self.lock_shared()?;
        let mut all: Vec<Task> = Vec::new();
        let mut damaged = Vec::new();
        for name in tasks::json_files(self, "tasks") {
            match fsutil::read_json::<Task>(&self.path(&format!("tasks/{name}"))) {
                Ok(Some(t)) => all.push(t),
                Ok(None) => {}
                Err(_) => damaged.push(format!("tasks/{name}")),
            }
        }
        all.sort_by_key(|t| {
            t.assigned_at
                .clone()
                .or_else(|| t.created_at.clone())
                .unwrap_or_default()
        });
        let list: Vec<Value> = all
            .iter()
            .filter(|t| req.slot.as_ref().is_none_or(|s| &t.slot == s))
            .filter(|t| req.status.as_ref().is_none_or(|s| &t.status == s))
            .map(Task::to_json)
            .collect();
        Ok(json!({"total": list.len(), "tasks": list, "damaged": damaged}))
    }

    /// `source_message_id`s of tasks imported by the reference CLI.
    fn imported_sources(&self) -> Result<BTreeSet<String>> {
        let _lock = self.lock_shared()?;
        let mut out = BTreeSet::new();
        for name in tasks::json_files(self, "tasks") {
            if let Ok(Some(t)) = fsutil::read_json::<Task>(&self.path(&format!("tasks/{name}")))
                && let Some(src) = t.extra.get("source_message_id").and_then(Value::as_str)
            {
                out.insert(src.to_string());
            }
        }
        Ok(out)
    }

    /// Consume one message of `slot` (exclusive lock taken here).
    fn consume(&self, slot: &str, seq: u64) -> Result<()> {
        let _lock = self.lock_exclusive()?;
        cursor::advance(self, slot, 0, &[seq])?;
        Ok(())
    }

    /// `task-import-inbox`: queue a task for each unread plain message of a
    /// worker slot (coordinator only, as `create_task`).
    pub fn import_inbox_tasks(&self, ctx: &Ctx, req: &ImportInboxTasks) -> Result<Value> {
        ctx.caller.require_coordinator("task-import-inbox")?;
        ids::worker_slot("slot", &req.slot)?;
        if req.slot == COORDINATOR {
            return Err(Error::invalid(
                "slot",
                "the coordinator has no task queue; name a worker slot",
            ));
        }
        let inbox = self.read_inbox(
            ctx,
            &api::ReadInbox {
                slot: req.slot.clone(),
                mark_read: Some(false),
                limit: Some(IMPORT_BATCH),
            },
        )?;
        let sources = self.imported_sources()?;
        let mut imported = Vec::new();
        let mut skipped = Vec::new();
        let empty = Vec::new();
        let messages = inbox["messages"].as_array().unwrap_or(&empty);
        for m in messages {
            let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
            let (id, kind, seq) = (s("id"), s("type"), m["seq"].as_u64().unwrap_or(0));
            let mut skip = |reason: String| {
                skipped.push(json!({"message_id": id, "seq": seq, "type": kind, "reason": reason}));
            };
            if RESERVED_TYPES.contains(&kind.as_str()) {
                skip(if kind == "task.assign" {
                    "already_a_task".into()
                } else {
                    format!("type_{kind}")
                });
                continue;
            }
            if s("to") == BROADCAST {
                skip("broadcast".into());
                continue;
            }
            if sources.contains(&id) {
                // Imported by the reference: its task exists; consume the note.
                if !req.dry_run {
                    self.consume(&req.slot, seq)?;
                }
                skip("already_imported".into());
                continue;
            }
            let task_id = match m["task_id"].as_str().filter(|t| !t.is_empty()) {
                Some(t) => t.to_string(),
                None => format!("{}-inbox-{id}", req.slot),
            };
            if ids::long_id("task_id", &task_id).is_err() {
                skip(format!("unusable task id {task_id:?}"));
                continue;
            }
            if tasks::load(self, &task_id).ok().flatten().is_some() {
                // A note about an existing task (or one imported before a
                // crash): never overwrite it.
                skip(format!("task {task_id} exists"));
                continue;
            }
            let subject = s("subject");
            let title: String = if subject.trim().is_empty() {
                format!("Inbox task {id}")
            } else {
                subject.chars().take(MAX_TITLE_LEN).collect()
            };
            if req.dry_run {
                imported.push(json!({
                    "task_id": task_id, "slot": req.slot, "title": title,
                    "status": "queued", "source_message_id": id, "source_seq": seq,
                }));
                continue;
            }
            let created = self.create_task(
                ctx,
                &api::CreateTask {
                    slot: req.slot.clone(),
                    title,
                    message: s("message"),
                    task_id: Some(task_id.clone()),
                    subject: Some(subject.chars().take(MAX_TITLE_LEN).collect()),
                    ..api::CreateTask::default()
                },
            );
            match created {
                Ok(v) => {
                    self.consume(&req.slot, seq)?;
                    let mut task = v["task"].clone();
                    task["source_message_id"] = json!(id);
                    task["source_seq"] = json!(seq);
                    imported.push(task);
                }
                Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
                    skip(e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "slot": req.slot,
            "dry_run": req.dry_run,
            "imported": imported,
            "skipped": skipped,
            "unread_examined": messages.len(),
            "unread_total": inbox["unread_count"],
        }))
    }
}
