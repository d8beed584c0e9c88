//! Every server-to-client request gets an answer.
//!
//! Against the real `codex app-server` (the pinned `@openai/codex`, offline
//! against `test_support::mock_model`) with `approval_policy = "on-request"`:
//! one turn whose scripted model triggers each kind Codex sends to a v2
//! client in this configuration (a command approval accepted by the
//! safe-command policy and one declined, a patch into `.git` declined, a
//! question to the user, a permission request, a dynamic tool call, and MCP
//! tool-call elicitations of codenator's real server, one accepted and one
//! declined); the turn completes and each answer is in the evidence. The
//! kinds Codex sends only in other setups (external ChatGPT tokens,
//! attestation, the time, the v1 API's approvals) are answered by the same
//! policy here from Codex's own message shapes, and a test checks that
//! every method in the pinned Codex's generated `ServerRequest.json` is one
//! this client knows.

use std::time::Duration;

use app_server_client::protocol::{
    ApprovalPolicy, DynamicToolSpec, Message, SandboxMode, ServerRequest, ThreadSettings,
    ThreadStartParams, TurnStartParams, TurnStatus, method,
};
use app_server_client::{AppServer, Codex, Policy};
use serde_json::json;
use test_support::codex::{CodexUser, codex_bin, require_codex, toml_str};
use test_support::mock_model::{MockModel, Step};

fn codex(user: &CodexUser) -> Codex {
    let mut c = Codex::new(codex_bin());
    c.env = user
        .env()
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    c
}

