//! The ledger's error type.
//!
//! Every refusal names the rule that refused the call, so an agent reading the
//! error can correct itself without guessing.

use std::path::PathBuf;

/// What went wrong, in terms a caller (often a model) can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An argument broke a validation rule (charset, length, enum, size).
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The caller's identity does not allow the operation.
    #[error("refused by rule `{rule}`: {message}")]
    Forbidden { rule: &'static str, message: String },
    /// A record the call names does not exist.
    #[error("{kind} not found: {id}")]
    NotFound { kind: &'static str, id: String },
    /// The call conflicts with the current state (duplicate id, stale run, ...).
    #[error("conflict ({rule}): {message}")]
    Conflict { rule: &'static str, message: String },
    /// A stored record could not be parsed. The path is relative to the store.
    #[error("damaged record {path}: {reason}")]
    Damaged { path: String, reason: String },
    /// The file system failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn forbidden(rule: &'static str, message: impl Into<String>) -> Self {
        Error::Forbidden {
            rule,
            message: message.into(),
        }
    }

    pub fn conflict(rule: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            rule,
            message: message.into(),
        }
    }

    /// A short machine-readable code for the error's kind.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_argument",
            Error::Forbidden { .. } => "forbidden",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::Damaged { .. } => "damaged_record",
            Error::Io { .. } => "io_error",
        }
    }

    /// The rule that refused the call, when there is one.
    pub fn rule(&self) -> Option<&'static str> {
        match self {
            Error::Forbidden { rule, .. } | Error::Conflict { rule, .. } => Some(rule),
            _ => None,
        }
    }
}

/// Attach a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
