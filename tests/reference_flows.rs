//! The reference's end-to-end flows (spec §8), driven through real
//! `codenator-mcp` processes: one coordinator process and one process per
//! worker slot, all on the same temporary root.
//!
//! Where a fix of ours (spec §7, §9) changes what the reference did, the
//! step says so and asserts the fixed behaviour.

use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use test_support::{Client, TempDir, call, connect, git, refused, row, temp_dir, temp_root};

/// A git repository with two commits on branch `feat/one`; returns it and
/// the HEAD sha.
fn git_worktree() -> anyhow::Result<(TempDir, String)> {
    let dir = temp_dir("codenator-wt-");
    let wt = dir.path();
    git(wt, &["init", "-q", "-b", "feat/one"]);
    std::fs::write(wt.join("README.md"), "first\n")?;
    git(wt, &["add", "README.md"]);
    git(wt, &["commit", "-q", "-m", "init"]);
    std::fs::write(wt.join("README.md"), "first\nsecond\n")?;
    std::fs::create_dir_all(wt.join("src"))?;
    std::fs::write(wt.join("src/lib.rs"), "pub fn answer() -> u32 { 42 }\n")?;
    git(wt, &["add", "README.md", "src/lib.rs"]);
    git(
        wt,
        &[
            "commit",
            "-q",
            "-m",
            "memory: add lib",
            "-m",
            "Body of the commit.",
        ],
    );
    let head = git(wt, &["rev-parse", "HEAD"]);
    Ok((dir, head))
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn action<'a>(plan: &'a Value, slot: &str) -> &'a Value {
    row(&plan["actions"], slot)
}

