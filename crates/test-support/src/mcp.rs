//! `codenator-mcp` processes and rmcp's MCP client on them.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rmcp::{
    RoleClient, ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::Value;

use crate::paths::bin;

/// A running MCP client connected to one server process.
pub type Client = RunningService<RoleClient, ()>;

/// The variables that choose a root or an agent: removed from every process
/// a test starts, so the caller's own settings never leak in.
pub(crate) const CODENATOR_VARS: [&str; 4] = [
    "AURALIS_CODENATOR_ROOT",
    "AURALIS_CODEXTRATOR_ROOT",
    "AURALIS_CODENATOR_AGENT",
    "AURALIS_CODEXTRATOR_AGENT",
];

/// The log level of the processes tests start: warnings show (on the test's
/// stderr), so an unexpected one is seen.
pub(crate) const TEST_LOG: &str = "warn";

/// The log level for a process that is expected to warn (a test damages the
/// ledger on purpose, or sends a call that must fail): errors still show.
const EXPECTED_WARNINGS_LOG: &str = "error";

/// Upper bound for one tool call in [`tcall`]: a call blocked this long is
/// a deadlock.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The command that starts a server on `root` as `agent` (no agent: the
/// caller is whoever the Codex thread is bound to).
pub fn server_command(root: &Path, agent: Option<&str>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(bin("codenator-mcp"));
    cmd.arg("--root").arg(root);
    if let Some(a) = agent {
        cmd.arg("--agent").arg(a);
    }
    for v in CODENATOR_VARS {
        cmd.env_remove(v);
    }
    cmd.env("RUST_LOG", TEST_LOG);
    cmd
}

/// Make a server log only errors: for a test whose server is expected to
/// warn (damaged ledger lines it skips, an unknown tool it refuses), so the
/// deliberate warnings do not look like failures in the test output while a
/// real error still shows. Use it only where a warning is the point.
pub fn expect_warnings(cmd: &mut tokio::process::Command) -> &mut tokio::process::Command {
    cmd.env("RUST_LOG", EXPECTED_WARNINGS_LOG)
}

/// Start a `codenator-mcp` process and complete the MCP handshake.
pub async fn connect(root: &Path, agent: &str) -> anyhow::Result<Client> {
    connect_with(server_command(root, Some(agent))).await
}

/// [`connect`] to a server that is expected to warn (see [`expect_warnings`]).
pub async fn connect_expecting_warnings(root: &Path, agent: &str) -> anyhow::Result<Client> {
    let mut cmd = server_command(root, Some(agent));
    expect_warnings(&mut cmd);
    connect_with(cmd).await
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

/// [`call`] with a deadline ([`CALL_TIMEOUT`]), so a hung lock fails the
/// test instead of hanging CI.
pub async fn tcall(client: &Client, tool: &str, args: Value) -> anyhow::Result<Value> {
    tokio::time::timeout(CALL_TIMEOUT, call(client, tool, args.clone()))
        .await
        .with_context(|| format!("{tool} {args} did not answer within {CALL_TIMEOUT:?}"))?
}

/// Call a tool that must be refused and return the error object (or, for a
/// refusal rmcp makes before our handler runs, its text).
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
