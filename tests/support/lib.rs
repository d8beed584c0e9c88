//! Shared helpers for the end-to-end tests: find the real binaries, make a
//! throw-away ledger root, start `codenator-mcp` processes and talk to them
//! with rmcp's own MCP client, exactly as Codex does.
//!
//! The binaries are built by `cargo test --workspace` (each binary's crate
//! has an integration test, so cargo builds the executable).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::Value;

pub mod mock_model;

/// A running MCP client connected to one server process.
pub type Client = RunningService<RoleClient, ()>;

/// Path of a workspace binary (`codenator-mcp`, `codenator`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> directory");
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` so the binaries are built",
        p.display()
    );
    p
}

/// A temporary ledger root, removed on drop.
pub fn temp_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("codenator-test-")
        .tempdir()
        .expect("temp dir")
}

/// The command that starts a server on `root` as `agent`.
pub fn server_command(root: &Path, agent: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin("codenator-mcp"));
    cmd.arg("--root").arg(root);
    if let Some(a) = agent {
        cmd.arg("--agent").arg(a);
    }
    cmd.env_remove("AURALIS_CODENATOR_ROOT")
        .env_remove("AURALIS_CODEXTRATOR_ROOT")
        .env_remove("AURALIS_CODENATOR_AGENT")
        .env_remove("AURALIS_CODEXTRATOR_AGENT")
        .env("RUST_LOG", "warn");
    cmd
}

/// Start a `codenator-mcp` process and complete the MCP handshake.
pub async fn connect(root: &Path, agent: &str) -> anyhow::Result<Client> {
    connect_with(server_command(root, Some(agent))).await
}

/// Start a server from a prepared command and complete the handshake.
pub async fn connect_with(cmd: tokio::process::Command) -> anyhow::Result<Client> {
    let transport = TokioChildProcess::new(cmd.configure(|_| {}))?;
    Ok(().serve(transport).await?)
}

/// Call a tool and return the raw result.
pub async fn call_raw(client: &Client, tool: &str, args: Value) -> anyhow::Result<CallToolResult> {
    let mut params = CallToolRequestParams::new(tool.to_string());
    if let Value::Object(m) = args {
        params = params.with_arguments(m);
    }
    Ok(client.call_tool(params).await?)
}

/// Call a tool that must succeed and return its structured content.
pub async fn call(client: &Client, tool: &str, args: Value) -> anyhow::Result<Value> {
    let res = call_raw(client, tool, args.clone()).await?;
    let body = res
        .structured_content
        .clone()
        .context("the answer has no structuredContent")?;
    if res.is_error == Some(true) {
        bail!("{tool} {args} failed: {body}");
    }
    Ok(body)
}

/// Call a tool that must be refused and return the error object.
pub async fn refused(client: &Client, tool: &str, args: Value) -> anyhow::Result<Value> {
    let res = call_raw(client, tool, args.clone()).await?;
    if res.is_error != Some(true) {
        bail!(
            "{tool} {args} should have been refused but answered {:?}",
            res.structured_content
        );
    }
    Ok(res
        .structured_content
        .clone()
        .map(|v| v["error"].clone())
        .unwrap_or_else(|| {
            Value::String(
                res.content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        }))
}

/// Copy a directory tree (fixtures into a temp root).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// The repository root (for fixtures).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
