//! The `codenator` binary: help, and the demo end to end (real server
//! processes on a temporary ledger). Also makes cargo build the binary for
//! the workspace's end-to-end tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use test_support::{World, bin, cli_command, repo_root};

/// `codenator demo` on the world's root; must succeed. Returns stdout.
fn demo(w: &World) -> String {
    let root = w.root.to_str().expect("utf-8 root");
    w.ok(w.tmp.path(), &["demo", "--root", root])
}

/// `codenator <args> --json` on the world's root, parsed.
fn json(w: &World, args: &[&str]) -> Value {
    w.json(w.tmp.path(), &[args, &["--json"]].concat())
}

/// The active tasks of each slot, from `task-list --json`.
fn active_by_slot(w: &World) -> BTreeMap<String, Vec<String>> {
    let mut active: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in json(w, &["task-list"])
        .as_array()
        .expect("task-list --json is an array")
        .iter()
        .filter(|t| t["status"] == "active")
    {
        active
            .entry(t["slot"].as_str().unwrap_or("").to_string())
            .or_default()
            .push(t["task_id"].as_str().unwrap_or("").to_string());
    }
    active
}

/// `412 ms` or `1.2 s`: whole milliseconds, or seconds with one decimal.
fn rounded(d: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(ms) = d.strip_suffix(" ms") {
        return digits(ms);
    }
    d.strip_suffix(" s")
        .and_then(|s| s.split_once('.'))
        .is_some_and(|(whole, frac)| digits(whole) && frac.len() == 1 && digits(frac))
}

#[test]
fn help_lists_commands() {
    let out = cli_command().arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mcp") && text.contains("demo"), "{text}");
}

/// The harness finds the very binary cargo built for this package.
#[test]
fn the_harness_finds_the_binary_cargo_built() {
    let canon = |p: &Path| std::fs::canonicalize(p).expect("canonicalize");
    assert_eq!(
        canon(&bin("codenator")),
        canon(Path::new(env!("CARGO_BIN_EXE_codenator")))
    );
}

#[test]
fn demo_runs_and_prints_the_board() {
    let w = World::new();
    let stdout = demo(&w);
    assert!(stdout.contains("Auralis Codenator Focus Board"), "{stdout}");
    assert!(
        stdout.contains("claimed=false"),
        "the dependent task must wait: {stdout}"
    );
    assert!(stdout.contains("integration receipts:"), "{stdout}");
    // Three integrations: the two first tasks, then the dependent one once
    // its dependency landed (the run finishes what it claims).
    assert!(stdout.contains("\"integrated\":3"), "{stdout}");
    // The terms of the output are explained, and durations are rounded.
    for explained in [
        "WAKE — some slot has work waiting",
        "legend: ACTION is what the planner advises for the slot, REASON is why",
        "the coordinator stops for a summary every 35",
        "idle_healthy: nothing queued or active",
    ] {
        assert!(
            stdout.contains(explained),
            "missing {explained:?}: {stdout}"
        );
    }
    let done = stdout
        .lines()
        .find_map(|l| l.strip_prefix("done in "))
        .and_then(|l| l.split(';').next())
        .unwrap_or_else(|| panic!("no `done in` line: {stdout}"));
    assert!(rounded(done), "the total time is not rounded: {done:?}");
    // A second run adds to the same ledger.
    let again = demo(&w);
    assert!(again.contains("\"integrated\":6"), "{again}");
}

