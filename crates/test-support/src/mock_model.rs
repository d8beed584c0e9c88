//! A loopback stand-in for the OpenAI Responses API, so the real Codex CLI
//! can run whole turns offline (see `tests/codex_e2e.rs`).
//!
//! Codex is pointed at it through a custom model provider
//! (`base_url = "http://127.0.0.1:<port>/v1"`, `wire_api = "responses"`) and
//! POSTs every model request to `/v1/responses`. The mock answers with
//! Server-Sent Events built from a script: a list of [`Step`]s, each the
//! output items of one model turn (a `tool_search_call`, a `function_call`
//! to an MCP tool in namespace `mcp__<server>` or to one of Codex's own
//! tools such as the shell tool `exec_command`, or a final assistant
//! message). Every main request consumes the next step. Requests without
//! `tools` are Codex's background requests (titles, memories): they get a
//! short message and consume nothing. Every request is recorded, so a test
//! can check what Codex sent back (tool results, searched tools).
//!
//! The HTTP/1.1 server is deliberately minimal: one request per connection,
//! `Connection: close`, the body read by `Content-Length` (or chunked).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The output items of one scripted model response.
#[derive(Clone, Debug)]
pub struct Step {
    pub items: Vec<Value>,
    /// Hold the response (after `response.created`) until the gate opens:
    /// a turn that stays in progress while the test does something else.
    pub gate: Option<Gate>,
}

