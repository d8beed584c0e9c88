//! Parsed records kept per process, keyed by the bytes they were parsed
//! from.
//!
//! Every read re-reads the files it needs (another process may have
//! changed them since), but parsing is most of the cost of a large record
//! such as the registry. A cache keyed by file identity (inode, length,
//! mtime) would be cheaper still, but could serve a stale record: a file
//! replaced twice within one tick of the file system's coarse clock can
//! come back with the same length and a reused inode. Comparing the bytes
//! cannot be fooled, costs a `memcmp` of what was read anyway, and keeps
//! the rule that derived data never hides primary data.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::fs;

/// Per store path: the bytes last parsed and what they parsed to.
type Entries<T> = HashMap<PathBuf, (Vec<u8>, Arc<T>)>;

/// One cache per record type; a handful of entries (one per store path).
pub(crate) struct Parsed<T> {
    entries: Mutex<Entries<T>>,
}

/// Bound on the entries of one cache: a process serves one store, a test
/// process a few hundred; past this the cache starts again.
const MAX_ENTRIES: usize = 64;

impl<T: DeserializeOwned> Parsed<T> {
    pub(crate) fn new() -> Parsed<T> {
        Parsed {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The record parsed from `bytes` (read from `path`), from the cache
    /// when the same bytes were parsed before.
    pub(crate) fn get(&self, path: &Path, bytes: Vec<u8>) -> Result<Arc<T>> {
        if let Ok(c) = self.entries.lock()
            && let Some((b, v)) = c.get(path)
            && *b == bytes
        {
            return Ok(Arc::clone(v));
        }
        let value: Arc<T> = Arc::new(fs::parse_json(path, &bytes)?);
        if let Ok(mut c) = self.entries.lock() {
            if c.len() >= MAX_ENTRIES {
                c.clear();
            }
            c.insert(path.to_path_buf(), (bytes, Arc::clone(&value)));
        }
        Ok(value)
    }
}
