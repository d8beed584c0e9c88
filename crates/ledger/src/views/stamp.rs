//! A cheap "did anything change?" stamp of a store, for live views (the
//! admin dashboard) that must notice a change within a second without
//! re-reading the store on a timer.
//!
//! The stamp is made of `stat` calls only: no lock, no parsing, nothing
//! opened for writing, and its cost does not grow with history. It relies
//! on how every writer changes the store:
//!
//! - every write call first writes its entry to the write-ahead journal
//!   (`journal.jsonl`) and, once applied, an apply mark: written in place
//!   over its zero padding, so its mtime changes, and its length only when
//!   a checkpoint replaces it (or an older codenator appends); every entry
//!   also changes one of the files below, which is what the stamp relies on;
//! - whole-file records (`registry.json`, the board, cursors, heartbeats,
//!   tasks, reports, wake attempts, background jobs, `index/work.json`) are
//!   replaced by another file swapped or renamed into place (a temp file,
//!   or the directory's spare, see [`crate::fs::put_journaled`]): the file
//!   gets an inode other than the one it replaces (both existed at once),
//!   a new mtime (the new content was just written), and its directory a
//!   new mtime (on Windows the file index plays the inode's part, see
//!   [`crate::fs::platform::FileStat`]);
//! - messages are appended to `messages/ledger.jsonl`, and the work index's
//!   changes to `index/work.log`: their length grows.
//!
//! So two stamps that differ mean the store changed, and a store that
//! changed between two stamps shows it, except for one case: two renames
//! into one directory within one tick of the file system's coarse clock
//! (a few milliseconds), with a stamp taken between them. [`Stamp::settling`]
//! tells a poller that the newest change is that recent, so it looks once
//! more after the tick has passed.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::store::Store;

/// How close to "now" the newest mtime must be for a later change in the
/// same clock tick to be possible (coarse file-system clocks tick every
/// 1-10 ms; this leaves room for a slow `stat`).
const TICK_SLACK: Duration = Duration::from_millis(50);

/// What `stat` says of one path (all zero when it does not exist).
type Fingerprint = crate::fs::platform::FileStat;

/// A fingerprint of the store's primary records and indexes; see the
/// module documentation for why it changes with every write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    parts: Vec<Fingerprint>,
    /// Taken when the newest mtime was within [`TICK_SLACK`] of the time of
    /// the stamp; not part of the comparison.
    settling: bool,
}

impl Stamp {
    /// True when the newest change is so recent that another change in the
    /// same clock tick could still be invisible: look again after a tick.
    pub fn settling(&self) -> bool {
        self.settling
    }

    /// Is this the same store state as `other`?
    pub fn same_as(&self, other: &Stamp) -> bool {
        self.parts == other.parts
    }
}

impl Store {
    /// The store's change stamp: a handful of `stat` calls.
    pub fn stamp(&self) -> Stamp {
        let layout = self.layout();
        let dir = layout.dir();
        let paths: [PathBuf; 16] = [
            layout.journal(),
            layout.ledger(),
            layout.work_log(),
            layout.registry(),
            layout.board(),
            layout.work_index(),
            layout.index_state(),
            dir.to_path_buf(),
            layout.tasks_dir(),
            layout.reports_dir(),
            layout.wake_dir(),
            layout.cursors_dir(),
            dir.join("heartbeat"),
            dir.join("board"),
            layout.index_dir(),
            layout.jobs_dir(),
        ];
        let now = SystemTime::now();
        let mut newest = i128::MIN;
        let parts = paths
            .iter()
            .map(|p| {
                let f = crate::fs::platform::stat(p).unwrap_or_default();
                newest = newest.max(f.mtime_ns);
                f
            })
            .collect();
        let now_ns = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        Stamp {
            parts,
            settling: now_ns - newest < TICK_SLACK.as_nanos() as i128,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_changes_with_a_message_and_a_record() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let store = Store::open(tmp.path())?;
        let before = store.stamp();
        assert!(before.same_as(&store.stamp()), "no change, same stamp");
        let ctx = crate::Ctx::new(crate::Caller::coordinator());
        store.send_message(
            &ctx,
            &crate::api::SendMessage {
                to: "all".into(),
                message: "hello".into(),
                ..Default::default()
            },
        )?;
        let after_message = store.stamp();
        assert!(
            !before.same_as(&after_message),
            "an append changes the stamp"
        );
        store.register_slot(
            &ctx,
            &crate::api::RegisterSlot {
                slot: "session-01".into(),
                ..Default::default()
            },
        )?;
        assert!(
            !after_message.same_as(&store.stamp()),
            "a record replaced by rename changes the stamp"
        );
        Ok(())
    }
}
