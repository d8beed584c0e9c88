//! The admin dashboard: a live, read-only web view of one ledger, for the
//! people running many sessions (who is working on what, what waits for
//! them, what is stuck), served by `codenator admin`.
//!
//! - [`view`]: what the page shows, as types, each part one read-only
//!   ledger call (`get_status`, `get_focus_board`, `plan_wake`,
//!   `list_tasks`, `get_task`, recent messages, wake attempts).
//! - [`http`]: the routes (axum), all GET: the page and its embedded assets,
//!   `/api/health`, `/api/snapshot`, `/api/events` (Server-Sent Events),
//!   `/api/tasks` (the task pool), `/api/tasks/{id}` (a task's record).
//! - [`live`]: one watcher per server that notices changes from the store's
//!   `stat` stamp and pushes a fresh snapshot to every open page.
//! - [`guard`]: the `Host` rule against DNS rebinding.
//!
//! # Invariants
//! The dashboard never opens a write transaction and never creates the
//! store: it opens an existing one with `Store::open_existing` (the only
//! file a read may create is the empty `store.lock` of a store that lacks
//! one, which every reader takes). No method but GET and HEAD is answered.
//! No request whose `Host` is not the served address is answered. It binds
//! loopback unless told otherwise. The page loads nothing from outside the
//! binary and builds its DOM from text nodes, never from markup in data.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use ledger::Store;

pub mod guard;
pub mod http;
pub mod live;
pub mod view;

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no codenator store under {0}: the dashboard only reads; start a session (or run `codenator init`) there first, or pass --root"
    )]
    NoStore(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Open the store under `root` (after the nested-root rule) for reading,
/// creating nothing.
pub fn open_store(root: &Path) -> Result<Store, Error> {
    Store::open_existing(root).ok_or_else(|| Error::NoStore(root.display().to_string()))
}

/// A dashboard bound to its address, not yet serving.
pub struct Dashboard {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    app: Arc<http::App>,
}

impl Dashboard {
    /// Listen on `addr` (port 0: any free port) and start the watcher.
    /// Needs a tokio runtime.
    pub async fn bind(store: Store, addr: SocketAddr) -> Result<Dashboard, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let app = Arc::new(http::App {
            live: live::Live::start(store.clone()),
            hosts: guard::HostRule::new(addr),
            store,
        });
        Ok(Dashboard {
            listener,
            addr,
            app,
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// Serve until the listener fails. Stop it by dropping the future (the
    /// dashboard holds no state to flush).
    pub async fn serve(self) -> std::io::Result<()> {
        tracing::info!(addr = %self.addr, store = %self.app.store.dir().display(), "dashboard serving");
        axum::serve(self.listener, http::router(self.app)).await
    }
}
