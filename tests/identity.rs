//! Identity without `--agent`: one shared server configuration for every
//! session (as a plugin's `.mcp.json` gives), where the caller is the slot
//! bound to the calling Codex thread (`_meta.threadId` on `tools/call`).

use rmcp::model::{CallToolRequestParams, MetaObject, RequestMetaObject};
use serde_json::{Value, json};
use test_support::{Client, connect_with, server_command, temp_root};

/// Call a tool as Codex does: with the calling thread's id in `_meta`.
async fn call_as(
    client: &Client,
    thread: &str,
    tool: &str,
    args: Value,
) -> anyhow::Result<(bool, Value)> {
    let mut p = CallToolRequestParams::new(tool.to_string());
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    let mut meta = serde_json::Map::new();
    meta.insert("threadId".into(), json!(thread));
    p.meta = Some(RequestMetaObject(MetaObject(meta)));
    let res = client.call_tool(p).await?;
    Ok((
        res.is_error == Some(true),
        res.structured_content.unwrap_or(Value::Null),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_bind_to_slots() -> anyhow::Result<()> {
    let root = temp_root();
    // One process without an agent serves every thread (the shared-config case).
    let server = connect_with(server_command(root.path(), None)).await?;
    let (coord, w1, w2) = ("thread-coord", "thread-w1", "thread-w2");

    // A worker binds its thread by registering its slot.
    let (err, body) = call_as(
        &server,
        w1,
        "register_slot",
        json!({"slot": "session-01", "project": "p", "focus": "f", "worktree": "/tmp/x"}),
    )
    .await?;
    assert!(!err, "{body}");
    assert_eq!(body["slot"]["codex_thread_id"], json!(w1));
    let (err, body) = call_as(
        &server,
        w2,
        "register_slot",
        json!({"slot": "session-02", "project": "p", "focus": "g", "worktree": "/tmp/y"}),
    )
    .await?;
    assert!(!err, "{body}");

    // The bound worker is session-01: it cannot act for session-02 nor as coordinator.
    let (err, body) = call_as(&server, w1, "read_inbox", json!({"slot": "session-02"})).await?;
    assert!(
        err && body["error"]["rule"] == json!("own_slot_only"),
        "{body}"
    );
    let (err, body) = call_as(
        &server,
        w1,
        "create_task",
        json!({"slot": "session-02", "title": "t", "message": "m"}),
    )
    .await?;
    assert!(
        err && body["error"]["rule"] == json!("coordinator_only"),
        "{body}"
    );
    let (err, body) = call_as(
        &server,
        w1,
        "send_message",
        json!({"to": "session-02", "message": "hi"}),
    )
    .await?;
    assert!(!err, "{body}");
    assert_eq!(
        body["message"]["from"],
        json!("session-01"),
        "the sender is the bound slot"
    );

    // An unbound thread is the coordinator while no thread is bound to it...
    let (err, body) = call_as(&server, coord, "register_slot", json!({"slot": "coordinator", "project": "p", "focus": "coordination", "worktree": "/tmp/c"})).await?;
    assert!(!err, "{body}");
    let (err, body) = call_as(
        &server,
        coord,
        "create_task",
        json!({"slot": "session-02", "task_id": "t1", "title": "t", "message": "m"}),
    )
    .await?;
    assert!(!err, "{body}");
    // The coordinator registering a worker does not bind its own thread to it.
    let (err, body) = call_as(
        &server,
        coord,
        "register_slot",
        json!({"slot": "session-03", "project": "p", "focus": "h", "worktree": "/tmp/z"}),
    )
    .await?;
    assert!(!err, "{body}");
    assert_eq!(body["slot"]["codex_thread_id"], Value::Null, "{body}");
    let (err, body) = call_as(
        &server,
        coord,
        "create_task",
        json!({"slot": "session-03", "task_id": "t3", "title": "t", "message": "m"}),
    )
    .await?;
    assert!(!err, "still the coordinator: {body}");
    // ...and after the coordinator bound its thread, an unknown thread must register first.
    let (err, body) = call_as(
        &server,
        "thread-stranger",
        "create_task",
        json!({"slot": "session-02", "title": "t", "message": "m"}),
    )
    .await?;
    assert!(
        err && body["error"]["rule"] == json!("unbound_session"),
        "{body}"
    );
    let (err, body) = call_as(&server, "thread-stranger", "get_status", json!({})).await?;
    assert!(
        err && body["error"]["rule"] == json!("unbound_session"),
        "{body}"
    );

    // The coordinator registering did not create a duplicate `coordinator` worker row.
    let (err, status) = call_as(&server, coord, "get_status", json!({})).await?;
    assert!(!err, "{status}");
    let slots: Vec<&str> = status["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slot"].as_str().unwrap())
        .collect();
    assert_eq!(
        slots,
        ["coordinator", "session-01", "session-02", "session-03"]
    );
    assert_eq!(status["slots"][0]["codex_thread_id"], json!(coord));

    // session-02 (its own thread) claims the task; session-01 cannot claim for it.
    let (err, body) = call_as(
        &server,
        w1,
        "claim_next_task",
        json!({"slot": "session-02"}),
    )
    .await?;
    assert!(
        err && body["error"]["rule"] == json!("own_slot_only"),
        "{body}"
    );
    let (err, body) = call_as(
        &server,
        w2,
        "claim_next_task",
        json!({"slot": "session-02"}),
    )
    .await?;
    assert!(!err && body["claimed"] == json!(true), "{body}");
    assert_eq!(body["task"]["task_id"], json!("t1"));
    server.cancel().await?;
    Ok(())
}