fn escalated(call: &str, cmd: &str) -> Step {
    Step::function_call(
        call,
        "exec_command",
        json!({"cmd": cmd, "sandbox_permissions": "require_escalated", "justification": "needed"}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_of_a_turn_gets_an_answer() -> anyhow::Result<()> {
    require_codex();
    let tmp = test_support::temp_dir("codenator-server-requests-");
    let user = CodexUser::new(tmp.path());
    let work = tmp.path().join("work");
    test_support::repo(&work);
    let root = tmp.path().join("ledger");
    let mock = MockModel::start(Vec::new()).await?;
    let server = test_support::bin("codenator-mcp");
    // Each codenator tool call is asked about (approval_mode = "prompt").
    user.write_config(
        &mock,
        &format!(
            r#"[features]
plugins = false
default_mode_request_user_input = true
request_permissions_tool = true

[mcp_servers.codenator]
command = {cmd}
args = ["--root", {root}, "--agent", "worker-1"]
env = {{ RUST_LOG = "warn" }}
startup_timeout_sec = 20
tool_timeout_sec = 60

[mcp_servers.codenator.tools.record_heartbeat]
approval_mode = "prompt"

[mcp_servers.codenator.tools.get_status]
approval_mode = "prompt"
"#,
            cmd = toml_str(server.to_str().expect("utf-8")),
            root = toml_str(root.to_str().expect("utf-8")),
        ),
    );
    let patch = format!(
        "*** Begin Patch\n*** Add File: {}\n+x\n*** End Patch\n",
        work.join(".git/codenator-test").display()
    );
    mock.push(vec![
        escalated("c_add", "git add -- README.md"),
        escalated("c_push", "git push origin main"),
        Step::items(vec![json!({"type": "custom_tool_call", "id": "ct_p", "call_id": "c_patch",
                                "name": "apply_patch", "input": patch})]),
        Step::function_call(
            "c_ask",
            "request_user_input",
            json!({"questions": [{"id": "q1", "header": "Which", "question": "Which one?",
                   "options": [{"label": "A", "description": "a"}, {"label": "B", "description": "b"}]}]}),
        ),
        Step::function_call(
            "c_perm",
            "request_permissions",
            json!({"permissions": {"network": {"enabled": true}}, "reason": "fetch"}),
        ),
        Step::function_call("c_dyn", "codenator_probe", json!({})),
        Step::mcp_call(
            "codenator",
            "c_hb",
            "record_heartbeat",
            json!({"slot": "worker-1", "status": "ok"}),
        ),
        Step::mcp_call("codenator", "c_status", "get_status", json!({})),
        Step::message("done"),
    ]);
    let policy = Policy {
        mcp_servers: vec!["codenator".into()],
        mcp_tools: vec!["record_heartbeat".into()],
        approval_root: Some(work.clone()),
    };
    let mut s = AppServer::spawn(&codex(&user), Some(&work), policy).await?;
    s.initialize("codenator_test").await?;
    let thread = s
        .start_thread(&ThreadStartParams {
            settings: ThreadSettings {
                cwd: Some(work.display().to_string()),
                approval_policy: Some(ApprovalPolicy::OnRequest),
                sandbox: Some(SandboxMode::WorkspaceWrite),
            },
            ephemeral: Some(false),
            dynamic_tools: vec![DynamicToolSpec::Function {
                name: "codenator_probe".into(),
                description: "A tool the client answers".into(),
                input_schema: serde_json::value::to_raw_value(
                    &json!({"type": "object", "properties": {}}),
                )?,
            }],
            ..ThreadStartParams::default()
        })
        .await?
        .thread;
    let turn = s
        .run_turn(
            &TurnStartParams::text(thread.id.clone(), "go"),
            Duration::from_secs(60),
        )
        .await?;
    let closed = s.close().await;
    let e = closed.evidence;
    assert_eq!(turn.status, TurnStatus::Completed, "{e:#?}");
    assert!(!turn.timed_out);
    assert_eq!(mock.remaining(), 0, "{e:#?}");
    let answers: Vec<(String, String)> = e
        .answered
        .iter()
        .map(|a| (a.method.clone(), a.answer.clone()))
        .collect();
    eprintln!("{:#?}", e.answered);
    let expect = [
        (method::COMMAND_APPROVAL, "accept"),
        (method::COMMAND_APPROVAL, "decline"),
        (method::FILE_CHANGE_APPROVAL, "decline"),
        (method::USER_INPUT, "no_answers"),
        (method::PERMISSIONS_APPROVAL, "grant_none"),
        (method::DYNAMIC_TOOL_CALL, "tool_failed"),
        (method::MCP_ELICITATION, "accept"),
        (method::MCP_ELICITATION, "decline"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(m, a)| (m.to_string(), a.to_string()))
        .collect();
    assert_eq!(answers, expect);
    // What the model was told.
    let out = |call: &str| {
        mock.find_output("function_call_output", call)
            .or_else(|| mock.find_output("custom_tool_call_output", call))
            .map(|o| o["output"].to_string())
            .unwrap_or_default()
    };
    assert!(out("c_patch").contains("rejected"), "{}", out("c_patch"));
    assert!(out("c_status").contains("rejected"), "{}", out("c_status"));
    assert!(out("c_dyn").contains("no dynamic tool"), "{}", out("c_dyn"));
    assert!(
        !work.join(".git/codenator-test").exists(),
        "the declined patch was applied"
    );
    // The accepted elicitation ran the real tool: it answered with the heartbeat.
    let hb = out("c_hb");
    assert!(
        !hb.contains("rejected") && hb.contains("heartbeat") && hb.contains("worker-1"),
        "{hb}"
    );
    let heartbeat = test_support::store_dir(&root).join("heartbeat/worker-1.json");
    assert!(heartbeat.is_file(), "no heartbeat recorded: {hb}");
    Ok(())
}

/// The kinds Codex sends only to other clients (external ChatGPT tokens,
/// attestation, the clock, the v1 API), in the shapes of Codex's schema.
#[test]
fn the_other_request_kinds_are_answered_too() {
    let policy = Policy {
        mcp_servers: vec!["codenator".into()],
        mcp_tools: vec!["record_heartbeat".into()],
        approval_root: Some("/wt".into()),
    };
    let items = app_server_client::policy::Items::default();
    let cases = [
        (
            r#"{"id":1,"method":"account/chatgptAuthTokens/refresh","params":{"reason":"unauthorized"}}"#,
            "error -32000",
        ),
        (
            r#"{"id":2,"method":"attestation/generate","params":{}}"#,
            "error -32000",
        ),
        (
            r#"{"id":3,"method":"currentTime/read","params":{"threadId":"t"}}"#,
            "current_time",
        ),
        (
            r#"{"id":4,"method":"applyPatchApproval","params":{"callId":"c","conversationId":"t",
               "fileChanges":{"/wt/src/a.rs":{"type":"add","content":"x"}}}}"#,
            "approved",
        ),
        (
            r#"{"id":5,"method":"applyPatchApproval","params":{"callId":"c","conversationId":"t",
               "fileChanges":{"/etc/passwd":{"type":"add","content":"x"}}}}"#,
            "denied",
        ),
        (
            r#"{"id":6,"method":"execCommandApproval","params":{"callId":"c","conversationId":"t",
               "command":["git","diff","--check"],"cwd":"/wt","parsedCmd":[]}}"#,
            "approved",
        ),
        (
            r#"{"id":7,"method":"execCommandApproval","params":{"callId":"c","conversationId":"t",
               "command":["git","push"],"cwd":"/wt","parsedCmd":[]}}"#,
            "denied",
        ),
        (
            r#"{"id":8,"method":"mcpServer/elicitation/request","params":{"serverName":"codenator",
               "threadId":"t","mode":"url","message":"Log in","url":"https://x","elicitationId":"e"}}"#,
            "decline",
        ),
        (
            r#"{"id":9,"method":"mcpServer/elicitation/request","params":{"serverName":"other",
               "threadId":"t","mode":"form","message":"m","requestedSchema":{},
               "_meta":{"codex_approval_kind":"mcp_tool_call","tool_name":"record_heartbeat"}}}"#,
            "decline",
        ),
        (
            r#"{"id":10,"method":"some/futureRequest","params":{}}"#,
            "error -32601",
        ),
        (
            r#"{"id":11,"method":"item/fileChange/requestApproval","params":{"threadId":"t",
               "turnId":"u","itemId":"unknown","startedAtMs":1}}"#,
            "decline",
        ),
    ];
    for (line, want) in cases {
        let Ok(Message::Request { request, .. }) = Message::parse(line) else {
            panic!("not a request: {line}");
        };
        let a = policy.answer(&request, &items, 1_800_000_000);
        assert_eq!(a.answer.summary(), want, "{line}: {}", a.detail);
    }
}

