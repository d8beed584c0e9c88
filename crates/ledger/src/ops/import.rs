//! `task-import-inbox SLOT` (the reference CLI's): turn a worker's unread
//! plain messages into queued tasks, in one write transaction.
//!
//! Each becomes a task through `create_task`'s own path (so it gets its
//! `task.assign`, the id rules and the work index), and the source message
//! is consumed, so the slot sees one unread item per task, as when the
//! reference rewrote the inbox file.
//!
//! Fixed here: the reference re-imported `task.assign` messages and messages
//! naming an existing task, overwriting that task (status back to queued,
//! commit lost); here both are skipped and a task id is never overwritten.
//! Re-running imports nothing: an imported message is consumed, its task id
//! (`<slot>-inbox-<message id>` unless the message named a new task id) is
//! taken, and tasks the reference imported are found by `source_message_id`.

use std::collections::BTreeSet;

use crate::api::{self, ImportInboxResponse, ImportedTask, SkippedMessage};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::index::inbox;
use crate::model::ids::{BROADCAST, MAX_TITLE_LEN};
use crate::model::message::{RESERVED_TYPES, TASK_ASSIGN};
use crate::model::{SlotId, TaskId, TaskStatus};
use crate::records;
use crate::store::{ReadTxn, Store};

use super::tasks::{check_create, create_in};

/// Most unread messages one import looks at.
const IMPORT_BATCH: usize = 200;

/// `source_message_id`s of tasks imported by the reference CLI.
fn imported_sources(txn: &ReadTxn) -> BTreeSet<String> {
    let (tasks, _) = records::tasks::load_all(txn);
    tasks
        .iter()
        .filter_map(|t| t.extra.get("source_message_id").and_then(|v| v.as_str()))
        .map(str::to_owned)
        .collect()
}

impl Store {
    /// Queue a task for each unread plain message of a worker slot
    /// (coordinator only, as `create_task`).
    pub fn import_inbox_tasks(
        &self,
        ctx: &Ctx,
        req: &api::ImportInboxTasks,
    ) -> Result<ImportInboxResponse> {
        ctx.caller.require_coordinator("task-import-inbox")?;
        let slot = SlotId::worker("slot", &req.slot)?;
        if slot.is_coordinator() {
            return Err(Error::invalid(
                "slot",
                "the coordinator has no task queue; name a worker slot",
            ));
        }
        let txn = self.write()?;
        let view = inbox::sync_index(&txn)?;
        let cur = records::cursors::load(&txn, &slot)?;
        let (messages, unread_total) = view.unread(&txn, &slot, &cur, IMPORT_BATCH)?;
        let sources = imported_sources(&txn);
        let mut imported = Vec::new();
        let mut skipped = Vec::new();
        let mut consumed = Vec::new();
        for m in &messages {
            let skip = |reason: String| SkippedMessage {
                message_id: m.id.clone(),
                seq: m.seq,
                kind: m.kind.clone(),
                reason,
            };
            if RESERVED_TYPES.contains(&m.kind.as_str()) {
                skipped.push(skip(if m.kind == TASK_ASSIGN {
                    "already_a_task".into()
                } else {
                    format!("type_{}", m.kind)
                }));
                continue;
            }
            if m.to == BROADCAST {
                skipped.push(skip("broadcast".into()));
                continue;
            }
            if sources.contains(&m.id) {
                // Imported by the reference: its task exists; consume the note.
                consumed.push(m.seq);
                skipped.push(skip("already_imported".into()));
                continue;
            }
            let task_id = match m.task_id.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => t.to_string(),
                None => format!("{slot}-inbox-{}", m.id),
            };
            let Some(id) = TaskId::stored(&task_id) else {
                skipped.push(skip(format!("unusable task id {task_id:?}")));
                continue;
            };
            if records::tasks::exists(&txn, &id) {
                // Never overwrite a task. One this import made from this
                // message (before a crash kept it from consuming the
                // message) consumes it now; a note about another task stays.
                if m.task_id.is_none() && !req.dry_run {
                    consumed.push(m.seq);
                    skipped.push(skip("already_imported".into()));
                } else {
                    skipped.push(skip(format!("task {task_id} exists")));
                }
                continue;
            }
            let subject: String = m.subject.chars().take(MAX_TITLE_LEN).collect();
            let title = if subject.trim().is_empty() {
                format!("Inbox task {}", m.id)
            } else {
                subject.clone()
            };
            let entry = ImportedTask {
                task_id: task_id.clone(),
                slot: slot.to_string(),
                title: title.clone(),
                status: TaskStatus::Queued,
                source_message_id: m.id.clone(),
                source_seq: m.seq,
            };
            if req.dry_run {
                imported.push(entry);
                continue;
            }
            let cmd = check_create(&api::CreateTask {
                slot: slot.to_string(),
                title,
                message: m.message.clone(),
                task_id: Some(task_id),
                subject: Some(subject),
                ..api::CreateTask::default()
            });
            match cmd.and_then(|cmd| create_in(&txn, ctx, cmd)) {
                Ok(_) => {
                    consumed.push(m.seq);
                    imported.push(entry);
                }
                Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
                    skipped.push(skip(e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        if !req.dry_run && !consumed.is_empty() {
            records::cursors::advance(&txn, &slot, 0, &consumed)?;
        }
        txn.commit()?;
        Ok(ImportInboxResponse {
            slot: slot.to_string(),
            dry_run: req.dry_run,
            imported,
            skipped,
            unread_examined: messages.len(),
            unread_total,
        })
    }
}
