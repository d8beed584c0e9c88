//! The live stream: one watcher per server notices ledger changes from the
//! store's stamp (`stat` calls, see `ledger::views::stamp`) and publishes a
//! fresh snapshot to every open page; nothing re-reads the ledger on a
//! timer. A page gets the current snapshot when it connects, then one per
//! change, within [`POLL`] of it.

use std::sync::Arc;
use std::time::Duration;

use ledger::Store;
use tokio::sync::watch;

use crate::http::ApiError;
use crate::view::Snapshot;

/// How often the watcher takes the stamp (a few `stat` calls).
pub const POLL: Duration = Duration::from_millis(200);

/// What a page is sent: a snapshot, or why there is none.
#[derive(Clone, Debug)]
pub enum Frame {
    /// Snapshot JSON.
    Snapshot(Arc<str>),
    /// Error JSON (`{"error","message"}`): the store could not be read.
    Error(Arc<str>),
}

impl Frame {
    /// Read the store now and encode the answer.
    pub fn read(store: &Store) -> Frame {
        let json = Snapshot::read(store)
            .map_err(ApiError::from)
            .and_then(|s| serde_json::to_string(&s).map_err(|e| ApiError::internal(e.to_string())));
        match json {
            Ok(json) => Frame::Snapshot(json.into()),
            Err(e) => Frame::Error(e.body().into()),
        }
    }
}

/// The watcher's side: subscribe to get every new frame.
#[derive(Clone)]
pub struct Live {
    tx: Arc<watch::Sender<Option<Frame>>>,
}

impl Live {
    /// Start the watcher on the current tokio runtime. It stops when the
    /// runtime does.
    pub fn start(store: Store) -> Live {
        let (tx, _) = watch::channel(None);
        let tx = Arc::new(tx);
        tokio::spawn(watch_store(store, Arc::clone(&tx)));
        Live { tx }
    }

    pub fn subscribe(&self) -> watch::Receiver<Option<Frame>> {
        self.tx.subscribe()
    }
}

async fn watch_store(store: Store, tx: Arc<watch::Sender<Option<Frame>>>) {
    let mut last: Option<ledger::views::stamp::Stamp> = None;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if tx.receiver_count() == 0 {
            // Nobody is watching: forget the stamp, so the next page to
            // connect after a change gets a fresh frame at the next tick.
            last = None;
            continue;
        }
        let s = store.clone();
        let Ok(stamp) = tokio::task::spawn_blocking(move || s.stamp()).await else {
            continue;
        };
        // A stamp taken in the same clock tick as a change may have missed
        // a second change in that tick: after a settling one, look again.
        let changed = last
            .as_ref()
            .is_none_or(|prev| !prev.same_as(&stamp) || prev.settling());
        last = Some(stamp);
        if !changed {
            continue;
        }
        let s = store.clone();
        if let Ok(frame) = tokio::task::spawn_blocking(move || Frame::read(&s)).await {
            tx.send_replace(Some(frame));
        }
    }
}
