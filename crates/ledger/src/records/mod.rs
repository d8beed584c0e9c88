//! Loading and saving primary records, through a transaction.
//!
//! Readers take a [`ReadTxn`](crate::store::ReadTxn), writers a
//! [`WriteTxn`](crate::store::WriteTxn). Every save is durable (temp file,
//! fsync, rename, directory fsync): these are the truth the indexes are
//! rebuilt from. Missing means default or `None`; a record that cannot be
//! parsed is `Error::Damaged`, never silently reset.

pub mod board;
pub mod cursors;
pub mod heartbeats;
pub mod jobs;
pub mod registry;
pub mod reports;
pub mod tasks;
pub mod wake;
pub mod watchdog;

/// `*.json` file names of a directory, sorted (hidden and temp files left out).
pub(crate) fn json_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Subdirectory names of a directory, sorted.
pub(crate) fn subdirs(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