/// Every run leaves a ledger the next run starts cleanly on: after two runs
/// on one root no slot holds more than one active task (the demo used to
/// leave its last claim active, so the second run gave session-01 two).
#[test]
fn demo_twice_leaves_no_slot_with_two_active_tasks() {
    let w = World::new();
    demo(&w);
    demo(&w);

    let tasks = json(&w, &["task-list"]);
    assert_eq!(
        tasks.as_array().map(Vec::len),
        Some(6),
        "two runs of three tasks: {tasks}"
    );
    for (slot, ids) in active_by_slot(&w) {
        assert!(
            ids.len() <= 1,
            "{slot} holds {} active tasks: {ids:?}",
            ids.len()
        );
    }

    let status = json(&w, &["status"]);
    let rows = status["rows"].as_array().expect("status rows");
    assert!(rows.iter().any(|r| r["slot"] == "session-01"), "{status}");
    let mut open_active: BTreeMap<String, usize> = BTreeMap::new();
    let open = status["open_tasks"]["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("status --json has no open_tasks.tasks: {status}"));
    for t in open {
        if t["status"] == "active" {
            *open_active
                .entry(t["slot"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    for (slot, n) in &open_active {
        assert!(
            *n <= 1,
            "status lists {n} active tasks for {slot}: {status}"
        );
    }
}

/// A root an earlier run left unfinished (here: a task claimed and never
/// reported, as the old demo left its last claim, one still queued, one
/// blocked): the next run finishes or cancels them first, so session-01
/// never holds two active tasks, and it ends with nothing open.
#[test]
fn demo_finishes_what_an_earlier_run_left_open() {
    let w = World::new();
    demo(&w);
    let cli = |args: &[&str]| {
        w.ok(w.tmp.path(), args);
    };
    let create = |id: &str| {
        cli(&[
            "task-create",
            "session-01",
            "--title",
            id,
            "--message",
            "left by an earlier run",
            "--task-id",
            id,
        ])
    };
    create("left-blocked");
    cli(&["inbox", "--as", "session-01"]); // claims left-blocked
    cli(&[
        "task-update",
        "left-blocked",
        "--as",
        "session-01",
        "--blocker",
        "waits for a decision",
    ]);
    create("left-active");
    cli(&["inbox", "--as", "session-01"]); // claims left-active
    create("left-queued");
    assert_eq!(
        active_by_slot(&w).get("session-01"),
        Some(&vec!["left-active".to_string()])
    );

    let stdout = demo(&w);
    assert!(
        stdout.contains(
            "finished 3 task(s) an earlier run left open: left-active, left-blocked, left-queued"
        ),
        "{stdout}"
    );
    assert!(active_by_slot(&w).is_empty(), "{:?}", active_by_slot(&w));
    let tasks = json(&w, &["task-list"]);
    let status_of = |id: &str| {
        tasks
            .as_array()
            .and_then(|t| t.iter().find(|t| t["task_id"] == id))
            .map(|t| t["status"].clone())
            .unwrap_or_else(|| panic!("no task {id} in {tasks}"))
    };
    assert_eq!(status_of("left-active"), "integrated");
    assert_eq!(status_of("left-queued"), "integrated");
    assert_eq!(status_of("left-blocked"), "cancelled");
    let status = json(&w, &["status"]);
    assert_eq!(status["open_tasks"]["total"], 0, "{status}");
}

/// The README's run command is `cargo run --release -p codenator -- demo`:
/// with two binaries in the package (`codextrator` is the legacy alias),
/// cargo needs `default-run` to know which one to run.
#[test]
fn cargo_run_picks_the_codenator_binary() {
    let manifest = include_str!("../Cargo.toml");
    assert!(
        manifest.contains("default-run = \"codenator\""),
        "{manifest}"
    );
}

/// The README's build command is `cargo build --release`: it must build both
/// binaries, so the workspace's default members hold their packages (without
/// `default-members` cargo builds only the root package, which has only tests).
#[test]
fn cargo_build_builds_both_binaries() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let defaults = meta["workspace_default_members"]
        .as_array()
        .expect("workspace_default_members");
    for name in ["codenator", "codenator-mcp"] {
        let owner = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["targets"].as_array().into_iter().flatten().any(|t| {
                    t["name"] == name
                        && t["kind"]
                            .as_array()
                            .is_some_and(|k| k.contains(&"bin".into()))
                })
            })
            .unwrap_or_else(|| panic!("no package builds the {name} binary"));
        assert!(
            defaults.contains(&owner["id"]),
            "`cargo build` does not build {name}: {} is not a default member ({defaults:?})",
            owner["name"]
        );
    }
}
