//! The ledger's operations as types: what each takes ([`requests`]) and
//! what it answers ([`responses`]).
//!
//! Both derive serde and schemars: the MCP server publishes their JSON
//! Schemas as the tools' input and output schemas, and the CLI, the
//! dashboard and the runners read the same structs, so a renamed field is a
//! compile error, not a silently missing key.

pub mod requests;
pub mod responses;

pub use requests::*;
pub use responses::*;