async fn status_row(c: &Client, slot: &str) -> anyhow::Result<Value> {
    let s = call(c, "get_status", json!({})).await?;
    Ok(row(&s["slots"], slot).clone())
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Spec §8 "codextrator-mcp.test.js", 18 steps (plus what our fixes add).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_mcp_flow() -> anyhow::Result<()> {
    let root = temp_root();
    let (wt, head) = git_worktree()?;
    let wt_path = path_str(wt.path());
    let co = connect(root.path(), "coordinator").await?;
    let w = connect(root.path(), "session-01").await?;

    // 1. initialize → serverInfo.name.
    let info = co.peer_info().context("no initialize result")?;
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("auralis-codenator")
    );

    // 2. tools/list: the reference's 15 tools.
    let tools = co.list_all_tools().await?;
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for n in [
        "get_status",
        "register_slot",
        "send_message",
        "read_inbox",
        "get_focus_board",
        "upsert_milestone",
        "upsert_lane",
        "create_task",
        "claim_next_task",
        "update_task",
        "report_commit",
        "record_heartbeat",
        "plan_wake",
        "record_summary_pause",
        "record_wake_attempt",
    ] {
        assert!(
            names.iter().any(|x| x == n),
            "tool {n} missing from {names:?}"
        );
    }
    // The reference's 15, and get_task, list_tasks and
    // requeue_expired_leases (issue 7).
    for n in ["get_task", "list_tasks", "requeue_expired_leases"] {
        assert!(
            names.iter().any(|x| x == n),
            "tool {n} missing from {names:?}"
        );
    }
    // The background job tools (issue 9).
    for n in [
        "dispatch_job",
        "list_jobs",
        "job_status",
        "job_output",
        "send_to_job",
        "cancel_job",
    ] {
        assert!(
            names.iter().any(|x| x == n),
            "tool {n} missing from {names:?}"
        );
    }
    assert_eq!(names.len(), 24, "{names:?}");

    // 3. register_slot, record_heartbeat, upsert_milestone, upsert_lane,
    //    create_task. Ours: the worker registers and heartbeats for itself;
    //    the backlog tools run in the coordinator's process (workers are
    //    refused, see tests/bad_input.rs).
    let reg = call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "project": "demo", "focus": "memory work", "worktree": wt_path, "branch": "feat/one"}),
    )
    .await?;
    assert_eq!(reg["slot"]["worktree"], json!(wt_path));
    assert_eq!(reg["slot"]["identity"], json!("developer"));
    let hb = call(
        &w,
        "record_heartbeat",
        json!({"slot": "session-01", "status": "ok"}),
    )
    .await?;
    assert_eq!(hb["heartbeat"]["status"], json!("ok"));
    assert_eq!(hb["slot_registered"], json!(true));
    let m = call(
        &co,
        "upsert_milestone",
        json!({"milestone_id": "m-mcp", "title": "MCP milestone", "order": 1}),
    )
    .await?;
    assert_eq!(m["milestone"]["milestone_id"], json!("m-mcp"));
    assert_eq!(m["milestone"]["status"], json!("planned"));
    let l = call(
        &co,
        "upsert_lane",
        json!({"lane_id": "memory", "title": "Memory lane", "owner_slot": "session-01", "project": "demo"}),
    )
    .await?;
    assert_eq!(l["lane"]["owner_slot"], json!("session-01"));
    let created = call(
        &co,
        "create_task",
        json!({
            "slot": "session-01", "task_id": "mcp-task-1", "title": "MCP task", "message": "Do the MCP work",
            "milestone_id": "m-mcp", "lane_id": "memory",
            "acceptance_criteria": ["tests pass"], "required_receipts": ["commit sha"],
        }),
    )
    .await?;
    assert_eq!(created["task"]["status"], json!("queued"));
    assert_eq!(
        created["task"]["worktree"],
        json!(wt_path),
        "defaults from the registry"
    );
    assert_eq!(created["message"]["type"], json!("task.assign"));
    assert_eq!(created["message"]["from"], json!("coordinator"));

    // 4. get_status.
    let r = status_row(&co, "session-01").await?;
    assert_eq!(r["unread"], json!(1), "{r}");
    assert_eq!(r["current_task_id"], json!("mcp-task-1"));
    assert_eq!(r["current_task_status"], json!("queued"));
    assert_eq!(r["thread_id"], Value::Null);
    assert_eq!(r["app_server_thread_id"], Value::Null);

    // 5. plan_wake (window 60): WAKE, wake_slot, not safe, dry-run request.
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    assert_eq!(plan["decision"], json!("WAKE"), "{plan}");
    let a = action(&plan, "session-01");
    assert_eq!(a["action"], json!("wake_slot"), "{a}");
    assert_eq!(a["reason"], json!("task_inbox_unread"));
    assert_eq!(a["safe_to_assign"], json!(false));
    assert!(text(&a["prompt"]).contains("claim_next_task"), "{a}");
    assert_eq!(a["adapter_request"]["mode"], json!("dry-run"));

    // 6. plan_wake codex-app-server without a thread id.
    let plan = call(
        &co,
        "plan_wake",
        json!({"heartbeat_max_minutes": 60, "adapter": "codex-app-server"}),
    )
    .await?;
    let req = &action(&plan, "session-01")["adapter_request"];
    assert_eq!(req["adapter"], json!("codex-app-server"), "{req}");
    assert_eq!(req["requires"], json!(["app_server_thread_id"]));
    assert_eq!(req["method"], json!("turn/start"));

    // 7. register_slot with app-server thread and url.
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "app_server_thread_id": "thread-mcp-1", "app_server_url": "ws://127.0.0.1:4575"}),
    )
    .await?;
    let r = status_row(&co, "session-01").await?;
    assert_eq!(r["app_server_thread_id"], json!("thread-mcp-1"));
    assert_eq!(r["app_server_url"], json!("ws://127.0.0.1:4575"));
    assert_eq!(r["worktree"], json!(wt_path), "earlier fields are kept");

    // 8. plan_wake codex-app-server: ready.
    let plan = call(
        &co,
        "plan_wake",
        json!({"heartbeat_max_minutes": 60, "adapter": "codex-app-server"}),
    )
    .await?;
    let a = action(&plan, "session-01");
    let req = &a["adapter_request"];
    assert_eq!(req["mode"], json!("ready"), "{req}");
    assert_eq!(req["params"]["threadId"], json!("thread-mcp-1"));
    assert_eq!(
        req["params"]["input"],
        json!([{"type": "text", "text": a["prompt"]}])
    );

    // 9. get_focus_board as session-01.
    let board = call(&w, "get_focus_board", json!({"viewer_slot": "session-01"})).await?;
    assert_eq!(
        board["board"]["name"],
        json!("Auralis Codenator Focus Board")
    );
    assert_eq!(board["visibility"]["role"], json!("worker"));
    assert_eq!(board["visibility"]["own_task_ids"], json!(["mcp-task-1"]));
    assert_eq!(board["milestones"][0]["milestone_id"], json!("m-mcp"));
    let lane = board["lanes"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["lane_id"] == json!("memory")))
        .context("lane memory")?;
    assert_eq!(lane["owner_slot"], json!("session-01"));
    assert_eq!(
        board["tasks"][0]["required_receipts"][0],
        json!("commit sha")
    );

    // 10. record_wake_attempt echoes slot and status.
    let att = call(
        &co,
        "record_wake_attempt",
        json!({"slot": "session-01", "action": "wake_slot", "adapter": "codex-app-server", "status": "dry_run", "reason": "mcp test"}),
    )
    .await?;
    assert_eq!(att["attempt"]["slot"], json!("session-01"));
    assert_eq!(att["attempt"]["status"], json!("dry_run"));
    let wake_files = std::fs::read_dir(root.path().join(".auralis-codextrator/wake"))?.count();
    assert_eq!(wake_files, 1);

    // 11. read_inbox mark_read=false.
    let inbox = call(
        &w,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    assert_eq!(inbox["unread_count"], json!(1), "{inbox}");
    assert_eq!(inbox["marked_read"], json!(false));
    assert_eq!(inbox["messages"][0]["type"], json!("task.assign"));
    assert_eq!(inbox["messages"][0]["task_id"], json!("mcp-task-1"));
    let assign_seq = inbox["messages"][0]["seq"].clone();

    // 12. claim_next_task → active; ours returns only the consumed task.assign.
    let claim = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(claim["claimed"], json!(true), "{claim}");
    assert_eq!(claim["task"]["task_id"], json!("mcp-task-1"));
    assert_eq!(claim["task"]["status"], json!("active"));
    assert!(claim["task"]["started_at"].is_string());
    assert_eq!(
        claim["messages"].as_array().map(Vec::len),
        Some(1),
        "{claim}"
    );
    assert_eq!(claim["messages"][0]["seq"], assign_seq);
    assert_eq!(claim["messages"][0]["task_id"], json!("mcp-task-1"));
    assert_eq!(
        claim["active_task_ids"],
        json!([]),
        "computed before this claim"
    );

    // 13. get_status → unread 0, active.
    let r = status_row(&co, "session-01").await?;
    assert_eq!(r["unread"], json!(0), "{r}");
    assert_eq!(r["current_task_status"], json!("active"));

    // 14. report_commit with explicit metadata (ours also takes task_id).
    let rep = call(
        &w,
        "report_commit",
        json!({
            "slot": "session-01", "task_id": "mcp-task-1", "sha": head, "branch": "feat/one",
            "subject": "memory: add lib", "changed": ["M\tREADME.md", "A\tsrc/lib.rs"], "worktree": wt_path,
        }),
    )
    .await?;
    assert_eq!(rep["already_reported"], json!(false), "{rep}");
    assert_eq!(rep["report"]["sha"], json!(head));
    assert_eq!(rep["report"]["task_id"], json!("mcp-task-1"));
    assert_eq!(rep["task"]["status"], json!("reported"));
    assert_eq!(rep["message"]["type"], json!("commit_report"));
    assert_eq!(rep["message"]["to"], json!("coordinator"));
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        row(&status["slots"], "coordinator")["unread"],
        json!(1),
        "{status}"
    );
    assert_eq!(
        row(&status["slots"], "session-01")["current_task_status"],
        json!("reported")
    );
    // Ours: reporting the same commit again (here with no metadata at all,
    // so git reads HEAD of the slot's registered worktree) is a no-op; the
    // reference sent a second commit_report.
    let again = call(&w, "report_commit", json!({"slot": "session-01"})).await?;
    assert_eq!(again["already_reported"], json!(true), "{again}");
    assert_eq!(again["message"], Value::Null);
    assert_eq!(again["report"]["sha"], json!(head));
    assert_eq!(
        status_row(&co, "coordinator").await?["unread"],
        json!(1),
        "no second message"
    );

    // 15. plan_wake → NOTIFY with coordinator_inbox.
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    assert_eq!(plan["decision"], json!("NOTIFY"), "{plan}");
    let a = action(&plan, "coordinator");
    assert_eq!(a["action"], json!("coordinator_inbox"));
    assert_eq!(a["notify"], json!(true));
    assert_eq!(
        action(&plan, "session-01")["action"],
        json!("await_integration")
    );

    // 16. read_inbox coordinator → one commit_report.
    let inbox = call(&co, "read_inbox", json!({"slot": "coordinator"})).await?;
    assert_eq!(
        inbox["messages"].as_array().map(Vec::len),
        Some(1),
        "{inbox}"
    );
    assert_eq!(inbox["messages"][0]["type"], json!("commit_report"));
    assert_eq!(inbox["messages"][0]["payload"]["sha"], json!(head));
    assert_eq!(inbox["marked_read"], json!(true));
    assert_eq!(status_row(&co, "coordinator").await?["unread"], json!(0));

    // 17. update_task integrated + commit → pointer cleared.
    let up = call(
        &co,
        "update_task",
        json!({"task_id": "mcp-task-1", "status": "integrated", "commit": head}),
    )
    .await?;
    assert_eq!(up["task"]["status"], json!("integrated"));
    assert!(up["task"]["integrated_at"].is_string());
    // Issue 7, defect 5: with nothing open, the slot has no current task
    // (id and status both null, where the reference said "integrated" for
    // a null id); what it did last is `last_task_*`.
    assert_eq!(up["slot_current_task_id"], Value::Null);
    assert_eq!(up["slot_current_task_status"], Value::Null);
    let r = status_row(&co, "session-01").await?;
    assert_eq!(r["current_task_id"], Value::Null);
    assert_eq!(r["current_task_status"], Value::Null);
    assert_eq!(r["last_task_id"], json!("mcp-task-1"));
    assert_eq!(r["last_task_status"], json!("integrated"));

    // 18. record_summary_pause → marker; integrated 1, since 0.
    let pause = call(
        &co,
        "record_summary_pause",
        json!({"summary": "MCP flow summary"}),
    )
    .await?;
    assert_eq!(pause["marker"]["type"], json!("coordinator.summary_pause"));
    assert_eq!(pause["marker"]["from"], json!("coordinator"));
    assert_eq!(pause["marker"]["payload"]["integration_count"], json!(1));
    assert_eq!(pause["policy"]["integrated_count"], json!(1));
    assert_eq!(pause["policy"]["integrations_since_pause"], json!(0));

    // Ours (§7.6 planWakeAction): a queued task whose task.assign was already
    // read is `wake_slot` / task_queued_unclaimed, not idle_healthy ...
    call(&co, "create_task", json!({"slot": "session-01", "task_id": "mcp-task-2", "title": "Second", "message": "More"})).await?;
    let inbox = call(&w, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(inbox["messages"][0]["task_id"], json!("mcp-task-2"));
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    let a = action(&plan, "session-01");
    assert_eq!(a["action"], json!("wake_slot"), "{a}");
    assert_eq!(a["reason"], json!("task_queued_unclaimed"));
    assert_eq!(a["safe_to_assign"], json!(false));
    // ... and a blocked task is `task_blocked`, never idle_healthy.
    let up = call(
        &w,
        "update_task",
        json!({"task_id": "mcp-task-2", "blocker": "needs a schema decision"}),
    )
    .await?;
    assert_eq!(up["task"]["status"], json!("blocked"));
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    let a = action(&plan, "session-01");
    assert_eq!(a["action"], json!("task_blocked"), "{a}");
    assert_eq!(a["notify"], json!(true));
    assert_eq!(a["safe_to_assign"], json!(false));
    assert_eq!(plan["decision"], json!("NOTIFY"));
    assert_eq!(plan["safety"]["can_assign_new_work"], json!(false));
    Ok(())
}

