//! Where the store is: one rule for the MCP server, the CLI and `doctor`.
//!
//! 1. `--root`, else `AURALIS_CODENATOR_ROOT`, else the legacy
//!    `AURALIS_CODEXTRATOR_ROOT` (relative paths against the current
//!    directory);
//! 2. else the nearest directory at or above the current one that holds a
//!    store (`.auralis-codextrator`, or `.codextrator-mcp-root/` holding one);
//! 3. else the current directory.
//!
//! Then the nested-root rule (`ledger::store::resolve_root`), as everywhere.
//! A server creates the store where the rule points; `init` skips step 2
//! (it creates where it is told, or here); every other command requires the
//! store to exist.

use std::path::{Path, PathBuf};

use ledger::Store;
use ledger::store::holds_store;

/// Where a root came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env(&'static str),
    /// Found at or above the current directory.
    Found,
    /// Nothing named or found: the current directory.
    Cwd,
}

/// A chosen root: absolute, before the nested-root rule.
#[derive(Clone, Debug)]
pub struct Root {
    pub path: PathBuf,
    pub source: Source,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the current directory: {0}")]
    Cwd(#[source] std::io::Error),
    #[error(
        "no codenator store under {root} ({how}): Could not find .auralis-codextrator. Run `codenator init` first, pass --root, or set AURALIS_CODENATOR_ROOT (or the legacy AURALIS_CODEXTRATOR_ROOT)."
    )]
    NoStore { root: String, how: &'static str },
    #[error("cannot open the store under {root}: {source}")]
    Open {
        root: String,
        #[source]
        source: ledger::Error,
    },
}

impl Root {
    /// Apply the rule. `flag` is `--root` when given.
    pub fn resolve(flag: Option<&Path>) -> Result<Root, Error> {
        Root::choose(flag, true)
    }

    /// The rule without the upward search: where `init` creates a store.
    pub fn for_init(flag: Option<&Path>) -> Result<Root, Error> {
        Root::choose(flag, false)
    }

    fn choose(flag: Option<&Path>, search_up: bool) -> Result<Root, Error> {
        let cwd = crate::cwd().map_err(Error::Cwd)?;
        if let Some(p) = flag {
            return Ok(Root {
                path: absolute(&cwd, p),
                source: Source::Flag,
            });
        }
        if let Some((var, v)) = crate::first_env(&crate::ROOT_VARS) {
            return Ok(Root {
                path: absolute(&cwd, Path::new(&v)),
                source: Source::Env(var),
            });
        }
        if let Some(found) = cwd.ancestors().find(|d| search_up && holds_store(d)) {
            return Ok(Root {
                path: found.to_path_buf(),
                source: Source::Found,
            });
        }
        Ok(Root {
            path: cwd,
            source: Source::Cwd,
        })
    }

    /// Open the store, creating it when missing (the server, `init`).
    pub fn open_or_create(&self) -> Result<Store, Error> {
        Store::open_with(&self.path, crate::store_options()).map_err(|source| Error::Open {
            root: self.path.display().to_string(),
            source,
        })
    }

    /// Open the store, which must exist.
    pub fn open_existing(&self) -> Result<Store, Error> {
        if !holds_store(&self.path) {
            return Err(Error::NoStore {
                root: self.path.display().to_string(),
                how: match self.source {
                    Source::Flag => "given by --root",
                    Source::Env(v) => v,
                    Source::Found | Source::Cwd => "none found at or above the current directory",
                },
            });
        }
        self.open_or_create()
    }
}

/// `path` made absolute against `cwd`.
pub fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}
