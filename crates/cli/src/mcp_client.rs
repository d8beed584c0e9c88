//! A small MCP client over a child process (rmcp's), for the commands that
//! drive real server processes: `demo` and `bench`.

use anyhow::bail;
use rmcp::{
    RoleClient, ServiceExt, model::CallToolRequestParams, service::RunningService,
    transport::TokioChildProcess,
};
use serde_json::Value;

pub type Client = RunningService<RoleClient, ()>;

/// Start a server process (stderr discarded) and complete the handshake.
/// Returns the client and the process id.
pub async fn connect(cmd: tokio::process::Command) -> anyhow::Result<(Client, Option<u32>)> {
    let (t, _) = TokioChildProcess::builder(cmd)
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let pid = t.id();
    Ok((().serve(t).await?, pid))
}

/// Call a tool; its JSON answer (structured content, else the text), or an
/// error carrying the refusal.
pub async fn call(client: &Client, tool: &str, args: &Value) -> anyhow::Result<Value> {
    Ok(call_with_stats(client, tool, args).await?.0)
}

/// What a server started with `CODENATOR_CALL_STATS=1` says a call cost
/// it (None from a server that does not say).
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStats {
    pub fsyncs: Option<u64>,
    pub micros: Option<u64>,
    /// How long the call held the store's exclusive lock.
    pub lock_micros: Option<u64>,
}

/// [`call`], with the server's own account of the call.
pub async fn call_with_stats(
    client: &Client,
    tool: &str,
    args: &Value,
) -> anyhow::Result<(Value, CallStats)> {
    let mut p = CallToolRequestParams::new(tool.to_string());
    if let Value::Object(m) = args {
        p = p.with_arguments(m.clone());
    }
    let mut res = client.call_tool(p).await?;
    let stat = |k: &str| {
        res.meta
            .as_ref()
            .and_then(|m| m.0.get(k))
            .and_then(Value::as_u64)
    };
    let stats = CallStats {
        fsyncs: stat("codenator/fsyncs"),
        micros: stat("codenator/micros"),
        lock_micros: stat("codenator/lock_micros"),
    };
    // Taken, not cloned: the bench times this function.
    let body = res.structured_content.take().unwrap_or_else(|| {
        res.content
            .first()
            .and_then(|c| c.as_text())
            .and_then(|t| serde_json::from_str(&t.text).ok())
            .unwrap_or(Value::Null)
    });
    if res.is_error == Some(true) {
        let why = body["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{:?}", res.content));
        bail!("{tool} was refused: {why}");
    }
    Ok((body, stats))
}

/// One MCP `ping` round trip: the transport's floor under every call.
pub async fn ping(client: &Client) -> anyhow::Result<()> {
    client
        .send_request(rmcp::model::ClientRequest::PingRequest(
            rmcp::model::PingRequest::default(),
        ))
        .await?;
    Ok(())
}