/// Spec §8 "codextrator-focus-board.test.js", 7 steps, through MCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn focus_board_flow() -> anyhow::Result<()> {
    let root = temp_root();
    let co = connect(root.path(), "coordinator").await?;
    let w2 = connect(root.path(), "session-02").await?;
    let w4 = connect(root.path(), "session-04").await?;

    // 1. Two workers register; upsert_milestone returns the given id.
    for (c, slot, focus) in [
        (&w2, "session-02", "process"),
        (&w4, "session-04", "catalog"),
    ] {
        call(
            c,
            "register_slot",
            json!({"slot": slot, "project": "shop", "focus": focus, "worktree": format!("/tmp/{slot}-wt"), "branch": focus}),
        )
        .await?;
        call(c, "record_heartbeat", json!({"slot": slot, "status": "ok"})).await?;
    }
    let m = call(
        &co,
        "upsert_milestone",
        json!({"milestone_id": "m-launch", "title": "Launch", "order": 1}),
    )
    .await?;
    assert_eq!(m["milestone"]["milestone_id"], json!("m-launch"));

    // 2. Lanes with owners; two tasks, catalog depending on process.
    call(
        &co,
        "upsert_lane",
        json!({"lane_id": "process", "title": "Process", "owner_slot": "session-02"}),
    )
    .await?;
    call(
        &co,
        "upsert_lane",
        json!({"lane_id": "catalog", "title": "Catalog", "owner_slot": "session-04"}),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({
            "slot": "session-02", "task_id": "task-process-1", "title": "Process orders", "message": "Build the order process",
            "milestone_id": "m-launch", "lane_id": "process",
            "acceptance_criteria": ["orders flow"], "required_receipts": ["commit", "tests"],
        }),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({
            "slot": "session-04", "task_id": "task-catalog-1", "title": "Catalog", "message": "Build the catalog",
            "milestone_id": "m-launch", "lane_id": "catalog", "dependency_ids": ["task-process-1"],
            "acceptance_criteria": "items listed, prices shown", "required_receipts": ["commit"],
        }),
    )
    .await?;

    // 3. process → integrated (abc123, tests); catalog → active. Ours: the
    //    dependency is honoured, so catalog cannot be claimed before process
    //    is integrated (the reference stored dependencies without checking).
    let early = call(&w4, "claim_next_task", json!({"slot": "session-04"})).await?;
    assert_eq!(early["claimed"], json!(false), "{early}");
    assert_eq!(early["task"], Value::Null);
    assert_eq!(
        early["waiting_on_dependencies"][0]["task_id"],
        json!("task-catalog-1")
    );
    assert_eq!(
        early["waiting_on_dependencies"][0]["waiting_on"],
        json!(["task-process-1"])
    );
    let claim = call(&w2, "claim_next_task", json!({"slot": "session-02"})).await?;
    assert_eq!(claim["task"]["task_id"], json!("task-process-1"));
    let up = call(
        &co,
        "update_task",
        json!({"task_id": "task-process-1", "status": "integrated", "commit": "abc123", "tests": ["cargo test", "smoke"]}),
    )
    .await?;
    assert_eq!(up["task"]["tests"], json!(["cargo test", "smoke"]));
    let claim = call(&w4, "claim_next_task", json!({"slot": "session-04"})).await?;
    assert_eq!(claim["claimed"], json!(true), "{claim}");
    assert_eq!(claim["task"]["task_id"], json!("task-catalog-1"));
    assert_eq!(claim["task"]["status"], json!("active"));

    // 4. Coordinator snapshot.
    let snap = call(&co, "get_focus_board", json!({})).await?;
    assert_eq!(
        snap["board"]["name"],
        json!("Auralis Codenator Focus Board")
    );
    assert_eq!(snap["visibility"]["role"], json!("coordinator"));
    assert_eq!(snap["visibility"]["can_manage_backlog"], json!(true));
    assert_eq!(
        snap["progress"]["status_counts"],
        json!({"integrated": 1, "active": 1})
    );
    assert_eq!(
        snap["progress"]["summary_pause"]["integrated_count"],
        json!(1)
    );
    assert_eq!(snap["progress"]["summary_pause"]["due"], json!(false));
    let first = &snap["milestones"][0];
    assert_eq!(first["milestone_id"], json!("m-launch"));
    assert_eq!(first["task_counts"]["integrated"], json!(1), "{first}");
    assert_eq!(first["task_counts"]["active"], json!(1));
    let lane = snap["lanes"]
        .as_array()
        .and_then(|a| a.iter().find(|l| l["lane_id"] == json!("process")))
        .context("lane process")?;
    assert_eq!(lane["owner_slot"], json!("session-02"));
    let assignment = snap["assignments"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["slot"] == json!("session-02")))
        .context("assignment session-02")?;
    // Nothing open: no current task; the last one was integrated (issue 7, defect 5).
    assert_eq!(assignment["current_task_id"], Value::Null);
    assert_eq!(assignment["current_task_status"], Value::Null);
    assert_eq!(assignment["last_task_status"], json!("integrated"));
    let receipt = snap["integration_receipts"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["task_id"] == json!("task-process-1")))
        .context("receipt for task-process-1")?;
    assert_eq!(receipt["commit"], json!("abc123"));
    assert_eq!(receipt["lane_id"], json!("process"));

    // 5. Worker snapshot (session-04, from its own process).
    let view = call(&w4, "get_focus_board", json!({})).await?;
    assert_eq!(view["visibility"]["viewer_slot"], json!("session-04"));
    assert_eq!(view["visibility"]["role"], json!("worker"));
    assert_eq!(view["visibility"]["can_manage_backlog"], json!(false));
    assert_eq!(
        view["visibility"]["own_task_ids"],
        json!(["task-catalog-1"])
    );
    let tasks = view["tasks"].as_array().context("tasks")?;
    assert_eq!(tasks.len(), 2);
    let cat = tasks
        .iter()
        .find(|t| t["task_id"] == json!("task-catalog-1"))
        .context("catalog")?;
    assert_eq!(cat["dependencies"][0], json!("task-process-1"));
    assert_eq!(
        cat["acceptance_criteria"],
        json!(["items listed", "prices shown"])
    );
    let proc_ = tasks
        .iter()
        .find(|t| t["task_id"] == json!("task-process-1"))
        .context("process")?;
    assert_eq!(
        proc_["status"],
        json!("integrated"),
        "workers see other slots' progress"
    );

    // 6. 34 more integrations (35 in all) → PAUSE.
    for i in 0..34 {
        let id = format!("bulk-{i:02}");
        call(&co, "create_task", json!({"slot": "session-02", "task_id": id, "title": id, "message": "bulk", "milestone_id": "m-launch", "lane_id": "process"})).await?;
        call(
            &co,
            "update_task",
            json!({"task_id": id, "status": "integrated", "commit": format!("c0ffee{i:02}")}),
        )
        .await?;
        if i == 28 {
            // 30 integrations: the warning band.
            let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
            let p = &plan["summary"]["coordinator_pause"];
            assert_eq!(p["integrations_since_pause"], json!(30), "{p}");
            assert_eq!(p["warning"], json!(true));
            assert_eq!(p["action"], json!("prepare_summary_pause"));
            assert_ne!(plan["decision"], json!("PAUSE"));
        }
    }
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    assert_eq!(plan["decision"], json!("PAUSE"), "{plan}");
    assert_eq!(
        plan["summary"]["coordinator_pause"]["integrations_since_pause"],
        json!(35)
    );
    assert_eq!(plan["summary"]["coordinator_pause"]["due"], json!(true));
    assert_eq!(plan["summary"]["wake"], json!(0));
    assert_eq!(plan["safety"]["can_assign_new_work"], json!(false));
    assert_eq!(
        action(&plan, "coordinator")["action"],
        json!("coordinator_summary_pause")
    );
    assert!(text(&action(&plan, "coordinator")["prompt"]).contains("record_summary_pause"));
    assert_eq!(
        action(&plan, "session-02")["action"],
        json!("summary_pause_hold")
    );
    assert_eq!(
        action(&plan, "session-04")["action"],
        json!("summary_pause_hold")
    );
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        status["summary_pause"],
        json!({"integrated_count": 35, "due": true})
    );

    // Ours: the pause is the coordinator's, and a marker cannot run ahead
    // of the integrated count (the reference let one inflated marker switch
    // pauses off for good).
    let e = refused(&w2, "record_summary_pause", json!({"summary": "not mine"})).await?;
    assert_eq!(e["rule"], json!("coordinator_only"), "{e}");
    let e = refused(
        &co,
        "record_summary_pause",
        json!({"integration_count": 36}),
    )
    .await?;
    assert_eq!(e["code"], json!("invalid_argument"), "{e}");
    assert!(text(&e["message"]).contains("integration_count"), "{e}");
    assert_eq!(
        call(&co, "plan_wake", json!({})).await?["decision"],
        json!("PAUSE"),
        "refusals change nothing"
    );

    // 7. record_summary_pause → marker, since 0, next plan not PAUSE.
    let pause = call(
        &co,
        "record_summary_pause",
        json!({"summary": "35 integrations: launch milestone moving"}),
    )
    .await?;
    assert_eq!(pause["marker"]["type"], json!("coordinator.summary_pause"));
    assert_eq!(pause["marker"]["payload"]["integration_count"], json!(35));
    assert_eq!(
        pause["marker"]["payload"]["integrations_since_pause"],
        json!(35)
    );
    assert_eq!(pause["policy"]["integrations_since_pause"], json!(0));
    assert_eq!(pause["policy"]["due"], json!(false));
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    assert_ne!(plan["decision"], json!("PAUSE"), "{plan}");
    assert_eq!(plan["decision"], json!("WAKE"));
    assert_eq!(
        action(&plan, "session-04")["action"],
        json!("continue_task")
    );
    // session-02 still has the 34 bulk task.assign messages unread.
    assert_eq!(action(&plan, "session-02")["action"], json!("wake_slot"));
    assert_eq!(
        action(&plan, "session-02")["reason"],
        json!("slot_inbox_unread")
    );
    let inbox = call(
        &w2,
        "read_inbox",
        json!({"slot": "session-02", "limit": 200}),
    )
    .await?;
    assert_eq!(inbox["returned"], json!(34), "{inbox}");
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    assert_eq!(action(&plan, "session-02")["action"], json!("idle_healthy"));
    assert_eq!(action(&plan, "session-02")["safe_to_assign"], json!(true));
    // Ours: markers are monotonic.
    let e = refused(
        &co,
        "record_summary_pause",
        json!({"integration_count": 10}),
    )
    .await?;
    assert_eq!(e["rule"], json!("pause_monotonic"), "{e}");
    Ok(())
}

