//! Issue 7's command-line defects, through the real `codenator` binary:
//!
//! - the slot named on the command line is the actor (`inbox SLOT`,
//!   `heartbeat SLOT`, `report-commit --slot SLOT` from any directory), and
//!   the coordinator may record a heartbeat for any slot;
//! - `doctor` finds the store from a subdirectory, and accepts `--root`
//!   before the command;
//! - a closed stdout (`| head -1`) ends the program quietly, exit 0.

use std::io::Read;
use std::process::Stdio;

use serde_json::{Value, json};
use test_support::{World, commit_file, repo, row};

#[test]
fn the_slot_named_on_the_command_line_is_the_actor() {
    let w = World::new();
    let here = w.tmp.path().to_path_buf();
    let wt = w.path("wt");
    repo(&wt);
    w.ok(&here, &["init"]);
    w.ok(
        &here,
        &[
            "register",
            "session-01",
            "--project",
            "p",
            "--focus",
            "f",
            "--worktree",
            wt.to_str().expect("utf-8"),
        ],
    );
    w.ok(
        &here,
        &[
            "task-create",
            "session-01",
            "--title",
            "T",
            "--message",
            "m",
            "--task-id",
            "t1",
        ],
    );

    // From outside the worktree: reading its inbox claims the task.
    let read = w.json(&here, &["inbox", "session-01", "--json"]);
    assert_eq!(read[0]["type"], "task.assign", "{read}");
    let slots = w.json(&here, &["slots", "--json"]);
    assert_eq!(
        row(&slots, "session-01")["current_task_status"],
        "active",
        "{slots}"
    );

    // Its heartbeat, from here.
    let out = w.ok(&here, &["heartbeat", "session-01", "--run-id", "r1"]);
    assert_eq!(out.trim(), "Heartbeat session-01: ok");
    let slots = w.json(&here, &["slots", "--json"]);
    assert_eq!(row(&slots, "session-01")["heartbeat_status"], "ok");

    // Its commit report, from here.
    let head = commit_file(&wt, "a.txt", "a");
    let rep = w.json(&here, &["report-commit", "--slot", "session-01", "--json"]);
    assert_eq!(rep["report"]["sha"], json!(head), "{rep}");
    assert_eq!(rep["task"]["status"], "reported");

    // A worker acts only for itself; the coordinator may mark a slot failed.
    let err = w.fails(&here, &["heartbeat", "session-02", "--as", "session-01"], 2);
    assert!(err.contains("own_slot_only"), "{err}");
    w.ok(
        &here,
        &[
            "heartbeat",
            "session-01",
            "--as",
            "coordinator",
            "--status",
            "failed",
            "--error",
            "gone",
        ],
    );
    let rec = w.json(&here, &["recovery", "--json"]);
    let r = row(&rec["rows"], "session-01");
    assert_eq!(r["recommendation"], "restart_thread", "{r}");
    assert_eq!(r["reason"], "heartbeat_failed");
}

#[test]
fn doctor_finds_the_store_like_every_other_command() {
    let w = World::new();
    let here = w.tmp.path().to_path_buf();
    w.ok(&here, &["init"]);
    let deeper = w.root.join("sub/deeper");
    std::fs::create_dir_all(&deeper).expect("mkdir");
    // No --root, no variable: found above the current directory.
    let out = w
        .cmd(&deeper, &["doctor"])
        .env_remove("AURALIS_CODENATOR_ROOT")
        .output()
        .expect("run doctor");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("clean"), "{stdout}");
    assert!(
        stdout.contains(&w.store().display().to_string()),
        "{stdout}"
    );
    // `--root` before the command, as the help says.
    let root = w.root.to_str().expect("utf-8");
    let report: Value = {
        let out = w
            .cmd(&here, &["--root", root, "doctor", "--json"])
            .env_remove("AURALIS_CODENATOR_ROOT")
            .output()
            .expect("run doctor");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    };
    assert_eq!(report["clean"], json!(true));
    // No store anywhere: the same error as every command, exit 2.
    let out = w
        .cmd(w.home.as_path(), &["doctor"])
        .env_remove("AURALIS_CODENATOR_ROOT")
        .output()
        .expect("run doctor");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no codenator store"));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let w = World::new();
    let here = w.tmp.path().to_path_buf();
    w.ok(&here, &["init"]);
    // Enough tasks that `task-list --json` writes far more than a pipe holds.
    let store = ledger::Store::open(&w.root).expect("store");
    let ctx = ledger::Ctx::new(ledger::Caller::coordinator());
    for i in 0..300 {
        store
            .create_task(
                &ctx,
                &ledger::api::CreateTask {
                    slot: "session-01".into(),
                    title: format!("task {i}"),
                    message: "x".repeat(400),
                    task_id: Some(format!("t{i:03}")),
                    ..Default::default()
                },
            )
            .expect("create");
    }
    for args in [
        &["task-list", "--json"][..],
        &["status", "--json"],
        &["task-list"],
    ] {
        let mut child = w
            .cmd(&here, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Read one byte, then close the pipe (as `head -c 1` does).
        let mut first = [0u8; 1];
        let mut stdout = child.stdout.take().expect("stdout");
        let _ = stdout.read(&mut first);
        drop(stdout);
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}
