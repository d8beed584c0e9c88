//! The one test harness of the codenator workspace, shared by the end-to-end
//! tests in `tests/` (package `codenator-tests`) and the CLI's tests in
//! `crates/cli/tests/`. It is a dev-dependency only; no product crate
//! depends on it.
//!
//! What it gives a test:
//!
//! - the real binaries (`codenator`, `codenator-mcp`) as processes, with a
//!   clean environment: [`bin`], [`cli_command`], [`server_command`];
//! - rmcp's own MCP client on a server process, exactly as Codex talks to
//!   one: [`connect`], [`call`], [`refused`], [`tcall`];
//! - the `codenator` command line in a throw-away world (ledger root, HOME,
//!   CODEX_HOME): [`World`];
//! - temporary roots and files: [`temp_root`], [`store_dir`], [`copy_tree`],
//!   [`walk`], the fixtures ([`fixture`]);
//! - git with a fixed identity and no user configuration: [`git`],
//!   [`repo`], [`commit_file`];
//! - [`mock_model`], a loopback stand-in for the OpenAI Responses API so
//!   the real Codex CLI runs whole turns offline; [`codex`], the pinned
//!   Codex CLI and a throw-away Codex user configured for the stand-in;
//! - `codenator admin` as a process with raw HTTP to it ([`Admin`]), and
//!   headless Chromium driven over the DevTools protocol ([`Browser`]).
//!
//! # How the binaries are found
//!
//! [`bin`] takes `CARGO_BIN_EXE_<name>` when cargo sets it at run time (it
//! does for a test of the package that owns the binary), else the file next
//! to the test executable's `deps/` directory, where cargo puts every binary
//! of the workspace. `cargo test --workspace` builds those binaries before
//! it runs any test, because the packages that own them (`codenator`,
//! `codenator-mcp`) have integration tests of their own. Running a single
//! test file of another package (`cargo test --test races`) does not
//! rebuild them: run `cargo build --workspace` first.

mod admin;
mod browser;
mod cli;
pub mod codex;
mod git;
mod json;
mod mcp;
pub mod mock_model;
mod paths;
pub mod power;

pub use admin::{Admin, Event, Events, Response};
pub use browser::{Browser, WINDOW, chromium_path};
pub use cli::{World, cli_command};
pub use git::{commit_file, git, git_command, repo};
pub use json::{ReportFiles, report_files, row, str_field};
pub use mcp::{
    CALL_TIMEOUT, Client, call, call_raw, connect, connect_expecting_warnings, connect_with,
    expect_warnings, refused, server_command, tcall,
};
pub use paths::{
    STORE_DIR, bin, copy_tree, fixture, ledger_file, repo_root, store_dir, temp_dir, temp_root,
    walk, walk_files,
};
pub use tempfile::TempDir;

/// Run a prepared command, require exit 0, return its stdout with
/// surrounding whitespace trimmed. The panic shows the command's stderr.
pub fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run a test body, panicking when it takes longer than `limit`. When it
/// expires the body is dropped, which kills the processes it started with
/// `kill_on_drop`.
pub async fn within_deadline<T>(
    name: &str,
    limit: std::time::Duration,
    body: impl std::future::Future<Output = T>,
) -> T {
    match tokio::time::timeout(limit, body).await {
        Ok(result) => result,
        Err(_) => panic!("{name} did not finish within {limit:?}"),
    }
}