/// A gate a held step waits on ([`Step::held`]); [`Gate::open`] lets it go.
#[derive(Clone, Debug, Default)]
pub struct Gate(Arc<tokio::sync::Notify>, Arc<std::sync::atomic::AtomicBool>);

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Let every response held on this gate (now or later) go.
    pub fn open(&self) {
        self.1.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.notify_waiters();
    }

    async fn wait(&self) {
        loop {
            let notified = self.0.notified();
            if self.1.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

impl Step {
    /// A step that emits the given output items in order.
    pub fn items(items: Vec<Value>) -> Step {
        Step { items, gate: None }
    }

    /// The same step, held until `gate` opens.
    pub fn held(mut self, gate: &Gate) -> Step {
        self.gate = Some(gate.clone());
        self
    }

    /// The model searches its deferred tools (Codex answers in the next
    /// request with a `tool_search_output` listing the matching namespaces).
    pub fn tool_search(call_id: &str, query: &str) -> Step {
        Step::items(vec![json!({
            "type": "tool_search_call",
            "id": format!("tsc_{call_id}"),
            "call_id": call_id,
            "status": "completed",
            "execution": "client",
            "arguments": {"query": query, "limit": 20},
        })])
    }

    /// The model calls MCP tool `tool` of server `server` (namespace
    /// `mcp__<server>`); `arguments` goes over the wire as a JSON string.
    pub fn mcp_call(server: &str, call_id: &str, tool: &str, arguments: Value) -> Step {
        Step::items(vec![json!({
            "type": "function_call",
            "id": format!("fc_{call_id}"),
            "call_id": call_id,
            "namespace": format!("mcp__{server}"),
            "name": tool,
            "arguments": arguments.to_string(),
        })])
    }

    /// The model calls one of Codex's own function tools (no namespace),
    /// e.g. the shell tool; `arguments` goes over the wire as a JSON string.
    pub fn function_call(call_id: &str, name: &str, arguments: Value) -> Step {
        Step::items(vec![json!({
            "type": "function_call",
            "id": format!("fc_{call_id}"),
            "call_id": call_id,
            "name": name,
            "arguments": arguments.to_string(),
        })])
    }

    /// The model runs a shell command through `exec_command`, the shell tool
    /// Codex 0.169 offers `gpt-5.5` (unified exec: `{"cmd": "<command line>"}`).
    pub fn exec_command(call_id: &str, cmd: &str) -> Step {
        Step::function_call(call_id, "exec_command", json!({ "cmd": cmd }))
    }

    /// The model edits files through Codex's `apply_patch` (a custom tool
    /// in Codex 0.169: the patch text is the call's `input`).
    pub fn apply_patch(call_id: &str, patch: &str) -> Step {
        Step::items(vec![json!({
            "type": "custom_tool_call",
            "id": format!("ctc_{call_id}"),
            "call_id": call_id,
            "name": "apply_patch",
            "input": patch,
        })])
    }

    /// The model ends the turn with an assistant message.
    pub fn message(text: &str) -> Step {
        Step::items(vec![assistant_message(text)])
    }
}

fn assistant_message(text: &str) -> Value {
    json!({
        "type": "message",
        "role": "assistant",
        "id": "msg_mock",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// One request the mock received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Value::Null` when there was none or it was not JSON).
    pub body: Value,
    /// Which step answered it (`None`: a background request, or not `/responses`).
    pub step: Option<usize>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A main model request (it offers tools) as opposed to a background one.
    pub fn is_main(&self) -> bool {
        self.body["tools"].as_array().is_some_and(|t| !t.is_empty())
    }

    /// The request's top-level function tool with this name (Codex's own
    /// tools such as `exec_command`; not the deferred MCP namespaces).
    pub fn function_tool(&self, name: &str) -> Option<&Value> {
        self.body["tools"]
            .as_array()?
            .iter()
            .find(|t| t["type"] == json!("function") && t["name"] == json!(name))
    }

    /// The items of the request's `input`.
    pub fn input(&self) -> &[Value] {
        self.body["input"].as_array().map_or(&[], Vec::as_slice)
    }

    /// The texts of the user messages in the request's `input`, in order
    /// (Codex's own context blocks, which start with `<`, left out).
    pub fn user_texts(&self) -> Vec<String> {
        self.input()
            .iter()
            .filter(|i| i["type"] == json!("message") && i["role"] == json!("user"))
            .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["text"].as_str().map(str::to_owned))
            .filter(|t| !t.trim_start().starts_with('<'))
            .collect()
    }

    /// The input item of `type` answering `call_id` (`function_call_output`,
    /// `tool_search_output`).
    pub fn output_for(&self, kind: &str, call_id: &str) -> Option<&Value> {
        self.input()
            .iter()
            .find(|i| i["type"] == json!(kind) && i["call_id"] == json!(call_id))
    }
}

#[derive(Default)]
struct State {
    steps: VecDeque<Step>,
    next_index: usize,
    requests: Vec<Request>,
    /// Main requests that arrived after the script ran out.
    overruns: usize,
    /// While closed, main requests wait before they are answered.
    gate_closed: bool,
    /// Main requests waiting at the closed gate.
    waiting: usize,
    responses: usize,
}

/// The running mock. Dropping it stops the server.
pub struct MockModel {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for MockModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockModel {
    /// Listen on 127.0.0.1 (an ephemeral port) with the given script.
    pub async fn start(steps: Vec<Step>) -> std::io::Result<MockModel> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            steps: steps.into(),
            ..State::default()
        }));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, st).await {
                        eprintln!("mock model: connection error: {e}");
                    }
                });
            }
        });
        Ok(MockModel { addr, state, task })
    }

    /// `base_url` for the model provider: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Append steps to the script.
    pub fn push(&self, steps: Vec<Step>) {
        let mut st = self.state.lock().expect("mock state");
        st.steps.extend(steps);
    }

    /// Hold main requests (they wait, unanswered) until [`MockModel::open_gate`];
    /// a test sees a model turn in progress for as long as it needs.
    pub fn close_gate(&self) {
        self.state.lock().expect("mock state").gate_closed = true;
    }

    /// Answer the held requests and every later one.
    pub fn open_gate(&self) {
        self.state.lock().expect("mock state").gate_closed = false;
    }

    /// Main requests waiting at the closed gate now.
    pub fn waiting(&self) -> usize {
        self.state.lock().expect("mock state").waiting
    }

    /// Steps not consumed yet.
    pub fn remaining(&self) -> usize {
        self.state.lock().expect("mock state").steps.len()
    }

    /// Main requests that found the script empty (answered with a message).
    pub fn overruns(&self) -> usize {
        self.state.lock().expect("mock state").overruns
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("mock state").requests.clone()
    }

    /// The request answered by step `index` (0-based over the whole script).
    pub fn request_for_step(&self, index: usize) -> Option<Request> {
        self.requests().into_iter().find(|r| r.step == Some(index))
    }

    /// The first recorded input item of `kind` answering `call_id`.
    pub fn find_output(&self, kind: &str, call_id: &str) -> Option<Value> {
        self.requests()
            .iter()
            .find_map(|r| r.output_for(kind, call_id).cloned())
    }

    /// The `[model_providers.<name>]` table pointing Codex at this mock
    /// (no retries, so a broken script fails fast).
    pub fn provider_toml(&self, name: &str, env_key: &str) -> String {
        format!(
            r#"[model_providers.{name}]
name = "Local scripted mock"
base_url = "{url}"
env_key = "{env_key}"
wire_api = "responses"
requires_openai_auth = false
supports_websockets = false
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000
"#,
            url = self.base_url()
        )
    }
}

