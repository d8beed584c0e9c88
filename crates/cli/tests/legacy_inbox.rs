//! A v1 store written by the reference CLI (tests/fixtures/reference-v1) is
//! brought into the ledger with nothing lost and nothing delivered twice:
//! every message the reference left unread (a file under `inbox/<slot>/`,
//! plus its seq-less ledger line) is delivered exactly once through the
//! ledger's cursor; messages the reference had already read (moved to
//! `archive/<slot>/`) are not delivered again; archive files are untouched;
//! a second import does nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use test_support::{STORE_DIR, World, copy_tree, row, walk};

fn fixture() -> PathBuf {
    test_support::fixture("reference-v1")
}

fn expected() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixture().join("expected.json")).expect("expected"),
    )
    .expect("expected")
}

/// A world whose root is a copy of the fixture.
fn world() -> World {
    let w = World::new();
    copy_tree(&fixture().join(STORE_DIR), &w.store()).expect("copy the fixture store");
    w
}

/// The ids the reference left unread, per slot (file order).
fn v1_unread() -> BTreeMap<String, Vec<String>> {
    expected()["v1_inbox_unread_files"]
        .as_object()
        .expect("v1_unread")
        .iter()
        .map(|(slot, files)| {
            let ids = files
                .as_array()
                .expect("v1_unread")
                .iter()
                .map(|f| f["id"].as_str().expect("v1_unread").to_string())
                .collect();
            (slot.clone(), ids)
        })
        .collect()
}

/// Read (and consume) a slot's whole inbox as the coordinator.
/// Read (and mark read) a slot's unread message ids as that slot, without
/// claiming (`inbox SLOT` acts as SLOT).
fn read_ids(w: &World, slot: &str) -> Vec<String> {
    let msgs = w.json(
        w.tmp.path(),
        &["inbox", slot, "--json", "--limit", "200", "--no-claim"],
    );
    msgs.as_array()
        .expect("read_ids")
        .iter()
        .map(|m| m["id"].as_str().expect("read_ids").to_string())
        .collect()
}

fn ledger_ids(w: &World) -> Vec<String> {
    std::fs::read_to_string(w.store().join("messages/ledger.jsonl"))
        .expect("ledger_ids")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("ledger_ids")["id"]
                .as_str()
                .expect("ledger_ids")
                .to_string()
        })
        .collect()
}

