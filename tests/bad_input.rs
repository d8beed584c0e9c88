//! Bad input, one case per rule: every refusal is an `isError` answer that
//! names the field or the rule, the server keeps answering (a `get_status`
//! after every bad call), and nothing is written outside the temporary root.
//!
//! Layout of each case: `<outer>/root` is the server's `--root`, `<outer>/cwd`
//! its working directory; `<outer>` must hold exactly those two (and `cwd`
//! must stay empty) after the case.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};
use test_support::{
    Client, TempDir, call, call_raw, connect_with, expect_warnings, ledger_file, refused,
    server_command, store_dir, temp_root, walk,
};

struct Env {
    outer: TempDir,
    root: PathBuf,
    cwd: PathBuf,
    before: BTreeSet<String>,
}

impl Env {
    fn new() -> anyhow::Result<Env> {
        let outer = temp_root();
        let root = outer.path().join("root");
        let cwd = outer.path().join("cwd");
        std::fs::create_dir_all(&root)?;
        std::fs::create_dir_all(&cwd)?;
        let before = outside(outer.path());
        Ok(Env {
            outer,
            root,
            cwd,
            before,
        })
    }

    async fn start(&self, agent: &str) -> anyhow::Result<Client> {
        let mut cmd = server_command(&self.root, Some(agent));
        cmd.current_dir(&self.cwd);
        connect_with(cmd).await
    }

    /// [`Env::start`] for a server that is expected to log warnings (the
    /// case makes it warn on purpose); it logs only errors.
    async fn start_expecting_warnings(&self, agent: &str) -> anyhow::Result<Client> {
        let mut cmd = server_command(&self.root, Some(agent));
        cmd.current_dir(&self.cwd);
        expect_warnings(&mut cmd);
        connect_with(cmd).await
    }

    fn store(&self) -> PathBuf {
        store_dir(&self.root)
    }

    /// Nothing appeared next to the root, in the server's cwd, or in the
    /// root next to the store; no stored path carries a hostile name.
    fn check_contained(&self) -> anyhow::Result<()> {
        assert_eq!(
            outside(self.outer.path()),
            self.before,
            "files appeared outside the root"
        );
        assert_eq!(
            std::fs::read_dir(&self.cwd)?.count(),
            0,
            "the server's cwd must stay empty"
        );
        let in_root: Vec<String> = std::fs::read_dir(&self.root)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            in_root,
            [".auralis-codextrator"],
            "only the store lives in the root"
        );
        for p in walk(&self.store()) {
            assert!(
                !p.contains("evil"),
                "a hostile id reached the file system: {p}"
            );
        }
        Ok(())
    }
}

/// Every path under `outer` except what is inside `outer/root`.
fn outside(outer: &Path) -> BTreeSet<String> {
    walk(outer)
        .into_iter()
        .filter(|p| p != "root" && !p.starts_with("root/"))
        .collect()
}

/// The server still answers.
async fn alive(c: &Client) -> anyhow::Result<()> {
    let s = call(c, "get_status", json!({}))
        .await
        .context("the server stopped answering")?;
    assert!(s["slots"].is_array(), "{s}");
    Ok(())
}

fn msg(e: &Value) -> String {
    e["message"].as_str().unwrap_or_default().to_string()
}

/// A validation refusal naming `field`.
async fn invalid(c: &Client, tool: &str, args: Value, field: &str) -> anyhow::Result<String> {
    let e = refused(c, tool, args).await?;
    assert_eq!(e["code"], json!("invalid_argument"), "{tool}: {e}");
    let m = msg(&e);
    assert!(
        m.starts_with(&format!("invalid {field}:")),
        "{tool}: the message must name {field}: {m}"
    );
    assert!(
        m.len() < 2_000,
        "{tool}: the error must not echo a huge value ({} bytes)",
        m.len()
    );
    alive(c).await?;
    Ok(m)
}

/// A refusal by `rule`.
async fn by_rule(c: &Client, tool: &str, args: Value, rule: &str) -> anyhow::Result<String> {
    let e = refused(c, tool, args).await?;
    assert_eq!(e["rule"], json!(rule), "{tool}: {e}");
    let m = msg(&e);
    assert!(m.contains(rule), "{tool}: the message names the rule: {m}");
    alive(c).await?;
    Ok(m)
}

