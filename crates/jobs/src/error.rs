//! The job runner's errors.

/// What went wrong starting, reading or stopping a job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ledger refused or failed.
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// A request broke a rule.
    #[error("{0}")]
    Invalid(String),
    /// A program could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Reading a worker's output failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// As a ledger error (the MCP server reports those as tool errors).
    pub fn into_ledger(self) -> ledger::Error {
        match self {
            Error::Ledger(e) => e,
            Error::Invalid(m) => ledger::Error::invalid("job", m),
            e => ledger::Error::conflict("job_runner", e.to_string()),
        }
    }
}
