//! Maintenance: checking and repairing a store ([`doctor`]), and bringing
//! the reference CLI's v1 inbox files into the ledger ([`legacy_import`]).

pub mod doctor;
pub mod legacy_import;