#[test]
fn v1_inbox_is_delivered_exactly_once() {
    let w = world();
    let store = w.store();
    let exp = expected();

    // A dry run says what would happen and changes nothing.
    let dry = w.json(
        w.tmp.path(),
        &["import-legacy-inbox", "--dry-run", "--json"],
    );
    assert_eq!(dry["totals"]["archived_files"], json!(4), "{dry}");
    assert_eq!(walk(&store.join("inbox/session-01")).len(), 2);
    assert!(!store.join("legacy").exists());

    // The import: the four unread files are already in the ledger (nothing
    // appended); the three archived messages are marked read.
    let r = w.json(w.tmp.path(), &["import-legacy-inbox", "--json"]);
    assert_eq!(r["totals"]["archived_files"], json!(4), "{r}");
    assert_eq!(r["totals"]["unread_in_ledger"], json!(4), "{r}");
    assert_eq!(r["totals"]["appended"], json!(0), "{r}");
    assert_eq!(r["totals"]["marked_read"], json!(3), "{r}");
    assert_eq!(ledger_ids(&w).len(), 7, "no line added");

    // Unread counts are the reference's inbox-file counts.
    let st = w.json(w.tmp.path(), &["status", "--json"]);
    for (slot, ids) in v1_unread() {
        let row = row(&st["rows"], &slot);
        assert_eq!(row["unread"], json!(ids.len()), "{slot}: {row}");
    }

    // Inbox files moved to the archive under their own names; the
    // reference's archive files are byte for byte what they were.
    for (slot, list) in exp["v1_inbox_unread_files"]
        .as_object()
        .expect("v1_inbox_is_delivered_exactly_once")
    {
        assert!(walk(&store.join("inbox").join(slot)).is_empty(), "{slot}");
        for f in list.as_array().expect("v1_inbox_is_delivered_exactly_once") {
            assert!(
                store
                    .join("archive")
                    .join(slot)
                    .join(
                        f["file"]
                            .as_str()
                            .expect("v1_inbox_is_delivered_exactly_once")
                    )
                    .is_file()
            );
        }
    }
    for (slot, list) in exp["v1_archived_files"]
        .as_object()
        .expect("v1_inbox_is_delivered_exactly_once")
    {
        for f in list.as_array().expect("v1_inbox_is_delivered_exactly_once") {
            let name = f["file"]
                .as_str()
                .expect("v1_inbox_is_delivered_exactly_once");
            let orig = std::fs::read(
                fixture()
                    .join(STORE_DIR)
                    .join("archive")
                    .join(slot)
                    .join(name),
            )
            .expect("v1_inbox_is_delivered_exactly_once");
            let now = std::fs::read(store.join("archive").join(slot).join(name))
                .expect("v1_inbox_is_delivered_exactly_once");
            assert_eq!(orig, now, "{slot}/{name} untouched");
        }
    }

    // Every unread message is delivered once, in order; then nothing.
    for (slot, ids) in v1_unread() {
        assert_eq!(read_ids(&w, &slot), ids, "{slot}");
        assert!(read_ids(&w, &slot).is_empty(), "{slot} delivered twice");
    }

    // A second import finds nothing to do, and leaves everything read.
    let again = w.json(w.tmp.path(), &["import-legacy-inbox", "--json"]);
    assert_eq!(again["changed"], json!(false), "{again}");
    assert_eq!(again["totals"]["marked_read"], json!(0));
    assert_eq!(again["totals"]["archived_files"], json!(0));
    for slot in ["coordinator", "session-01", "session-02"] {
        assert!(read_ids(&w, slot).is_empty(), "{slot}");
    }

    // The reference's tasks are the ledger's: the active one stays active,
    // the queued one is claimable by its slot.
    let tasks = w.json(w.tmp.path(), &["task-list", "--json"]);
    let status: BTreeMap<String, String> = tasks
        .as_array()
        .expect("v1_inbox_is_delivered_exactly_once")
        .iter()
        .map(|t| {
            (
                t["task_id"]
                    .as_str()
                    .expect("v1_inbox_is_delivered_exactly_once")
                    .to_string(),
                t["status"]
                    .as_str()
                    .expect("v1_inbox_is_delivered_exactly_once")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(status["v1-task-active"], "active");
    assert_eq!(status["v1-task-queued"], "queued");
    let store_l = ledger::Store::open(&w.root).expect("v1_inbox_is_delivered_exactly_once");
    let claim = store_l
        .claim_next_task(
            &ledger::Ctx::new(ledger::Caller::parse("session-01").expect("slot")),
            &ledger::api::ClaimNextTask {
                slot: "session-01".into(),
                ..Default::default()
            },
        )
        .expect("v1_inbox_is_delivered_exactly_once");
    assert_eq!(
        claim.task.map(|t| t.task_id).as_deref(),
        Some("v1-task-queued")
    );
}

#[test]
fn first_use_imports_automatically_and_the_mcp_view_agrees() {
    let w = world();
    let out = w.run(w.tmp.path(), &["status", "--json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("brought the v1 inbox into the ledger"),
        "{err}"
    );
    let st: Value = serde_json::from_slice(&out.stdout)
        .expect("first_use_imports_automatically_and_the_mcp_view_agrees");
    for (slot, ids) in v1_unread() {
        assert_eq!(
            row(&st["rows"], &slot)["unread"],
            json!(ids.len()),
            "{slot}"
        );
    }
    // The MCP server's read of the same ledger (in process here) sees the
    // same unread messages: one notion of unread.
    let store = ledger::Store::open(&w.root)
        .expect("first_use_imports_automatically_and_the_mcp_view_agrees");
    let ctx = ledger::Ctx::new(ledger::Caller::coordinator());
    for (slot, ids) in v1_unread() {
        let ans = store
            .read_inbox(
                &ctx,
                &ledger::api::ReadInbox {
                    slot: slot.clone(),
                    mark_read: Some(false),
                    limit: None,
                },
            )
            .expect("first_use_imports_automatically_and_the_mcp_view_agrees");
        let got: Vec<&str> = ans.messages.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(got, ids, "{slot}");
    }
    // A later command does not import again (quietly).
    let out = w.run(w.tmp.path(), &["status"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn files_missing_from_the_ledger_are_appended_once() {
    let w = world();
    let store = w.store();
    // A message the reference left only as a file (no ledger line), and a
    // damaged file; both in session-02's inbox.
    let extra = json!({
        "id": "abcdef012345", "type": "message", "from": "coordinator", "to": "session-02",
        "subject": "only a file", "message": "no ledger line", "task_id": null, "payload": {},
        "created_at": "2026-11-22T01:53:00.000Z", "cwd": "/tmp/codenator-ref/reference-v1"
    });
    let name = "2026-11-22T01-53-00-000Z_abcdef012345.json";
    std::fs::write(
        store.join("inbox/session-02").join(name),
        serde_json::to_string_pretty(&extra)
            .expect("files_missing_from_the_ledger_are_appended_once"),
    )
    .expect("files_missing_from_the_ledger_are_appended_once");
    std::fs::write(
        store.join("inbox/session-02/2026-11-22T01-54-00-000Z_broken.json"),
        "{ not json",
    )
    .expect("files_missing_from_the_ledger_are_appended_once");

    let r = w.json(w.tmp.path(), &["import-legacy-inbox", "--json"]);
    assert_eq!(r["totals"]["appended"], json!(1), "{r}");
    assert_eq!(r["totals"]["skipped"], json!(1), "{r}");
    assert_eq!(
        r["slots"]["session-02"]["appended"],
        json!(["abcdef012345"])
    );
    assert!(store.join("archive/session-02").join(name).is_file());
    // The damaged file stays where it was, for a person to look at.
    assert!(
        store
            .join("inbox/session-02/2026-11-22T01-54-00-000Z_broken.json")
            .is_file()
    );

    // Delivered once, after the reference's unread message, with its id.
    let got = read_ids(&w, "session-02");
    assert_eq!(
        got,
        vec!["fdd41cd0af07".to_string(), "abcdef012345".to_string()]
    );
    assert!(read_ids(&w, "session-02").is_empty());

    // Importing again appends nothing and does not mark it read twice (it
    // was read), and the damaged file is not reported again.
    let again = w.json(w.tmp.path(), &["import-legacy-inbox", "--json"]);
    assert_eq!(again["changed"], json!(false), "{again}");
    let n = ledger_ids(&w)
        .iter()
        .filter(|id| *id == "abcdef012345")
        .count();
    assert_eq!(n, 1);

    // The reference CLI still in use after the import: it writes a new
    // inbox file (and ledger line) and archives one on read. The next
    // command brings both in: the new one unread once, the archived one read.
    let line = json!({
        "id": "0123456789ab", "type": "message", "from": "session-01", "to": "coordinator",
        "subject": "late", "message": "written by the reference after the import", "task_id": null,
        "payload": {}, "created_at": "2026-11-22T02:00:00.000Z", "cwd": "/tmp"
    });
    let mut ledger_text = std::fs::read_to_string(store.join("messages/ledger.jsonl"))
        .expect("files_missing_from_the_ledger_are_appended_once");
    ledger_text.push_str(&format!("{line}\n"));
    std::fs::write(store.join("messages/ledger.jsonl"), ledger_text)
        .expect("files_missing_from_the_ledger_are_appended_once");
    std::fs::write(
        store.join("inbox/coordinator/2026-11-22T02-00-00-000Z_0123456789ab.json"),
        serde_json::to_string_pretty(&line)
            .expect("files_missing_from_the_ledger_are_appended_once"),
    )
    .expect("files_missing_from_the_ledger_are_appended_once");
    let read_line = json!({
        "id": "ba9876543210", "type": "message", "from": "coordinator", "to": "session-01",
        "subject": "read in v1", "message": "read by the reference", "task_id": null,
        "payload": {}, "created_at": "2026-11-22T02:01:00.000Z", "cwd": "/tmp"
    });
    let mut ledger_text = std::fs::read_to_string(store.join("messages/ledger.jsonl"))
        .expect("files_missing_from_the_ledger_are_appended_once");
    ledger_text.push_str(&format!("{read_line}\n"));
    std::fs::write(store.join("messages/ledger.jsonl"), ledger_text)
        .expect("files_missing_from_the_ledger_are_appended_once");
    std::fs::write(
        store.join("archive/session-01/2026-11-22T02-01-00-000Z_ba9876543210.json"),
        serde_json::to_string_pretty(&read_line)
            .expect("files_missing_from_the_ledger_are_appended_once"),
    )
    .expect("files_missing_from_the_ledger_are_appended_once");
    assert_eq!(
        read_ids(&w, "coordinator")
            .iter()
            .filter(|i| *i == "0123456789ab")
            .count(),
        1
    );
    let s1 = read_ids(&w, "session-01");
    assert!(
        !s1.contains(&"ba9876543210".to_string()),
        "read in v1, not delivered again: {s1:?}"
    );
    assert!(read_ids(&w, "coordinator").is_empty());
}
