//! Issue 7 ("a typed ledger core"): the defects it lists and the two tools
//! it adds, each through real `codenator-mcp` processes over stdio.
//!
//! - A ledger rewritten in place (same inode) never hides a message: the
//!   inbox index is checked against the ledger and read around until the
//!   next writer rebuilds it.
//! - Leases: a claim carries one, the claiming run's heartbeats renew it,
//!   an expired one shows in `get_status` and `plan_wake`, and
//!   `requeue_expired_leases` takes the task back (ending the old run's
//!   claim).
//! - `get_task` and `list_tasks`.
//! - A worker's server that creates a fresh store does not name the
//!   coordinator after itself.

use std::io::Write;

use serde_json::{Value, json};
use test_support::{call, connect, connect_expecting_warnings, refused, temp_root};

fn texts(read: &Value) -> Vec<String> {
    read["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["message"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Rewrite a file in place (same inode: truncate and write), as an editor
/// or a script may do.
fn rewrite_in_place(path: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .expect("open ledger");
    f.write_all(bytes).expect("rewrite ledger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_rewritten_in_place_hides_no_message() -> anyhow::Result<()> {
    let root = temp_root();
    // These servers warn, on purpose, that the index no longer describes
    // the ledger.
    let co = connect_expecting_warnings(root.path(), "coordinator").await?;
    let w = connect_expecting_warnings(root.path(), "session-01").await?;
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/wt-drift"}),
    )
    .await?;
    for i in 1..=4 {
        call(
            &co,
            "send_message",
            json!({"to": "session-01", "message": format!("m{i}")}),
        )
        .await?;
    }
    let ledger = root
        .path()
        .join(".auralis-codextrator/messages/ledger.jsonl");
    // The inode tells "rewritten in place" from "replaced"; Windows has no
    // inode in std, and the rest of the test stands without it.
    #[cfg(unix)]
    let ino = |p: &std::path::Path| {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).expect("meta"))
    };
    #[cfg(unix)]
    let before = ino(&ledger);

    // Insert a well-formed line after the first one and lengthen the
    // second message, shifting every offset after them.
    let text = std::fs::read_to_string(&ledger)?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut second: Value = serde_json::from_str(&lines[1])?;
    second["message"] = json!("m2, now much longer than it was when the index was built");
    lines[1] = second.to_string();
    let inserted = json!({"id": "msg_inserted", "type": "message", "from": "coordinator", "to": "session-01",
        "subject": "", "message": "inserted by hand", "task_id": null, "payload": {},
        "created_at": "2026-01-01T00:00:00.000Z", "cwd": "", "seq": 100});
    lines.insert(1, inserted.to_string());
    rewrite_in_place(&ledger, (lines.join("\n") + "\n").as_bytes());
    #[cfg(unix)]
    assert_eq!(ino(&ledger), before, "the same inode, rewritten in place");

    // A peek (shared lock: the index is read around), then the read that
    // consumes them (the writer rebuilds the index): all five, in seq order.
    let peek = call(
        &w,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    let want = [
        "m1",
        "m2, now much longer than it was when the index was built",
        "m3",
        "m4",
        "inserted by hand",
    ];
    assert_eq!(texts(&peek), want, "{peek}");
    let read = call(&w, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(texts(&read), want, "{read}");
    assert_eq!(read["remaining_unread"], json!(0));
    // Nothing is delivered twice, and a new message gets a fresh seq.
    let sent = call(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "after"}),
    )
    .await?;
    assert_eq!(sent["message"]["seq"], json!(101));
    let read = call(&w, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(texts(&read), ["after"]);

    // A rewrite that keeps the length but moves a line boundary is caught
    // when a record does not point at its line.
    call(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "aaaa"}),
    )
    .await?;
    call(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "bb"}),
    )
    .await?;
    let text = std::fs::read_to_string(&ledger)?;
    let n = text.lines().count();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[n - 2] = lines[n - 2].replace("\"aaaa\"", "\"aaa\"");
    lines[n - 1] = lines[n - 1].replace("\"bb\"", "\"bbb\"");
    rewrite_in_place(&ledger, (lines.join("\n") + "\n").as_bytes());
    let read = call(
        &w,
        "read_inbox",
        json!({"slot": "session-01", "mark_read": false}),
    )
    .await?;
    assert_eq!(texts(&read), ["aaa", "bbb"], "{read}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_expire_show_and_requeue() -> anyhow::Result<()> {
    let root = temp_root();
    let co = connect(root.path(), "coordinator").await?;
    let w = connect(root.path(), "session-01").await?;
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/wt-lease"}),
    )
    .await?;
    call(
        &w,
        "record_heartbeat",
        json!({"slot": "session-01", "run_id": "run-1"}),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "t1", "title": "t", "message": "m"}),
    )
    .await?;
    let claim = call(
        &w,
        "claim_next_task",
        json!({"slot": "session-01", "run_id": "run-1", "lease_minutes": 10}),
    )
    .await?;
    let claimed_at = claim["task"]["lease"]["claimed_at"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(claim["task"]["lease"]["seconds"], json!(600), "{claim}");
    let expires = claim["lease_expires_at"].as_str().unwrap_or("").to_string();
    assert!(expires > claimed_at, "{claim}");

    // Within the lease: the status shows it, not expired.
    let st = call(&co, "get_status", json!({})).await?;
    let row = st["slots"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["slot"] == "session-01"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["lease_expires_at"], json!(expires), "{row}");
    assert_eq!(row["lease_expired"], json!(false));
    assert_eq!(st["expired_leases"], json!(0));

    // A heartbeat of the claiming run renews it; another run's does not.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    call(
        &w,
        "record_heartbeat",
        json!({"slot": "session-01", "run_id": "run-1"}),
    )
    .await?;
    let renewed =
        call(&co, "get_task", json!({"task_id": "t1"})).await?["lease"]["expires_at"].clone();
    assert!(
        renewed.as_str() > Some(expires.as_str()),
        "{renewed} after {expires}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    call(
        &w,
        "record_heartbeat",
        json!({"slot": "session-01", "run_id": "run-other"}),
    )
    .await?;
    let lease = call(&co, "get_task", json!({"task_id": "t1"})).await?["lease"].clone();
    assert_eq!(
        lease["expires_at"], renewed,
        "another run's heartbeat does not renew"
    );
    assert_eq!(lease["run_id"], json!("run-1"));

    // Twenty minutes later (as the planners see it): expired.
    let later = chrono_like_add_minutes(&claimed_at, 20);
    let plan = call(
        &co,
        "plan_wake",
        json!({"checked_at": later, "heartbeat_max_minutes": 60}),
    )
    .await?;
    let a = plan["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["slot"] == "session-01"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(a["action"], json!("lease_expired"), "{a}");
    assert_eq!(a["notify"], json!(true));
    assert_eq!(a["lease_expired"], json!(true));

    // Only the coordinator requeues; a dry run changes nothing.
    let err = refused(&w, "requeue_expired_leases", json!({})).await?;
    assert_eq!(err["rule"], json!("coordinator_only"));
    let dry = call(
        &co,
        "requeue_expired_leases",
        json!({"checked_at": later, "dry_run": true}),
    )
    .await?;
    assert_eq!(dry["requeued"][0]["task_id"], json!("t1"), "{dry}");
    assert_eq!(
        call(&co, "get_task", json!({"task_id": "t1"})).await?["task"]["status"],
        json!("active")
    );
    let now_none = call(&co, "requeue_expired_leases", json!({})).await?;
    assert_eq!(now_none["requeued"], json!([]), "not expired now");
    let done = call(&co, "requeue_expired_leases", json!({"checked_at": later})).await?;
    assert_eq!(done["requeued"][0]["run_id"], json!("run-1"), "{done}");
    let t = call(&co, "get_task", json!({"task_id": "t1"})).await?;
    assert_eq!(t["task"]["status"], json!("queued"));
    assert_eq!(t["lease"], Value::Null);
    let last = t["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["status"], json!("queued"));
    assert_eq!(last["by"], json!("coordinator"));
    assert!(
        last["note"]
            .as_str()
            .is_some_and(|n| n.contains("lease expired")),
        "{last}"
    );

    // The old run's claim ended: a new run claims, the old run is refused.
    let again = call(
        &w,
        "claim_next_task",
        json!({"slot": "session-01", "run_id": "run-2"}),
    )
    .await?;
    assert_eq!(again["claimed"], json!(true));
    let err = refused(
        &w,
        "update_task",
        json!({"task_id": "t1", "status": "blocked", "blocker": "late", "run_id": "run-1"}),
    )
    .await?;
    assert_eq!(err["rule"], json!("stale_run"));

    // An expired lease shows in get_status too (a short real lease).
    call(
        &co,
        "create_task",
        json!({"slot": "session-02", "task_id": "t2", "title": "t", "message": "m"}),
    )
    .await?;
    let w2 = connect(root.path(), "session-02").await?;
    call(
        &w2,
        "register_slot",
        json!({"slot": "session-02", "worktree": "/tmp/wt-lease-2"}),
    )
    .await?;
    call(
        &w2,
        "claim_next_task",
        json!({"slot": "session-02", "lease_minutes": 0.02}),
    )
    .await?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let st = call(&co, "get_status", json!({"slot": "session-02"})).await?;
    assert_eq!(st["slots"][0]["lease_expired"], json!(true), "{st}");
    assert_eq!(st["open_tasks"]["tasks"][0]["lease_expired"], json!(true));
    assert_eq!(st["expired_leases"], json!(1));
    let err = refused(
        &w2,
        "claim_next_task",
        json!({"slot": "session-02", "lease_minutes": -1}),
    )
    .await?;
    assert_eq!(err["code"], json!("invalid_argument"));
    Ok(())
}

/// `t` (an ISO time with milliseconds, UTC) plus `minutes`.
fn chrono_like_add_minutes(t: &str, minutes: i64) -> String {
    // 2026-12-01T23:17:28.123Z: add to the minutes field with carries.
    let (date, time) = t.split_once('T').expect("iso time");
    let mut parts: Vec<i64> = date.split('-').map(|p| p.parse().expect("date")).collect();
    let hms: Vec<&str> = time.trim_end_matches('Z').split(':').collect();
    let (mut h, mut m) = (
        hms[0].parse::<i64>().expect("h"),
        hms[1].parse::<i64>().expect("m"),
    );
    m += minutes;
    h += m / 60;
    m %= 60;
    let days = h / 24;
    h %= 24;
    parts[2] += days;
    // Good enough for a test: roll a day past 28 into the next month's first days.
    if parts[2] > 28 {
        parts[2] -= 28;
        parts[1] += 1;
        if parts[1] > 12 {
            parts[1] = 1;
            parts[0] += 1;
        }
    }
    format!(
        "{:04}-{:02}-{:02}T{h:02}:{m:02}:{}Z",
        parts[0],
        parts[1],
        parts[2],
        hms[2].trim_end_matches('Z')
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_task_tells_the_whole_story() -> anyhow::Result<()> {
    let root = temp_root();
    let co = connect(root.path(), "coordinator").await?;
    let w = connect(root.path(), "session-01").await?;
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/wt-story"}),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "dep", "title": "first", "message": "m"}),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "story", "title": "Tell it",
        "message": "the whole story", "acceptance_criteria": ["told"], "dependency_ids": ["dep"]}),
    )
    .await?;
    let t = call(&co, "get_task", json!({"task_id": "story"})).await?;
    assert_eq!(t["task"]["message"], json!("the whole story"));
    assert_eq!(t["task"]["acceptance_criteria"], json!(["told"]));
    assert_eq!(t["waiting_on"], json!(["dep"]));
    assert_eq!(t["history"][0]["status"], json!("queued"));
    assert_eq!(t["history"][0]["by"], json!("coordinator"));
    assert_eq!(t["messages"][0]["type"], json!("task.assign"));

    // Work it through: claim, note, block, report, integrate.
    call(
        &w,
        "claim_next_task",
        json!({"slot": "session-01", "run_id": "r1"}),
    )
    .await?; // dep
    call(&w, "report_commit", json!({"slot": "session-01", "task_id": "dep", "sha": "1111111111111111", "branch": "b", "subject": "dep", "changed": []})).await?;
    call(
        &co,
        "update_task",
        json!({"task_id": "dep", "status": "integrated"}),
    )
    .await?;
    call(
        &w,
        "claim_next_task",
        json!({"slot": "session-01", "run_id": "r2"}),
    )
    .await?;
    call(
        &w,
        "send_message",
        json!({"to": "coordinator", "message": "halfway", "task_id": "story"}),
    )
    .await?;
    call(
        &w,
        "update_task",
        json!({"task_id": "story", "blocker": "needs a decision", "run_id": "r2"}),
    )
    .await?;
    call(
        &w,
        "update_task",
        json!({"task_id": "story", "status": "active", "run_id": "r2"}),
    )
    .await?;
    call(&w, "report_commit", json!({"slot": "session-01", "task_id": "story", "sha": "2222222222222222", "branch": "b", "subject": "story", "changed": ["A\tstory.md"], "run_id": "r2"})).await?;
    call(
        &co,
        "update_task",
        json!({"task_id": "story", "status": "integrated", "tests": ["cargo test"]}),
    )
    .await?;

    let t = call(&co, "get_task", json!({"task_id": "story"})).await?;
    let steps: Vec<(String, String)> = t["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            (
                h["status"].as_str().unwrap_or("").to_string(),
                h["by"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("queued", "coordinator"),
        ("active", "session-01"),
        ("blocked", "session-01"),
        ("active", "session-01"),
        ("reported", "session-01"),
        ("integrated", "coordinator"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(steps, want, "{t}");
    assert!(
        t["history"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|h| h["at"].is_string())
    );
    assert_eq!(t["history"][1]["run_id"], json!("r2"));
    assert_eq!(
        t["task"]["blockers"][0]["message"],
        json!("needs a decision")
    );
    assert_eq!(t["task"]["tests"], json!(["cargo test"]));
    let kinds: Vec<&str> = t["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["type"].as_str())
        .collect();
    assert_eq!(kinds, ["task.assign", "message", "commit_report"], "{t}");
    assert_eq!(t["messages_total"], json!(3));
    let one = call(
        &co,
        "get_task",
        json!({"task_id": "story", "message_limit": 1}),
    )
    .await?;
    assert_eq!(one["messages"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        one["messages"][0]["type"],
        json!("commit_report"),
        "the newest are kept"
    );
    assert_eq!(one["messages_omitted"], json!(2));

    // Refusals name the problem.
    let err = refused(&co, "get_task", json!({"task_id": "nope"})).await?;
    assert_eq!(err["code"], json!("not_found"));
    let err = refused(&co, "get_task", json!({"task_id": "../x"})).await?;
    assert_eq!(err["code"], json!("invalid_argument"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_tasks_filters_and_pages_open_and_closed() -> anyhow::Result<()> {
    let root = temp_root();
    let co = connect(root.path(), "coordinator").await?;
    call(&co, "upsert_milestone", json!({"milestone_id": "m1"})).await?;
    // 130 closed tasks (more than the index keeps as recent) and a few open.
    for i in 0..130 {
        let slot = if i % 2 == 0 {
            "session-01"
        } else {
            "session-02"
        };
        call(&co, "create_task", json!({"slot": slot, "task_id": format!("c{i:03}"), "title": format!("closed {i}"), "message": "m"})).await?;
        call(
            &co,
            "update_task",
            json!({"task_id": format!("c{i:03}"), "status": "done"}),
        )
        .await?;
    }
    call(&co, "create_task", json!({"slot": "session-01", "task_id": "o1", "title": "Open one", "message": "find the needle here", "milestone_id": "m1", "lane_id": "storage"})).await?;
    call(&co, "create_task", json!({"slot": "session-02", "task_id": "o2", "title": "Open two", "message": "m", "milestone_id": "m1"})).await?;

    let page = call(&co, "list_tasks", json!({"limit": 5})).await?;
    assert_eq!(page["total"], json!(132), "{page}");
    assert_eq!(page["returned"], json!(5));
    assert_eq!(page["has_more"], json!(true));
    let ids: Vec<&str> = page["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["task_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["o1", "o2", "c129", "c128", "c127"],
        "open first, then the newest closed"
    );

    // Deep pages reach past the index's window of recent closed tasks.
    let deep = call(&co, "list_tasks", json!({"offset": 125, "limit": 10})).await?;
    let ids: Vec<&str> = deep["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["task_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["c006", "c005", "c004", "c003", "c002", "c001", "c000"],
        "{deep}"
    );
    assert_eq!(deep["has_more"], json!(false));

    let done02 = call(
        &co,
        "list_tasks",
        json!({"status": "done", "slot": "session-02", "limit": 200}),
    )
    .await?;
    assert_eq!(done02["total"], json!(65));
    assert!(
        done02["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|t| t["slot"] == "session-02" && t["status"] == "done")
    );
    let m1 = call(&co, "list_tasks", json!({"milestone_id": "m1"})).await?;
    assert_eq!(m1["total"], json!(2));
    let lane = call(&co, "list_tasks", json!({"lane_id": "storage"})).await?;
    assert_eq!(lane["tasks"][0]["task_id"], json!("o1"));
    let text = call(&co, "list_tasks", json!({"text": "NEEDLE"})).await?;
    assert_eq!(
        text["total"],
        json!(1),
        "case-insensitive, in the message: {text}"
    );
    let several = call(
        &co,
        "list_tasks",
        json!({"status": ["queued", "done"], "slot": "session-01", "limit": 1}),
    )
    .await?;
    assert_eq!(several["total"], json!(66));
    let full = call(&co, "list_tasks", json!({"text": "needle", "detail": true})).await?;
    assert_eq!(
        full["tasks"][0]["message"],
        json!("find the needle here"),
        "whole records with detail"
    );
    let rows = call(&co, "list_tasks", json!({"text": "needle"})).await?;
    assert_eq!(
        rows["tasks"][0]["message"],
        Value::Null,
        "compact rows by default"
    );

    let err = refused(&co, "list_tasks", json!({"status": "finished"})).await?;
    assert_eq!(err["code"], json!("invalid_argument"));
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid status:")),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_creating_the_store_does_not_name_the_coordinator() -> anyhow::Result<()> {
    let root = temp_root();
    let w = connect(root.path(), "session-01").await?;
    call(&w, "get_status", json!({})).await?;
    let reg: Value = serde_json::from_str(&std::fs::read_to_string(
        root.path().join(".auralis-codextrator/registry.json"),
    )?)?;
    assert_eq!(
        reg["coordinator"]["identity"],
        json!("coordinator"),
        "{reg}"
    );
    assert_eq!(reg["version"], json!(2));
    Ok(())
}