/// Ours (spec §4.4 fixed): a per-slot queue. Claims come one at a time in
/// order, a dependent task waits for its dependency's integration, and the
/// slot's other messages stay unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_queue_with_dependency() -> anyhow::Result<()> {
    let root = temp_root();
    let (wt, head) = git_worktree()?;
    let wt_path = path_str(wt.path());
    let co = connect(root.path(), "coordinator").await?;
    let w = connect(root.path(), "session-01").await?;
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "project": "demo", "focus": "queue", "worktree": wt_path, "branch": "feat/one"}),
    )
    .await?;
    call(&w, "record_heartbeat", json!({"slot": "session-01"})).await?;

    // A plain message first, then three tasks; q3 depends on q1.
    let hello = call(
        &co,
        "send_message",
        json!({"to": "session-01", "subject": "hello", "message": "read me later"}),
    )
    .await?;
    let hello_seq = hello["message"]["seq"].clone();
    for (id, deps) in [("q1", json!([])), ("q2", json!([])), ("q3", json!(["q1"]))] {
        let t = call(
            &co,
            "create_task",
            json!({"slot": "session-01", "task_id": id, "title": format!("Task {id}"), "message": format!("do {id}"), "dependency_ids": deps}),
        )
        .await?;
        assert_eq!(t["task"]["status"], json!("queued"));
    }
    // Ours: an existing task id is refused, not overwritten.
    let e = refused(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "q1", "title": "again", "message": "again"}),
    )
    .await?;
    assert_eq!(e["rule"], json!("task_id_exists"), "{e}");
    let inbox = call(
        &w,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    assert_eq!(inbox["unread_count"], json!(4), "{inbox}");

    // Claim 1 → q1, consuming only q1's task.assign.
    let c1 = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(c1["claimed"], json!(true), "{c1}");
    assert_eq!(c1["task"]["task_id"], json!("q1"));
    assert_eq!(c1["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(c1["messages"][0]["task_id"], json!("q1"));
    // Claim 2 → q2 (q3 still waits for q1).
    let c2 = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(c2["task"]["task_id"], json!("q2"), "{c2}");
    assert_eq!(c2["messages"][0]["task_id"], json!("q2"));
    assert_eq!(c2["active_task_ids"], json!(["q1"]));
    // Claim 3 → nothing: q3 waits on q1.
    let c3 = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(c3["claimed"], json!(false), "{c3}");
    assert_eq!(c3["task"], Value::Null);
    assert_eq!(c3["messages"], json!([]));
    assert_eq!(
        c3["waiting_on_dependencies"],
        json!([{"task_id": "q3", "waiting_on": ["q1"]}])
    );
    let mut active: Vec<String> = c3["active_task_ids"]
        .as_array()
        .context("active ids")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    active.sort();
    assert_eq!(active, ["q1", "q2"]);

    // The plain message (and q3's task.assign) are still unread.
    let inbox = call(
        &w,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    assert_eq!(inbox["unread_count"], json!(2), "{inbox}");
    assert_eq!(inbox["messages"][0]["seq"], hello_seq);
    assert_eq!(inbox["messages"][0]["subject"], json!("hello"));
    assert_eq!(inbox["messages"][1]["type"], json!("task.assign"));
    assert_eq!(inbox["messages"][1]["task_id"], json!("q3"));

    // q1 is reported (git metadata read from the registered worktree, as
    // task_id says which task the commit finishes) and integrated.
    let rep = call(
        &w,
        "report_commit",
        json!({"slot": "session-01", "task_id": "q1"}),
    )
    .await?;
    assert_eq!(rep["report"]["sha"], json!(head), "{rep}");
    assert_eq!(rep["report"]["branch"], json!("feat/one"));
    assert_eq!(rep["report"]["subject"], json!("memory: add lib"));
    assert_eq!(rep["report"]["body"], json!("Body of the commit."));
    assert_eq!(rep["report"]["worktree"], json!(wt_path));
    assert_eq!(
        rep["report"]["changed"],
        json!(["M\tREADME.md", "A\tsrc/lib.rs"])
    );
    assert_eq!(rep["task"]["task_id"], json!("q1"));
    assert_eq!(rep["task"]["status"], json!("reported"));
    // Still not claimable: reported is not integrated.
    let c = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(c["claimed"], json!(false), "{c}");
    call(
        &co,
        "update_task",
        json!({"task_id": "q1", "status": "integrated", "commit": head}),
    )
    .await?;

    // Now q3 is claimable.
    let c4 = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(c4["claimed"], json!(true), "{c4}");
    assert_eq!(c4["task"]["task_id"], json!("q3"));
    assert_eq!(c4["messages"][0]["task_id"], json!("q3"));
    assert_eq!(c4["waiting_on_dependencies"], json!([]));
    // Nothing left to claim.
    let c5 = call(&w, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(c5["claimed"], json!(false));

    // Only the plain message is unread; reading it empties the inbox.
    let inbox = call(&w, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(inbox["returned"], json!(1), "{inbox}");
    assert_eq!(inbox["messages"][0]["seq"], hello_seq);
    assert_eq!(inbox["remaining_unread"], json!(0));
    assert_eq!(
        call(&w, "read_inbox", json!({"slot": "session-01"})).await?["unread_count"],
        json!(0)
    );

    // The slot works on q2 and q3; status shows them as open tasks.
    let status = call(&co, "get_status", json!({"slot": "session-01"})).await?;
    let open: Vec<&Value> = status["open_tasks"]["tasks"]
        .as_array()
        .context("open")?
        .iter()
        .collect();
    assert_eq!(open.len(), 2, "{status}");
    assert!(open.iter().all(|t| t["status"] == json!("active")));
    assert_eq!(status["task_counts"], json!({"active": 2, "integrated": 1}));
    let plan = call(&co, "plan_wake", json!({"heartbeat_max_minutes": 60})).await?;
    assert_eq!(
        action(&plan, "session-01")["action"],
        json!("continue_task")
    );
    Ok(())
}