/// An argument-decoding refusal (rmcp answers `isError` with a text).
async fn undecodable(c: &Client, tool: &str, args: Value, needle: &str) -> anyhow::Result<String> {
    let e = refused(c, tool, args).await?;
    let m = e
        .as_str()
        .with_context(|| format!("{tool}: expected a text error, got {e}"))?
        .to_string();
    assert!(
        m.contains("failed to deserialize parameters"),
        "{tool}: {m}"
    );
    assert!(
        m.contains(needle),
        "{tool}: {m:?} should contain {needle:?}"
    );
    alive(c).await?;
    Ok(m)
}

fn ledger_lines(env: &Env) -> usize {
    std::fs::read(ledger_file(&env.root))
        .map(|b| b.split(|c| *c == b'\n').filter(|l| !l.is_empty()).count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_mistyped_and_unknown_arguments() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;

    // Missing required arguments name the field.
    undecodable(&co, "read_inbox", json!({}), "missing field `slot`").await?;
    undecodable(
        &co,
        "send_message",
        json!({"to": "session-01"}),
        "missing field `message`",
    )
    .await?;
    undecodable(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "t"}),
        "missing field `message`",
    )
    .await?;
    undecodable(
        &co,
        "update_task",
        json!({"status": "active"}),
        "missing field `task_id`",
    )
    .await?;
    undecodable(
        &co,
        "register_slot",
        json!({"project": "p"}),
        "missing field `slot`",
    )
    .await?;
    undecodable(
        &co,
        "upsert_milestone",
        json!({"title": "t"}),
        "missing field `milestone_id`",
    )
    .await?;

    // Wrong types: the error names the field, the offending value and the
    // expected type.
    undecodable(
        &co,
        "read_inbox",
        json!({"slot": 5}),
        "slot: invalid type: integer `5`, expected a string",
    )
    .await?;
    undecodable(
        &co,
        "read_inbox",
        json!({"slot": "coordinator", "mark_read": "yes"}),
        "mark_read: invalid type: string \"yes\", expected a boolean",
    )
    .await?;
    undecodable(
        &co,
        "send_message",
        json!({"to": "all", "message": "m", "payload": "text"}),
        "payload: invalid type: string \"text\"",
    )
    .await?;
    undecodable(
        &co,
        "get_status",
        json!({"limit": "ten"}),
        "limit: invalid type: string \"ten\"",
    )
    .await?;
    undecodable(
        &co,
        "get_status",
        json!({"limit": -1}),
        "limit: invalid value: integer `-1`",
    )
    .await?;
    undecodable(
        &co,
        "create_task",
        json!({"slot": "s", "title": "t", "message": "m", "dependency_ids": [1]}),
        "dependency_ids: invalid type: expected a list of strings",
    )
    .await?;

    // Unknown fields are refused and named, including the ones the
    // reference silently honoured to forge ids and timestamps.
    undecodable(
        &co,
        "get_status",
        json!({"bogus": 1}),
        "unknown field `bogus`",
    )
    .await?;
    undecodable(
        &co,
        "send_message",
        json!({"to": "all", "message": "m", "id": "msg_forged"}),
        "unknown field `id`",
    )
    .await?;
    undecodable(
        &co,
        "send_message",
        json!({"to": "all", "message": "m", "created_at": "2000-01-01T00:00:00.000Z"}),
        "unknown field `created_at`",
    )
    .await?;
    undecodable(
        &co,
        "create_task",
        json!({"slot": "s", "title": "t", "message": "m", "status": "active"}),
        "unknown field `status`",
    )
    .await?;
    undecodable(
        &co,
        "create_task",
        json!({"slot": "s", "title": "t", "message": "m", "created_by": "x"}),
        "unknown field `created_by`",
    )
    .await?;

    // Enumerations are checked (the reference stored `weird` statuses).
    call(
        &co,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/session-01"}),
    )
    .await?;
    let w = env.start("session-01").await?;
    invalid(
        &w,
        "record_heartbeat",
        json!({"slot": "session-01", "status": "weird"}),
        "status",
    )
    .await?;
    invalid(
        &co,
        "register_slot",
        json!({"slot": "session-01", "status": "sleeping"}),
        "status",
    )
    .await?;
    invalid(
        &co,
        "plan_wake",
        json!({"adapter": "carrier-pigeon"}),
        "adapter",
    )
    .await?;
    invalid(
        &co,
        "plan_wake",
        json!({"checked_at": "yesterday"}),
        "checked_at",
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "t1", "title": "t", "message": "m"}),
    )
    .await?;
    invalid(
        &co,
        "update_task",
        json!({"task_id": "t1", "status": "finished"}),
        "status",
    )
    .await?;
    invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "  ", "message": "m"}),
        "title",
    )
    .await?;
    invalid(&co, "create_task", json!({"slot": "session-01", "task_id": "t2", "title": "t", "message": "m", "dependency_ids": ["t2"]}), "dependency_ids").await?;
    invalid(&w, "report_commit", json!({"slot": "session-01", "sha": "not-a-sha", "branch": "b", "subject": "s", "changed": []}), "sha").await?;
    let e = refused(
        &co,
        "update_task",
        json!({"task_id": "no-such-task", "status": "done"}),
    )
    .await?;
    assert_eq!(e["code"], json!("not_found"), "{e}");
    assert!(msg(&e).contains("no-such-task"));
    assert!(
        !msg(&e).contains(&env.root.to_string_lossy().into_owned()),
        "no absolute paths leak: {e}"
    );
    alive(&co).await?;

    // An unknown tool is a protocol error from rmcp, which logs it as a
    // warning: asked of a server of its own that logs only errors, so the
    // expected warning stays out of the test output.
    let probe = env.start_expecting_warnings("coordinator").await?;
    let err = call_raw(&probe, "drop_all_tables", json!({}))
        .await
        .err()
        .context("an unknown tool must fail")?;
    assert!(format!("{err:#}").contains("tool not found"), "{err:#}");
    alive(&probe).await?;
    probe.cancel().await?;
    alive(&co).await?;

    // Refused calls wrote nothing: one task.assign (t1) is the whole ledger.
    assert_eq!(ledger_lines(&env), 1);
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_are_refused_and_write_nothing() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;
    call(
        &co,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/session-01"}),
    )
    .await?;
    let w = env.start("session-01").await?;
    let huge = "e".repeat(10 * 1024);

    for bad in [
        "../evil",
        "../../evil",
        "..",
        "a/evil",
        "/evil",
        "evil\u{0}x",
        "evil\u{7}",
        "evil\nx",
        "evil x",
        ".evil",
    ] {
        invalid(
            &co,
            "register_slot",
            json!({"slot": bad, "worktree": "/tmp/x"}),
            "slot",
        )
        .await?;
        invalid(
            &co,
            "send_message",
            json!({"to": bad, "message": "m"}),
            "to",
        )
        .await?;
        invalid(&co, "read_inbox", json!({"slot": bad}), "slot").await?;
        invalid(
            &co,
            "create_task",
            json!({"slot": bad, "title": "t", "message": "m"}),
            "slot",
        )
        .await?;
        invalid(
            &co,
            "create_task",
            json!({"slot": "session-01", "task_id": bad, "title": "t", "message": "m"}),
            "task_id",
        )
        .await?;
        invalid(
            &co,
            "update_task",
            json!({"task_id": bad, "status": "done"}),
            "task_id",
        )
        .await?;
        invalid(
            &co,
            "upsert_milestone",
            json!({"milestone_id": bad}),
            "milestone_id",
        )
        .await?;
        invalid(&co, "upsert_lane", json!({"lane_id": bad}), "lane_id").await?;
        invalid(&co, "record_wake_attempt", json!({"slot": bad}), "slot").await?;
        invalid(
            &co,
            "get_focus_board",
            json!({"viewer_slot": bad}),
            "viewer_slot",
        )
        .await?;
        invalid(&w, "claim_next_task", json!({"slot": bad}), "slot").await?;
        invalid(&w, "record_heartbeat", json!({"slot": bad}), "slot").await?;
        invalid(
            &w,
            "report_commit",
            json!({"slot": "session-01", "task_id": bad, "sha": "abcdef1"}),
            "task_id",
        )
        .await?;
    }
    // `..` inside an otherwise valid id, and ids that would read other files.
    invalid(&co, "update_task", json!({"task_id": "a..b"}), "task_id").await?;
    invalid(
        &co,
        "update_task",
        json!({"task_id": "../registry"}),
        "task_id",
    )
    .await?;
    invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "t", "message": "m", "dependency_ids": ["../evil"]}),
        "dependency_ids",
    )
    .await?;

    // Control characters in text fields.
    let m = invalid(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "bell\u{7}"}),
        "message",
    )
    .await?;
    assert!(m.contains("U+0007"), "{m}");
    invalid(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "m", "subject": "nul\u{0}"}),
        "subject",
    )
    .await?;
    invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "esc\u{1b}[2J", "message": "m"}),
        "title",
    )
    .await?;

    // 10 KB ids: refused with their size, not echoed in full.
    let m = invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": huge, "title": "t", "message": "m"}),
        "task_id",
    )
    .await?;
    assert!(m.contains("10240 bytes"), "{m}");
    invalid(&co, "register_slot", json!({"slot": huge}), "slot").await?;
    invalid(
        &co,
        "send_message",
        json!({"to": huge, "message": "m"}),
        "to",
    )
    .await?;
    invalid(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "m", "task_id": huge}),
        "task_id",
    )
    .await?;
    invalid(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "m", "type": huge}),
        "type",
    )
    .await?;
    invalid(&w, "read_inbox", json!({"slot": huge}), "slot").await?;

    // Nothing was stored: no tasks, no messages, one registered slot.
    assert_eq!(ledger_lines(&env), 0);
    assert_eq!(std::fs::read_dir(env.store().join("tasks"))?.count(), 0);
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        status["slots"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    assert_eq!(status["total_tasks"], json!(0));
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_payloads() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;
    call(
        &co,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/session-01"}),
    )
    .await?;
    let body = "x".repeat(100 * 1024);

    let m = invalid(
        &co,
        "send_message",
        json!({"to": "session-01", "message": body}),
        "message",
    )
    .await?;
    assert!(m.contains("65536") && m.contains("102400"), "{m}");
    let m = invalid(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "m", "payload": {"blob": "y".repeat(70_000)}}),
        "payload",
    )
    .await?;
    assert!(m.contains("65536"), "{m}");
    invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "t", "message": body}),
        "message",
    )
    .await?;
    invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "t".repeat(2_000), "message": "m"}),
        "title",
    )
    .await?;
    invalid(
        &co,
        "record_wake_attempt",
        json!({"slot": "session-01", "result": {"blob": "z".repeat(70_000)}}),
        "result",
    )
    .await?;
    invalid(
        &co,
        "record_summary_pause",
        json!({"summary": body}),
        "summary",
    )
    .await?;
    invalid(
        &co,
        "upsert_milestone",
        json!({"milestone_id": "m1", "description": body}),
        "description",
    )
    .await?;
    // Many small list items.
    let many: Vec<String> = (0..500).map(|i| format!("c{i}")).collect();
    invalid(
        &co,
        "create_task",
        json!({"slot": "session-01", "title": "t", "message": "m", "acceptance_criteria": many}),
        "acceptance_criteria",
    )
    .await?;

    // None of it was stored; a message at the limit still goes through.
    assert_eq!(ledger_lines(&env), 0);
    assert!(walk(&env.store().join("wake")).is_empty());
    let ok = call(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "x".repeat(64 * 1024)}),
    )
    .await?;
    assert_eq!(ok["message"]["seq"], json!(1));
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_cannot_use_coordinator_tools() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;
    let w = env.start("session-01").await?;
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/session-01"}),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "t1", "title": "t", "message": "m"}),
    )
    .await?;
    call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;

    by_rule(
        &w,
        "upsert_milestone",
        json!({"milestone_id": "m1", "title": "mine"}),
        "coordinator_only",
    )
    .await?;
    by_rule(
        &w,
        "upsert_lane",
        json!({"lane_id": "l1", "owner_slot": "session-01"}),
        "coordinator_only",
    )
    .await?;
    by_rule(
        &w,
        "create_task",
        json!({"slot": "session-01", "task_id": "t2", "title": "t", "message": "m"}),
        "coordinator_only",
    )
    .await?;
    by_rule(
        &w,
        "record_summary_pause",
        json!({"summary": "s"}),
        "coordinator_only",
    )
    .await?;
    // A worker moves its own task through active/blocked/reported only.
    for st in ["integrated", "done", "cancelled"] {
        by_rule(
            &w,
            "update_task",
            json!({"task_id": "t1", "status": st}),
            "coordinator_only",
        )
        .await?;
    }

    // Nothing changed: no milestone, lane or second task, no pause marker.
    let board = call(&co, "get_focus_board", json!({})).await?;
    assert!(
        board["milestones"].as_array().is_some_and(Vec::is_empty),
        "{board}"
    );
    assert!(
        board["lanes"]
            .as_array()
            .is_some_and(|l| l.iter().all(|x| x["implicit"] == json!(true))),
        "{board}"
    );
    assert_eq!(board["progress"]["total_tasks"], json!(1));
    assert_eq!(board["progress"]["status_counts"], json!({"active": 1}));
    assert_eq!(
        board["progress"]["summary_pause"]["last_pause_at"],
        Value::Null
    );
    assert_eq!(ledger_lines(&env), 1, "only the task.assign");
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_act_only_for_their_own_slot() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;
    let w1 = env.start("session-01").await?;
    for s in ["session-01", "session-02"] {
        call(
            &co,
            "register_slot",
            json!({"slot": s, "worktree": format!("/tmp/{s}")}),
        )
        .await?;
    }
    call(
        &co,
        "create_task",
        json!({"slot": "session-02", "task_id": "t2", "title": "t", "message": "m"}),
    )
    .await?;

    by_rule(
        &w1,
        "read_inbox",
        json!({"slot": "session-02"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "read_inbox",
        json!({"slot": "session-02", "mark_read": false}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "read_inbox",
        json!({"slot": "coordinator"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "claim_next_task",
        json!({"slot": "session-02"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "record_heartbeat",
        json!({"slot": "session-02", "status": "ok"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "record_heartbeat",
        json!({"slot": "coordinator", "status": "failed"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "report_commit",
        json!({"slot": "session-02", "sha": "abcdef1234567", "branch": "b", "subject": "s", "changed": []}),
        "own_slot_only",
    )
    .await?;
    // Its own slot, but another slot's task.
    by_rule(
        &w1,
        "report_commit",
        json!({"slot": "session-01", "task_id": "t2", "sha": "abcdef1234567", "branch": "b", "subject": "s", "changed": []}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "update_task",
        json!({"task_id": "t2", "status": "active"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "register_slot",
        json!({"slot": "session-02", "focus": "taken over"}),
        "own_slot_only",
    )
    .await?;
    by_rule(
        &w1,
        "record_wake_attempt",
        json!({"slot": "session-02"}),
        "own_slot_only",
    )
    .await?;

    // session-02's state is untouched: task queued and its assign unread,
    // no cursor, heartbeat or report written for it.
    let status = call(&co, "get_status", json!({})).await?;
    let row = status["slots"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["slot"] == json!("session-02")))
        .context("session-02 row")?;
    assert_eq!(row["unread"], json!(1), "{row}");
    assert_eq!(row["current_task_status"], json!("queued"));
    assert_eq!(row["focus"], json!(""));
    assert_eq!(row["heartbeat_status"], Value::Null);
    assert!(!env.store().join("cursors/session-02.json").exists());
    assert!(!env.store().join("cursors/coordinator.json").exists());
    assert!(!env.store().join("heartbeat/session-02.json").exists());
    assert!(walk(&env.store().join("reports")).is_empty());
    assert!(walk(&env.store().join("wake")).is_empty());
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_and_reserved_types() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;
    let w1 = env.start("session-01").await?;
    call(
        &w1,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/session-01"}),
    )
    .await?;

    by_rule(
        &w1,
        "send_message",
        json!({"from": "session-02", "to": "coordinator", "message": "m"}),
        "no_impersonation",
    )
    .await?;
    by_rule(
        &w1,
        "send_message",
        json!({"from": "coordinator", "to": "all", "message": "m"}),
        "no_impersonation",
    )
    .await?;
    // Not even the coordinator may speak for a worker.
    by_rule(
        &co,
        "send_message",
        json!({"from": "session-01", "to": "coordinator", "message": "m"}),
        "no_impersonation",
    )
    .await?;

    for ty in [
        "task.assign",
        "commit_report",
        "coordinator.summary_pause",
        "summary_pause",
    ] {
        for c in [&w1, &co] {
            by_rule(c, "send_message", json!({"to": "session-01", "type": ty, "message": "m", "task_id": "t1", "payload": {"integration_count": 1000}}), "reserved_type").await?;
        }
    }

    // Nothing was written; the pause policy has no forged marker.
    assert_eq!(ledger_lines(&env), 0);
    let plan = call(&co, "plan_wake", json!({})).await?;
    assert_eq!(
        plan["summary"]["coordinator_pause"]["last_pause_integration_count"],
        json!(0)
    );
    // The caller's own identity works.
    let ok = call(
        &w1,
        "send_message",
        json!({"from": "session-01", "to": "coordinator", "type": "task.progress", "message": "m"}),
    )
    .await?;
    assert_eq!(ok["message"]["from"], json!("session-01"));
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_worktree_paths_are_refused() -> anyhow::Result<()> {
    let env = Env::new()?;
    let co = env.start("coordinator").await?;
    let w1 = env.start("session-01").await?;
    for wt in ["relative/wt", "./wt", "../evil-wt", "wt"] {
        invalid(
            &w1,
            "register_slot",
            json!({"slot": "session-01", "worktree": wt}),
            "worktree",
        )
        .await?;
        invalid(
            &co,
            "create_task",
            json!({"slot": "session-01", "title": "t", "message": "m", "worktree": wt}),
            "worktree",
        )
        .await?;
        invalid(
            &w1,
            "report_commit",
            json!({"slot": "session-01", "worktree": wt}),
            "worktree",
        )
        .await?;
        invalid(&w1, "report_commit", json!({"slot": "session-01", "worktree": wt, "sha": "abcdef1", "branch": "b", "subject": "s", "changed": []}), "worktree").await?;
    }
    invalid(
        &w1,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/a\nb"}),
        "worktree",
    )
    .await?;
    // With no registered worktree, git has nowhere to run.
    call(&w1, "register_slot", json!({"slot": "session-01"})).await?;
    invalid(
        &w1,
        "report_commit",
        json!({"slot": "session-01"}),
        "worktree",
    )
    .await?;
    // A worktree that is not a git repository: git's error, not a crash.
    let m = invalid(
        &w1,
        "report_commit",
        json!({"slot": "session-01", "worktree": env.cwd.to_string_lossy()}),
        "worktree",
    )
    .await?;
    assert!(m.contains("git"), "{m}");

    let status = call(&co, "get_status", json!({"slot": "session-01"})).await?;
    assert_eq!(
        status["slots"][0]["worktree"],
        json!(""),
        "no relative worktree was stored: {status}"
    );
    assert_eq!(status["total_tasks"], json!(0));
    assert!(walk(&env.store().join("reports")).is_empty());
    env.check_contained()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_ledger_lines_are_skipped() -> anyhow::Result<()> {
    // This case damages the ledger on purpose: its servers warn about the
    // lines they skip, so they log only errors.
    let env = Env::new()?;
    let co = env.start_expecting_warnings("coordinator").await?;
    let w1 = env.start_expecting_warnings("session-01").await?;
    call(
        &w1,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/session-01"}),
    )
    .await?;
    let ledger = ledger_file(&env.root);
    let append = |bytes: &[u8]| -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new().append(true).open(&ledger)?;
        f.write_all(bytes)?;
        Ok(())
    };
    let send = |n: u32| json!({"to": "session-01", "subject": format!("m{n}"), "message": format!("message {n}")});

    let mut ids = Vec::new();
    for n in 1..=2 {
        ids.push(call(&co, "send_message", send(n)).await?["message"]["id"].clone());
    }
    // A corrupt line (another tool's garbage), then more good lines after it:
    // the corrupt line ends up in the middle of the ledger.
    let corrupt =
        b"{\"seq\":3,\"id\":\"msg_broken\",\"type\":\"message\",\"to\":\"session-01\" GARBAGE";
    append(corrupt)?;
    append(b"\n")?;
    ids.push(call(&co, "send_message", send(3)).await?["message"]["id"].clone());
    // A torn last line: a writer died mid-line, no newline.
    let torn = b"{\"seq\":99,\"id\":\"msg_torn\",\"type\":\"message\",\"from\":\"coordinator\",\"to\":\"sess";
    append(torn)?;

    // Every call keeps working and skips the damaged lines.
    let status = call(&co, "get_status", json!({})).await?;
    let unread = |s: &Value| s["slots"][1]["unread"].clone();
    assert_eq!(unread(&status), json!(3), "{status}");
    let peek = call(
        &w1,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    let seqs: Vec<Value> = peek["messages"]
        .as_array()
        .context("messages")?
        .iter()
        .map(|m| m["seq"].clone())
        .collect();
    assert_eq!(seqs, [json!(1), json!(2), json!(3)], "{peek}");
    call(&co, "plan_wake", json!({})).await?;
    call(&co, "get_focus_board", json!({})).await?;
    call(&co, "read_inbox", json!({"slot": "coordinator"})).await?;

    // A send after the torn line: the fragment becomes its own (skipped)
    // line and the new message is whole, with the next seq.
    let sent = call(&co, "send_message", send(4)).await?;
    assert_eq!(
        sent["message"]["seq"],
        json!(4),
        "damaged lines do not count as seqs: {sent}"
    );
    ids.push(sent["message"]["id"].clone());
    let created = call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "after-damage", "title": "t", "message": "m"}),
    )
    .await?;
    assert_eq!(created["message"]["seq"], json!(5));
    ids.push(created["message"]["id"].clone());

    let bytes = std::fs::read(&ledger)?;
    assert!(bytes.ends_with(b"\n"), "the ledger ends with a whole line");
    let lines: Vec<&[u8]> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), 7, "2 good, corrupt, 1 good, torn, 2 good");
    assert_eq!(lines[2], &corrupt[..], "the corrupt line is kept as it was");
    assert_eq!(
        lines[4],
        &torn[..],
        "the torn fragment is its own line, nothing appended to it"
    );
    let mut good = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        match serde_json::from_slice::<Value>(l) {
            Ok(v) => good.push(v),
            Err(_) => assert!(
                i == 2 || i == 4,
                "line {i} should be whole: {}",
                String::from_utf8_lossy(l)
            ),
        }
    }
    let good_ids: Vec<Value> = good.iter().map(|v| v["id"].clone()).collect();
    assert_eq!(good_ids, ids, "no message was lost");
    let good_seqs: Vec<Value> = good.iter().map(|v| v["seq"].clone()).collect();
    assert_eq!(
        good_seqs,
        [json!(1), json!(2), json!(3), json!(4), json!(5)]
    );

    // Reading and claiming work across the damage.
    let read = call(
        &w1,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    assert_eq!(read["unread_count"], json!(5), "{read}");
    let claim = call(&w1, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(claim["task"]["task_id"], json!("after-damage"));
    assert_eq!(claim["messages"][0]["seq"], json!(5));
    let read = call(&w1, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(read["returned"], json!(4));

    // A lost index is rebuilt from the ledger, damage and all.
    std::fs::remove_file(env.store().join("index/ledger.json"))?;
    let fresh = env.start_expecting_warnings("session-01").await?;
    assert_eq!(
        call(
            &fresh,
            "read_inbox",
            json!({"slot": "session-01", "mark_read": false})
        )
        .await?["unread_count"],
        json!(0)
    );
    let sent = call(&co, "send_message", send(6)).await?;
    assert_eq!(sent["message"]["seq"], json!(6));
    let read = call(&fresh, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(read["returned"], json!(1));
    assert_eq!(read["messages"][0]["seq"], json!(6));
    alive(&co).await?;
    env.check_contained()
}
