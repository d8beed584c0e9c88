//! `send_message`, `read_inbox`, and the CLI's read-and-claim.

use crate::api::{self, ReadInboxClaimResponse, ReadInboxResponse, SendMessageResponse};
use crate::auth::Ctx;
use crate::error::{Error, Result};
use crate::index::inbox;
use crate::model::ids::{self, MAX_TEXT_LEN, MAX_TITLE_LEN};
use crate::model::message::{RESERVED_TYPES, TASK_ASSIGN};
use crate::model::{Message, Payload, SlotId};
use crate::records;
use crate::store::{Store, WriteTxn};
use crate::time;

use super::{limit, text_opt};

/// The parts of a new message; the ledger adds id, time and seq.
pub(crate) struct Draft<'a> {
    pub kind: &'a str,
    pub from: &'a SlotId,
    pub to: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
    pub task_id: Option<&'a str>,
    pub payload: Payload,
    pub cwd: &'a str,
}

/// Append a message (in a write transaction).
pub(crate) fn append(txn: &WriteTxn, d: Draft) -> Result<Message> {
    inbox::append(
        txn,
        Message {
            id: crate::model::message::new_id("msg"),
            kind: d.kind.to_string(),
            from: d.from.to_string(),
            to: d.to.to_string(),
            subject: d.subject.to_string(),
            message: d.message.to_string(),
            task_id: d.task_id.map(str::to_owned),
            payload: d.payload,
            created_at: time::now(),
            cwd: d.cwd.to_string(),
            ..Message::default()
        },
    )
}

/// A checked `read_inbox`.
struct ReadCmd {
    slot: SlotId,
    mark: bool,
    limit: usize,
}

fn check_read(ctx: &Ctx, req: &api::ReadInbox) -> Result<ReadCmd> {
    let slot = SlotId::parse("slot", &req.slot)?;
    ctx.caller.require_self(&slot, "read the inbox", true)?;
    Ok(ReadCmd {
        slot,
        mark: req.mark_read.unwrap_or(true),
        limit: limit(req.limit, 50),
    })
}

/// Read (and with `mark`, consume) in a write transaction.
fn read_in(txn: &WriteTxn, cmd: &ReadCmd) -> Result<ReadInboxResponse> {
    let view = inbox::sync_index(txn)?;
    let cur = records::cursors::load(txn, &cmd.slot)?;
    let (messages, total) = view.unread(txn, &cmd.slot, &cur, cmd.limit)?;
    let marked = cmd.mark && !messages.is_empty();
    if marked {
        let top = messages.iter().map(|m| m.seq).max().unwrap_or(0);
        records::cursors::advance(txn, &cmd.slot, top, &[])?;
    }
    Ok(ReadInboxResponse {
        slot: cmd.slot.to_string(),
        unread_count: total,
        returned: messages.len(),
        remaining_unread: if marked {
            total.saturating_sub(messages.len())
        } else {
            total
        },
        marked_read: marked,
        messages,
    })
}

impl Store {
    /// `send_message`: append a message to the ledger as the caller.
    pub fn send_message(&self, ctx: &Ctx, req: &api::SendMessage) -> Result<SendMessageResponse> {
        self.transact(|txn| send_message_in(txn, ctx, req))
    }

    /// `read_inbox`: unread messages of a slot, oldest first, and (by
    /// default) advance its cursor past the ones returned. A peek takes the
    /// shared lock only.
    pub fn read_inbox(&self, ctx: &Ctx, req: &api::ReadInbox) -> Result<ReadInboxResponse> {
        let cmd = check_read(ctx, req)?;
        if cmd.mark {
            return self.transact(|txn| read_in(txn, &cmd));
        }
        let txn = self.read()?;
        let view = inbox::view(&txn)?;
        let cur = records::cursors::load(&txn, &cmd.slot)?;
        let (messages, total) = view.unread(&txn, &cmd.slot, &cur, cmd.limit)?;
        Ok(ReadInboxResponse {
            slot: cmd.slot.to_string(),
            unread_count: total,
            returned: messages.len(),
            remaining_unread: total,
            marked_read: false,
            messages,
        })
    }

    /// The CLI's `inbox`: read a slot's inbox and, when the slot reads its
    /// own and finds a `task.assign` while it has no active task, claim its
    /// next task (the reference CLI claimed on read), in one transaction.
    pub fn read_inbox_and_claim(
        &self,
        ctx: &Ctx,
        req: &api::ReadInbox,
    ) -> Result<ReadInboxClaimResponse> {
        let cmd = check_read(ctx, req)?;
        let txn = self.write()?;
        let inbox = read_in(&txn, &cmd)?;
        let has_assign = inbox.messages.iter().any(|m| m.kind == TASK_ASSIGN);
        let mut claimed = None;
        if cmd.mark && has_assign && ctx.caller.slot() == &cmd.slot && !cmd.slot.is_coordinator() {
            let idx = crate::index::work::load(&txn)?;
            let busy = idx.active_of(&cmd.slot).next().is_some();
            if !busy {
                let c = super::tasks::claim_in(
                    &txn,
                    &super::tasks::ClaimCmd::new(cmd.slot.clone(), None, None),
                )?;
                claimed = c.task;
            }
        }
        txn.commit()?;
        Ok(ReadInboxClaimResponse { inbox, claimed })
    }
}

/// `send_message` inside a caller's write transaction (a job's callback is
/// sent in the transaction that ends the job, so it is sent exactly once).
pub fn send_message_in(
    txn: &WriteTxn,
    ctx: &Ctx,
    req: &api::SendMessage,
) -> Result<SendMessageResponse> {
    let to = SlotId::parse("to", &req.to)?;
    let from = req
        .from
        .clone()
        .unwrap_or_else(|| ctx.caller.slot().to_string());
    if from != ctx.caller.slot().as_str() {
        return Err(Error::forbidden(
            "no_impersonation",
            format!(
                "this session is slot {:?} and may not send as {from:?}",
                ctx.caller.slot().as_str()
            ),
        ));
    }
    let kind = req
        .kind
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "message".into());
    ids::short_id("type", &kind)?;
    if RESERVED_TYPES.contains(&kind.as_str()) {
        return Err(Error::forbidden(
            "reserved_type",
            format!(
                "messages of type {kind:?} are written only by their own tool (create_task, report_commit, record_summary_pause)"
            ),
        ));
    }
    let subject = text_opt("subject", &req.subject, MAX_TITLE_LEN)?;
    ids::text("message", &req.message, MAX_TEXT_LEN)?;
    if let Some(t) = &req.task_id {
        ids::long_id("task_id", t)?;
    }
    let payload = req.payload.clone().unwrap_or_default();
    ids::payload("payload", &payload)?;
    let registered = to.is_broadcast() || records::registry::load(txn)?.is_registered(&to);
    let message = append(
        txn,
        Draft {
            kind: &kind,
            from: ctx.caller.slot(),
            to: &to,
            subject: &subject,
            message: &req.message,
            task_id: req.task_id.as_deref(),
            payload,
            cwd: "",
        },
    )?;
    Ok(SendMessageResponse {
        message,
        recipient_registered: registered,
    })
}