/// Read one HTTP/1.1 request from the stream: (method, path, headers, body).
async fn read_request(
    stream: &mut TcpStream,
) -> std::io::Result<Option<(String, String, Vec<(String, String)>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = find(&buf, b"\r\n\r\n") {
            break p;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 1 << 20 {
            return Err(std::io::Error::other("request head too large"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut rest = buf[head_end + 4..].to_vec();
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        loop {
            if let Some(body) = dechunk(&rest)? {
                break body;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other(
                    "connection closed inside a chunked body",
                ));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
    } else {
        let len: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other("connection closed inside the body"));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        rest
    };
    Ok(Some((method, path, headers, body)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decode a complete chunked body, or `None` if more bytes are needed.
fn dechunk(mut data: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let size_str = String::from_utf8_lossy(&data[..eol]);
        let size_hex = size_str.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|e| std::io::Error::other(format!("bad chunk size {size_hex:?}: {e}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(Some(out));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some((method, path, headers, body)) = read_request(&mut stream).await? else {
        return Ok(());
    };
    let encoding = headers
        .iter()
        .find(|(k, _)| k == "content-encoding")
        .map(|(_, v)| v.clone());
    let json_body: Value = if encoding.is_some() {
        // Not expected from a custom provider; recorded so a test can see it.
        json!({"undecoded_content_encoding": encoding})
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let mut req = Request {
        method: method.clone(),
        path: path.clone(),
        headers,
        body: json_body,
        step: None,
    };

    if method == "POST" && path.ends_with("/responses") {
        if req.is_main() {
            hold_at_gate(&state).await;
        }
        let (items, gate, response_id) = {
            let mut st = state.lock().expect("mock state");
            st.responses += 1;
            let response_id = format!("resp_mock_{}", st.responses);
            let mut gate = None;
            let items = if req.is_main() {
                match st.steps.pop_front() {
                    Some(step) => {
                        req.step = Some(st.next_index);
                        st.next_index += 1;
                        gate = step.gate;
                        step.items
                    }
                    None => {
                        st.overruns += 1;
                        vec![assistant_message(
                            "mock model: the script has no more steps",
                        )]
                    }
                }
            } else {
                vec![assistant_message("ok")]
            };
            st.requests.push(req);
            (items, gate, response_id)
        };
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                    Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await?;
        let mut sse = String::new();
        event(
            &mut sse,
            "response.created",
            json!({"type": "response.created", "response": {"id": response_id}}),
        );
        if let Some(g) = gate {
            stream.write_all(sse.as_bytes()).await?;
            stream.flush().await?;
            sse.clear();
            g.wait().await;
        }
        for (i, item) in items.iter().enumerate() {
            event(
                &mut sse,
                "response.output_item.added",
                json!({"type": "response.output_item.added", "output_index": i, "item": item}),
            );
            if item["type"] == json!("message") {
                let text = item["content"][0]["text"].as_str().unwrap_or_default();
                event(
                    &mut sse,
                    "response.output_text.delta",
                    json!({"type": "response.output_text.delta", "item_id": item["id"],
                           "output_index": i, "content_index": 0, "delta": text}),
                );
            }
            event(
                &mut sse,
                "response.output_item.done",
                json!({"type": "response.output_item.done", "output_index": i, "item": item}),
            );
        }
        event(
            &mut sse,
            "response.completed",
            json!({"type": "response.completed", "response": {
                "id": response_id,
                "usage": {
                    "input_tokens": 100, "input_tokens_details": {"cached_tokens": 0},
                    "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": 110,
                },
            }}),
        );
        stream.write_all(sse.as_bytes()).await?;
    } else {
        let (status, body) = if method == "GET" && path.contains("/models") {
            ("200 OK", r#"{"object":"list","data":[],"models":[]}"#)
        } else {
            ("404 Not Found", r#"{"error":{"message":"not mocked"}}"#)
        };
        state.lock().expect("mock state").requests.push(req);
        let resp = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(resp.as_bytes()).await?;
    }
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Wait while the gate is closed (counted in `waiting`).
async fn hold_at_gate(state: &Arc<Mutex<State>>) {
    let mut counted = false;
    loop {
        {
            let mut st = state.lock().expect("mock state");
            if !st.gate_closed {
                if counted {
                    st.waiting -= 1;
                }
                return;
            }
            if !counted {
                st.waiting += 1;
                counted = true;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn event(out: &mut String, kind: &str, data: Value) {
    out.push_str("event: ");
    out.push_str(kind);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}
