//! The newest messages of the whole ledger, for an overview of what the
//! team is saying (the admin dashboard's "recent messages").
//!
//! Read from the tail of `messages/ledger.jsonl`, backwards in growing
//! chunks until enough complete lines are in hand, so the cost follows the
//! answer, not the history. Lines go through the one JSONL scanner
//! ([`crate::fs::jsonl`]): a torn tail is not a message, a damaged line is
//! skipped. Read under the shared lock, so no append is seen half done.

use std::fs::File;

use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{IoContext, Result};
use crate::fs::jsonl;
use crate::model::Message;
use crate::store::Store;

/// The first read from the end of the ledger; doubled until enough lines
/// are in hand.
const FIRST_CHUNK: u64 = 16 * 1024;
/// Never read more than this of the tail (a message is at most 64 KiB of
/// text and 64 KiB of payload, so this holds dozens even at the limit).
const MAX_TAIL: u64 = 8 * 1024 * 1024;
/// How much of a message's text a listing shows.
const EXCERPT_CHARS: usize = 240;

/// One message as an overview lists it: who, to whom, what about, and the
/// start of its text.
#[derive(Clone, Debug, Serialize, JsonSchema, PartialEq)]
pub struct MessageBrief {
    /// The ledger's order; 0 for a legacy line (no `seq`) that was not
    /// numbered because the ledger was read from its tail.
    pub seq: u64,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub task_id: Option<String>,
    pub created_at: String,
    /// The first characters of the text.
    pub excerpt: String,
    /// The text is longer than the excerpt.
    pub truncated: bool,
}

impl From<&Message> for MessageBrief {
    fn from(m: &Message) -> MessageBrief {
        let excerpt: String = m.message.chars().take(EXCERPT_CHARS).collect();
        MessageBrief {
            seq: m.seq,
            id: m.id.clone(),
            kind: m.kind.clone(),
            from: m.from.clone(),
            to: m.to.clone(),
            subject: m.subject.clone(),
            task_id: m.task_id.clone(),
            created_at: m.created_at.clone(),
            truncated: excerpt.len() < m.message.len(),
            excerpt,
        }
    }
}

impl Store {
    /// The newest `n` messages, newest first. Pure read.
    pub fn recent_messages(&self, n: usize) -> Result<Vec<MessageBrief>> {
        let txn = self.read()?;
        let path = txn.layout().ledger();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e).at(&path),
        };
        let len = f.metadata().at(&path)?.len();
        let floor = len.saturating_sub(MAX_TAIL);
        let mut start = len;
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = FIRST_CHUNK;
        while start > floor && n > 0 {
            let from = start.saturating_sub(chunk).max(floor);
            let mut piece = vec![0u8; (start - from) as usize];
            crate::fs::platform::read_exact_at(&f, &mut piece, from).at(&path)?;
            piece.extend_from_slice(&buf);
            buf = piece;
            start = from;
            // The first newline may end a partial line; one complete line
            // more than asked for is enough.
            if buf.iter().filter(|b| **b == b'\n').count() > n {
                break;
            }
            chunk = chunk.saturating_mul(2);
        }
        // Unless the read reached the start, the first segment may be the
        // end of a longer line: begin after its newline.
        let (body, base) = if start == 0 {
            (&buf[..], 0)
        } else {
            match buf.iter().position(|b| *b == b'\n') {
                Some(i) => (&buf[i + 1..], start + i as u64 + 1),
                None => (&buf[..0], len),
            }
        };
        let (lines, _torn) = jsonl::split(body, base, 0);
        Ok(lines
            .iter()
            .rev()
            .filter_map(|line| {
                let mut m = serde_json::from_slice::<Message>(line.bytes).ok()?;
                if m.seq == 0 && start == 0 {
                    // Numbered from the start: a legacy line's seq is its number.
                    m.seq = line.number;
                }
                Some(MessageBrief::from(&m))
            })
            .take(n)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::SendMessage;
    use crate::{Caller, Ctx};

    #[test]
    fn the_newest_messages_come_first_from_a_long_ledger() -> Result<(), Box<dyn std::error::Error>>
    {
        let tmp = tempfile::tempdir()?;
        let store = Store::open(tmp.path())?;
        assert!(store.recent_messages(5)?.is_empty(), "an empty ledger");
        let ctx = Ctx::new(Caller::coordinator());
        // Long enough that the tail read needs more than its first chunk.
        let text = "x".repeat(3000);
        for i in 0..40 {
            store.send_message(
                &ctx,
                &SendMessage {
                    to: "all".into(),
                    message: format!("{i} {text}"),
                    subject: Some(format!("message {i}")),
                    ..Default::default()
                },
            )?;
        }
        let recent = store.recent_messages(12)?;
        let subjects: Vec<&str> = recent.iter().map(|m| m.subject.as_str()).collect();
        let expected: Vec<String> = (28..40).rev().map(|i| format!("message {i}")).collect();
        assert_eq!(subjects, expected);
        assert_eq!(recent[0].seq, 40);
        assert!(recent[0].truncated);
        assert_eq!(recent[0].excerpt.chars().count(), EXCERPT_CHARS);
        assert_eq!(store.recent_messages(100)?.len(), 40, "all, when fewer");
        Ok(())
    }
}