/// Every request method the pinned Codex defines (its generated
/// `ServerRequest.json`) is one this client parses into a known kind, so
/// none falls to the generic "not handled" error unnoticed when Codex grows.
#[test]
fn every_method_in_codex_s_schema_is_known() {
    require_codex();
    let out = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new(codex_bin())
        .args([
            "app-server",
            "generate-json-schema",
            "--experimental",
            "--out",
        ])
        .arg(out.path())
        .env("CODEX_HOME", out.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run codex");
    assert!(status.success());
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("ServerRequest.json")).expect("schema"),
    )
    .expect("JSON");
    let methods: Vec<String> = schema["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .filter_map(|v| {
            v["properties"]["method"]["enum"][0]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(methods.len(), method::SERVER_REQUESTS.len(), "{methods:?}");
    for m in &methods {
        assert!(method::SERVER_REQUESTS.contains(&m.as_str()), "{m} is new");
        let line = format!(r#"{{"id":1,"method":"{m}","params":{{}}}}"#);
        let Ok(Message::Request { request, .. }) = Message::parse(&line) else {
            panic!("{m}");
        };
        // With empty params a kind with required fields is unreadable, but
        // it is still named by its method, never "not handled".
        assert_eq!(request.method(), m);
        if let ServerRequest::Unknown { unreadable, .. } = &request {
            assert!(unreadable.is_some(), "{m} is not known");
        }
    }
}
