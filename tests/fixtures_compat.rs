//! Stores written by the real reference (tests/fixtures/reference-v2 and
//! reference-v1, see tests/fixtures/README.md) open unchanged: unread
//! messages, cursors, tasks and the board read back exactly as the
//! reference's own facts (`expected.json`) say; new writes continue the
//! ledger (seq = max + 1) without touching a byte of the original lines; and
//! the nested-root rule picks the v2 store under `.codextrator-mcp-root`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use test_support::{
    Client, call, connect, copy_tree, fixture, ledger_file, row, store_dir, temp_root, walk_files,
};

fn expected(name: &str) -> anyhow::Result<Value> {
    let p = fixture(name).join("expected.json");
    Ok(serde_json::from_slice(
        &std::fs::read(&p).with_context(|| p.display().to_string())?,
    )?)
}

/// Copy a fixture's store directory into `root`.
fn install(name: &str, root: &Path) -> anyhow::Result<()> {
    copy_tree(&store_dir(&fixture(name)), &store_dir(root))?;
    Ok(())
}

/// (seq, id, type) triples.
type Unread = Vec<(u64, String, String)>;

fn expected_unread(exp: &Value, slot: &str) -> Unread {
    exp["unread_by_slot_spec_4_2"][slot]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["seq"].as_u64().unwrap_or(0),
                        m["id"].as_str().unwrap_or("").to_string(),
                        m["type"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn triples(inbox: &Value) -> Unread {
    inbox["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["seq"].as_u64().unwrap_or(0),
                        m["id"].as_str().unwrap_or("").to_string(),
                        m["type"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn seqs(inbox: &Value) -> Vec<u64> {
    triples(inbox).into_iter().map(|t| t.0).collect()
}

/// Peek at a slot's inbox (nothing is marked read).
async fn peek(c: &Client, slot: &str) -> anyhow::Result<Value> {
    let v = call(
        c,
        "read_inbox",
        json!({"slot": slot, "mark_read": false, "limit": 200}),
    )
    .await?;
    assert_eq!(
        v["marked_read"],
        json!(false),
        "a peek never marks read: {v}"
    );
    assert_eq!(
        v["remaining_unread"], v["unread_count"],
        "a peek leaves everything unread: {v}"
    );
    Ok(v)
}

fn max_seq(exp: &Value) -> u64 {
    exp["ledger"]["lines"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|x| x["seq"].as_u64())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The ledger has kept its original bytes as a prefix; the lines after it
/// are whole JSON objects with strictly increasing seqs above `above`.
/// Returns the new lines.
fn check_appended(original: &[u8], now: &[u8], above: u64) -> anyhow::Result<Vec<Value>> {
    assert!(
        now.len() >= original.len() && &now[..original.len()] == original,
        "the original ledger lines must be unchanged byte for byte"
    );
    let tail = &now[original.len()..];
    assert!(
        tail.is_empty() || tail.ends_with(b"\n"),
        "every appended line ends with a newline"
    );
    let mut out = Vec::new();
    let mut last = above;
    for line in tail.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line).context("an appended line is not JSON")?;
        let seq = v["seq"].as_u64().context("an appended line has no seq")?;
        assert!(seq > last, "appended seqs increase: {seq} after {last}");
        last = seq;
        out.push(v);
    }
    Ok(out)
}

/// Check everything a fresh server reads from a reference store against
/// `expected.json`: registry, slot rows, unread (ids and seqs) per slot,
/// tasks and their statuses.
async fn check_reads(
    co: &Client,
    workers: &BTreeMap<&str, &Client>,
    exp: &Value,
) -> anyhow::Result<()> {
    let status = call(co, "get_status", json!({})).await?;
    assert_eq!(
        status["registry"]["version"], exp["registry"]["version"],
        "{status}"
    );
    assert_eq!(status["registry"]["name"], exp["registry"]["name"]);
    let slots: Vec<&str> = status["slots"]
        .as_array()
        .context("slots")?
        .iter()
        .filter_map(|r| r["slot"].as_str())
        .collect();
    let want: Vec<&str> = exp["slots"]
        .as_array()
        .context("expected slots")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(slots, want, "coordinator first, then sorted sessions");

    for slot in &want {
        let r = row(&status["slots"], slot);
        let unread = expected_unread(exp, slot);
        assert_eq!(r["unread"], json!(unread.len()), "unread of {slot}: {r}");
        let s = &exp["sessions"][*slot];
        // The current task is derived from the task files; it agrees with
        // the pointer the reference left in the registry.
        assert_eq!(
            r["current_task_id"], s["current_task_id"],
            "current task of {slot}: {r}"
        );
        assert_eq!(
            r["current_task_status"], s["current_task_status"],
            "{slot}: {r}"
        );
        assert_eq!(r["heartbeat_status"], s["heartbeat_status"], "{slot}: {r}");
        if let Some(wt) = s["worktree"].as_str() {
            assert_eq!(r["worktree"], json!(wt));
            assert_eq!(r["branch"], s["branch"]);
        }

        // The exact unread messages, by id and seq: the coordinator may peek
        // at any inbox; each worker peeks at its own.
        let got = triples(&peek(co, slot).await?);
        assert_eq!(
            got, unread,
            "unread messages of {slot} (read by the coordinator)"
        );
        if let Some(w) = workers.get(slot) {
            let got = triples(&peek(w, slot).await?);
            assert_eq!(got, unread, "unread messages of {slot} (read by itself)");
        }
    }

    // Tasks and their statuses.
    let tasks = exp["tasks"].as_array().context("expected tasks")?;
    assert_eq!(status["total_tasks"], json!(tasks.len()), "{status}");
    let open: Vec<&Value> = tasks
        .iter()
        .filter(|t| !matches!(t["status"].as_str(), Some("integrated" | "done")))
        .collect();
    assert_eq!(status["open_tasks"]["total"], json!(open.len()), "{status}");
    let mut counts = BTreeMap::<String, u64>::new();
    for t in tasks {
        *counts
            .entry(t["status"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    assert_eq!(status["task_counts"], json!(counts), "{status}");
    for t in &open {
        assert!(
            status["open_tasks"]["tasks"].as_array().is_some_and(|a| a
                .iter()
                .any(|x| x["task_id"] == t["task_id"] && x["status"] == t["status"])),
            "open task {} missing from get_status: {status}",
            t["task_id"]
        );
    }
    let board = call(co, "get_focus_board", json!({"limit": 200})).await?;
    for t in tasks {
        let b = board["tasks"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["task_id"] == t["task_id"]))
            .with_context(|| format!("task {} is not on the board: {board}", t["task_id"]))?;
        for k in ["slot", "status", "commit", "milestone_id", "lane_id"] {
            assert_eq!(b[k], t[k], "task {} field {k}", t["task_id"]);
        }
    }
    if exp["board"].is_object() {
        assert_eq!(board["board"]["name"], exp["board"]["name"]);
        let ids = |key: &str, id: &str| -> Vec<Value> {
            board[key]
                .as_array()
                .map(|a| a.iter().map(|m| m[id].clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(
            json!(ids("milestones", "milestone_id")),
            exp["board"]["milestone_ids"]
        );
        let lanes = ids("lanes", "lane_id");
        for l in exp["board"]["lane_ids"].as_array().context("lane ids")? {
            assert!(lanes.contains(l), "lane {l} missing: {lanes:?}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_v2_store_reads_and_continues() -> anyhow::Result<()> {
    let exp = expected("reference-v2")?;
    let root = temp_root();
    install("reference-v2", root.path())?;
    let ledger = ledger_file(root.path());
    let original = std::fs::read(&ledger)?;
    let cursor_files = ["coordinator", "session-02"]
        .map(|s| store_dir(root.path()).join(format!("cursors/{s}.json")));
    let cursors_before: Vec<Vec<u8>> = cursor_files
        .iter()
        .map(std::fs::read)
        .collect::<Result<_, _>>()?;

    let co = connect(root.path(), "coordinator").await?;
    let w1 = connect(root.path(), "session-01").await?;
    let w2 = connect(root.path(), "session-02").await?;
    let workers = BTreeMap::from([("session-01", &w1), ("session-02", &w2)]);
    check_reads(&co, &workers, &exp).await?;

    // The reference's own facts, spelled out: the cursors (coordinator at 2,
    // session-02 at 8, session-01 without a file) are honoured.
    assert_eq!(seqs(&peek(&co, "coordinator").await?), vec![7]);
    assert_eq!(seqs(&peek(&w1, "session-01").await?), vec![5, 6, 8]);
    assert_eq!(seqs(&peek(&w2, "session-02").await?), vec![10]);

    // The board, the report and the integration receipt the reference wrote.
    let board = call(&co, "get_focus_board", json!({})).await?;
    let sha = "1c6eb834fc00957e8504f4093845631844495b55";
    assert!(
        board["reports"].as_array().is_some_and(|a| a
            .iter()
            .any(|r| r["sha"] == json!(sha) && r["slot"] == json!("session-02"))),
        "reference report missing: {}",
        board["reports"]
    );
    assert!(
        board["integration_receipts"].as_array().is_some_and(|a| a
            .iter()
            .any(|r| r["task_id"] == json!("task-integrated-1") && r["commit"] == json!(sha))),
        "receipt missing: {}",
        board["integration_receipts"]
    );
    // The reference's summary-pause marker (seq 9, count 1) is read.
    assert_eq!(
        board["progress"]["summary_pause"]["last_pause_integration_count"],
        json!(1)
    );
    assert_eq!(
        board["progress"]["summary_pause"]["integrations_since_pause"],
        json!(0)
    );
    let plan = call(
        &co,
        "plan_wake",
        json!({"heartbeat_max_minutes": 100000000}),
    )
    .await?;
    assert_ne!(plan["decision"], json!("PAUSE"), "{plan}");

    // Reading wrote nothing: ledger and cursor files are as the reference left them.
    assert_eq!(
        std::fs::read(&ledger)?,
        original,
        "reads never write the ledger"
    );
    for (p, before) in cursor_files.iter().zip(&cursors_before) {
        assert_eq!(
            &std::fs::read(p)?,
            before,
            "a peek leaves {} alone",
            p.display()
        );
    }
    assert!(
        !store_dir(root.path())
            .join("cursors/session-01.json")
            .exists()
    );

    // New writes continue the ledger.
    let top = max_seq(&exp);
    assert_eq!(top, 10);
    let sent = call(
        &w1,
        "send_message",
        json!({"to": "coordinator", "subject": "rust", "message": "hello from the port"}),
    )
    .await?;
    assert_eq!(
        sent["message"]["seq"],
        json!(top + 1),
        "seq = max existing seq + 1: {sent}"
    );
    assert_eq!(sent["message"]["from"], json!("session-01"));

    // session-01 claims the reference's queued task; only its task.assign
    // (seq 5) is consumed, the plain message and the broadcast stay unread.
    let claim = call(&w1, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(claim["claimed"], json!(true), "{claim}");
    assert_eq!(claim["task"]["task_id"], json!("task-queued-1"));
    assert_eq!(claim["task"]["status"], json!("active"));
    let consumed: Vec<(Value, Value)> = claim["messages"]
        .as_array()
        .context("messages")?
        .iter()
        .map(|m| (m["seq"].clone(), m["task_id"].clone()))
        .collect();
    assert_eq!(
        consumed,
        vec![(json!(5), json!("task-queued-1"))],
        "{claim}"
    );
    assert_eq!(seqs(&peek(&w1, "session-01").await?), vec![6, 8]);

    // read_inbox advances the cursor.
    let read = call(&w1, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(seqs(&read), vec![6, 8]);
    assert_eq!(read["marked_read"], json!(true));
    assert_eq!(read["remaining_unread"], json!(0));
    assert_eq!(
        call(&w1, "read_inbox", json!({"slot": "session-01"})).await?["unread_count"],
        json!(0)
    );
    let read = call(&co, "read_inbox", json!({"slot": "coordinator"})).await?;
    assert_eq!(seqs(&read), vec![7, top + 1]);
    let read = call(&w2, "read_inbox", json!({"slot": "session-02"})).await?;
    assert_eq!(seqs(&read), vec![10]);
    for slot in ["coordinator", "session-01", "session-02"] {
        assert_eq!(peek(&co, slot).await?["unread_count"], json!(0), "{slot}");
    }
    // Cursors keep the reference's shape.
    let cur: Value = serde_json::from_slice(&std::fs::read(
        store_dir(root.path()).join("cursors/session-01.json"),
    )?)?;
    assert_eq!(cur["slot"], json!("session-01"));
    assert_eq!(cur["last_seq"], json!(8));
    let cur: Value = serde_json::from_slice(&std::fs::read(&cursor_files[0])?)?;
    assert_eq!(cur["last_seq"], json!(top + 1));

    let added = check_appended(&original, &std::fs::read(&ledger)?, top)?;
    assert_eq!(
        added.len(),
        1,
        "only the one message was appended: {added:?}"
    );
    assert_eq!(added[0]["id"], sent["message"]["id"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_v1_store_reads_and_continues() -> anyhow::Result<()> {
    let exp = expected("reference-v1")?;
    assert_eq!(
        exp["ledger"]["lines_with_explicit_seq"],
        json!(0),
        "the v1 ledger has no seq"
    );
    let root = temp_root();
    install("reference-v1", root.path())?;
    let ledger = ledger_file(root.path());
    let original = std::fs::read(&ledger)?;
    let list = |sub: &str| -> Vec<String> { walk_files(&store_dir(root.path()).join(sub)) };
    let inbox_before = (list("inbox"), list("archive"));

    let co = connect(root.path(), "coordinator").await?;
    let w1 = connect(root.path(), "session-01").await?;
    let w2 = connect(root.path(), "session-02").await?;
    let workers = BTreeMap::from([("session-01", &w1), ("session-02", &w2)]);
    // One notion of unread: the v1 CLI kept unread messages as files in
    // inbox/<slot>/ and moved read ones to archive/<slot>/. The server brings
    // that into the ledger on start (ledger::legacy): what the CLI read stays
    // read, what sat in an inbox is unread once. (By the seq-and-cursor rule
    // alone, spec §4.2, the archived messages 2, 3 and 4 would come back.)
    let unread_files: BTreeSet<String> = exp["v1_inbox_unread_files"]
        .as_object()
        .context("v1_inbox_unread_files")?
        .values()
        .flat_map(|v| v.as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect();
    let mut exp_v1 = exp.clone();
    for (_, list) in exp_v1["unread_by_slot_spec_4_2"]
        .as_object_mut()
        .context("unread")?
        .iter_mut()
    {
        if let Some(a) = list.as_array_mut() {
            a.retain(|m| m["id"].as_str().is_some_and(|id| unread_files.contains(id)));
        }
    }
    check_reads(&co, &workers, &exp_v1).await?;
    assert_eq!(seqs(&peek(&co, "coordinator").await?), vec![7]);
    assert_eq!(seqs(&peek(&w1, "session-01").await?), vec![1, 5]);
    assert_eq!(seqs(&peek(&w2, "session-02").await?), vec![6]);
    assert_eq!(
        std::fs::read(&ledger)?,
        original,
        "the import appends nothing: every inbox file has its ledger line"
    );

    // New writes: seq continues after the 7 seq-less lines.
    let top = max_seq(&exp);
    assert_eq!(top, 7);
    let sent = call(
        &co,
        "send_message",
        json!({"to": "session-01", "subject": "next", "message": "after the CLI"}),
    )
    .await?;
    assert_eq!(sent["message"]["seq"], json!(top + 1), "{sent}");

    let claim = call(&w1, "claim_next_task", json!({"slot": "session-01"})).await?;
    assert_eq!(claim["claimed"], json!(true), "{claim}");
    assert_eq!(claim["task"]["task_id"], json!("v1-task-queued"));
    assert_eq!(claim["task"]["status"], json!("active"));
    let consumed: Vec<Value> = claim["messages"]
        .as_array()
        .context("messages")?
        .iter()
        .map(|m| m["seq"].clone())
        .collect();
    assert_eq!(
        consumed,
        vec![json!(5)],
        "the CLI's task.assign line is consumed: {claim}"
    );
    let read = call(&w1, "read_inbox", json!({"slot": "session-01"})).await?;
    assert_eq!(seqs(&read), vec![1, top + 1]);
    assert_eq!(
        call(&w1, "read_inbox", json!({"slot": "session-01"})).await?["unread_count"],
        json!(0)
    );
    let read = call(&w2, "read_inbox", json!({"slot": "session-02"})).await?;
    assert_eq!(seqs(&read), vec![6]);
    let read = call(&co, "read_inbox", json!({"slot": "coordinator"})).await?;
    assert_eq!(seqs(&read), vec![7]);

    // The session-02 task the CLI activated is seen as active.
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        row(&status["slots"], "session-02")["current_task_id"],
        json!("v1-task-active")
    );
    assert_eq!(
        row(&status["slots"], "session-02")["current_task_status"],
        json!("active")
    );
    assert_eq!(
        row(&status["slots"], "session-01")["current_task_status"],
        json!("active")
    );
    assert_eq!(
        status["registry"]["version"],
        json!(1),
        "the registry version is never migrated"
    );

    let added = check_appended(&original, &std::fs::read(&ledger)?, top)?;
    assert_eq!(added.len(), 1, "{added:?}");
    // The CLI's inbox files moved to its archive, unchanged; nothing else moved.
    assert!(list("inbox").is_empty(), "{:?}", list("inbox"));
    let mut expected_archive: Vec<String> = inbox_before.1.clone();
    expected_archive.extend(inbox_before.0.iter().cloned());
    expected_archive.sort();
    assert_eq!(list("archive"), expected_archive);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_root_v2_store_wins_over_legacy_v1() -> anyhow::Result<()> {
    let v2 = expected("reference-v2")?;
    let root = temp_root();
    // A legacy v1 CLI store at ROOT, a v2 MCP store at ROOT/.codextrator-mcp-root.
    install("reference-v1", root.path())?;
    let nested = root.path().join(".codextrator-mcp-root");
    install("reference-v2", &nested)?;
    let v1_ledger = std::fs::read(ledger_file(root.path()))?;
    let v1_files = walk_files(&store_dir(root.path()));
    let v2_ledger = std::fs::read(ledger_file(&nested))?;

    let co = connect(root.path(), "coordinator").await?;
    let w1 = connect(root.path(), "session-01").await?;
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        status["registry"]["version"],
        json!(2),
        "the nested v2 store is used: {status}"
    );
    for slot in ["coordinator", "session-01", "session-02"] {
        assert_eq!(
            row(&status["slots"], slot)["unread"],
            json!(expected_unread(&v2, slot).len()),
            "{slot}"
        );
    }
    assert_eq!(
        triples(&peek(&w1, "session-01").await?),
        expected_unread(&v2, "session-01")
    );

    let sent = call(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "nested"}),
    )
    .await?;
    assert_eq!(sent["message"]["seq"], json!(max_seq(&v2) + 1));
    check_appended(
        &v2_ledger,
        &std::fs::read(ledger_file(&nested))?,
        max_seq(&v2),
    )?;
    assert_eq!(
        std::fs::read(ledger_file(root.path()))?,
        v1_ledger,
        "the legacy store is not written"
    );
    assert_eq!(
        walk_files(&store_dir(root.path())).len(),
        v1_files.len(),
        "nothing new in the legacy store"
    );
    drop((co, w1));

    // No store at ROOT at all (version 0) also defers to the nested v2 store,
    // and nothing is created at ROOT.
    let root2 = temp_root();
    let nested2 = root2.path().join(".codextrator-mcp-root");
    install("reference-v2", &nested2)?;
    let co2 = connect(root2.path(), "coordinator").await?;
    let status = call(&co2, "get_status", json!({})).await?;
    assert_eq!(
        row(&status["slots"], "session-01")["unread"],
        json!(3),
        "{status}"
    );
    assert!(
        !store_dir(root2.path()).exists(),
        "no store is created at ROOT"
    );

    // A v2 store at ROOT wins over anything nested.
    let root3 = temp_root();
    install("reference-v2", root3.path())?;
    install("reference-v1", &root3.path().join(".codextrator-mcp-root"))?;
    let co3 = connect(root3.path(), "coordinator").await?;
    let status = call(&co3, "get_status", json!({})).await?;
    assert_eq!(status["registry"]["version"], json!(2));
    assert_eq!(
        row(&status["slots"], "session-01")["unread"],
        json!(3),
        "{status}"
    );
    Ok(())
}
