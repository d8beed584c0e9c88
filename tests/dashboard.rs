//! Issue 11, the admin dashboard: the real `codenator admin` process on
//! ledgers seeded through real `codenator-mcp` servers.
//!
//! - The API: health, snapshot, the task pool and a task's record, 405 on
//!   every write method, 404 on everything else (store file paths
//!   included), a foreign or missing `Host` refused, and every file under
//!   the root byte-for-byte unchanged after a session of requests, on a
//!   ledger with a board, on one without, and on reference-written stores.
//! - The live stream follows the ledger.
//! - In headless Chromium: the page shows the slots, tasks, lanes, reports
//!   and receipts; a title holding markup shows as text; the filters and
//!   the search narrow the task pool; a task created while the page is
//!   open appears without a reload; stuck work stands out; nothing is
//!   loaded from outside the binary.
//!
//! `CODENATOR_SCREENSHOT=docs/dashboard.png cargo test --test dashboard
//! the_page` also saves the README's screenshot of the seeded ledger
//! (`CODENATOR_SCREENSHOT_FULL=<png>`: the whole page;
//! `CODENATOR_SCREENSHOT_TASK=<png>`: a task's record).
// The two tests that seed background jobs are Unix only (see `seed_jobs`);
// elsewhere the helpers only they use are unused.
#![cfg_attr(not(unix), allow(dead_code))]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::{
    Admin, Browser, Client, cli_command, copy_tree, fixture, store_dir, tcall, temp_root,
};

const SHA_STORE: &str = "3f9c2a71d04be5f6a8c9d0e1f2a3b4c5d6e7f809";
const SHA_PAGE: &str = "b71e04c9a2d35f6e7a8b9c0d1e2f3a4b5c6d7e8f";
/// A title an attacker would write: it must show as these characters.
const MARKUP_TITLE: &str =
    "<img src=x onerror=\"window.__pwned=1\"><b>Escape</b> titles & \"quotes\"";

/// Every file under `root` with its bytes, and every directory.
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    test_support::walk(root)
        .into_iter()
        .map(|rel| {
            let p = root.join(&rel);
            let bytes = if p.is_dir() {
                None
            } else {
                Some(std::fs::read(&p).expect("read file"))
            };
            (rel, bytes)
        })
        .collect()
}

/// The paths that differ between two trees (added, removed or changed).
fn changes(
    before: &BTreeMap<String, Option<Vec<u8>>>,
    after: &BTreeMap<String, Option<Vec<u8>>>,
) -> Vec<String> {
    let mut out: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(v))
        .map(|(k, _)| format!("changed or removed: {k}"))
        .collect();
    out.extend(
        after
            .keys()
            .filter(|k| !before.contains_key(*k))
            .map(|k| format!("added: {k}")),
    );
    out
}

/// A slot's registration, with a worktree that need not exist.
fn registration(slot: &str, project: &str, focus: &str, branch: &str) -> Value {
    json!({"slot": slot, "project": project, "focus": focus, "branch": branch,
           "worktree": format!("/srv/worktrees/{slot}")})
}

/// A team at work, through the real tools: a board with two milestones and
/// two lanes; one task integrated with its commit, one reported, one active,
/// one queued with markup in its title, one blocked behind a failed
/// heartbeat, one whose lease expired; messages and two wake attempts.
/// Returns the coordinator's client.
async fn seed_team(root: &Path) -> anyhow::Result<Client> {
    let co = test_support::connect(root, "coordinator").await?;
    let w1 = test_support::connect(root, "session-01").await?;
    let w2 = test_support::connect(root, "session-02").await?;
    let w3 = test_support::connect(root, "session-03").await?;
    let w4 = test_support::connect(root, "session-04").await?;
    let steps: Vec<(&Client, &str, Value)> = vec![
        (&co, "record_heartbeat", json!({"slot": "coordinator"})),
        (
            &w1,
            "register_slot",
            registration(
                "session-01",
                "ledger",
                "Durable writes and indexes",
                "feat/ledger-write-path",
            ),
        ),
        (
            &w2,
            "register_slot",
            registration(
                "session-02",
                "dashboard",
                "Admin dashboard UI",
                "feat/admin-dashboard",
            ),
        ),
        (
            &w3,
            "register_slot",
            registration(
                "session-03",
                "migration",
                "Legacy inbox import",
                "fix/legacy-inbox",
            ),
        ),
        (
            &w4,
            "register_slot",
            registration(
                "session-04",
                "docs",
                "Operator guide",
                "docs/operator-guide",
            ),
        ),
        (
            &co,
            "upsert_milestone",
            json!({"milestone_id": "m-ledger", "title": "Ledger v2", "status": "active",
            "description": "One fsync per write; indexes rebuilt at will"}),
        ),
        (
            &co,
            "upsert_milestone",
            json!({"milestone_id": "m-dashboard", "title": "Admin dashboard", "status": "active",
            "description": "A live, read-only view of the whole team"}),
        ),
        (
            &co,
            "upsert_lane",
            json!({"lane_id": "core", "title": "Core ledger", "owner_slot": "session-01", "status": "active"}),
        ),
        (
            &co,
            "upsert_lane",
            json!({"lane_id": "ui", "title": "Web UI", "owner_slot": "session-02", "status": "active"}),
        ),
        (
            &co,
            "create_task",
            json!({"task_id": "t-store", "slot": "session-01", "title": "Durable store writes",
            "message": "Fold task and cursor writes into the fsynced ledger append.",
            "milestone_id": "m-ledger", "lane_id": "core", "acceptance_criteria": ["one fsync per write", "kill -9 safe"]}),
        ),
        (
            &co,
            "create_task",
            json!({"task_id": "t-index", "slot": "session-01", "title": "Rebuild the work index incrementally",
            "message": "Apply each change to the index instead of rebuilding it.",
            "milestone_id": "m-ledger", "lane_id": "core", "dependency_ids": ["t-store"]}),
        ),
        (
            &co,
            "create_task",
            json!({"task_id": "t-page", "slot": "session-02", "title": "Render the task pool with filters",
            "message": "Open / Reports / Integrated / All, and a search box.", "milestone_id": "m-dashboard", "lane_id": "ui"}),
        ),
        (
            &co,
            "create_task",
            json!({"task_id": "t-markup", "slot": "session-02", "title": MARKUP_TITLE,
            "message": "A title holding markup must show as text.", "milestone_id": "m-dashboard", "lane_id": "ui"}),
        ),
        (
            &co,
            "create_task",
            json!({"task_id": "t-stuck", "slot": "session-03", "title": "Import the legacy inbox files",
            "message": "Bring v1 inbox/<slot>/ files into the ledger.", "milestone_id": "m-ledger"}),
        ),
        (
            &co,
            "create_task",
            json!({"task_id": "t-guide", "slot": "session-04", "title": "Write the operator guide",
            "message": "How to run many sessions on one ledger.", "milestone_id": "m-dashboard"}),
        ),
        // session-01: t-store claimed, reported and integrated; then t-index claimed.
        (
            &w1,
            "claim_next_task",
            json!({"slot": "session-01", "run_id": "run-01a"}),
        ),
        (
            &w1,
            "report_commit",
            json!({"slot": "session-01", "task_id": "t-store", "run_id": "run-01a",
            "sha": SHA_STORE, "branch": "feat/ledger-write-path", "subject": "ledger: one fsync per write",
            "changed": ["crates/ledger/src/index/inbox.rs", "crates/ledger/src/ops/tasks.rs"]}),
        ),
        (
            &co,
            "update_task",
            json!({"task_id": "t-store", "status": "integrated", "commit": SHA_STORE}),
        ),
        (
            &w1,
            "claim_next_task",
            json!({"slot": "session-01", "run_id": "run-01b"}),
        ),
        (
            &w1,
            "update_task",
            json!({"task_id": "t-index", "run_id": "run-01b", "visible_progress_summary": "counters done; lanes next"}),
        ),
        (
            &w1,
            "record_heartbeat",
            json!({"slot": "session-01", "run_id": "run-01b"}),
        ),
        // session-02: t-page reported, waiting for integration; t-markup queued.
        (
            &w2,
            "claim_next_task",
            json!({"slot": "session-02", "run_id": "run-02"}),
        ),
        (
            &w2,
            "report_commit",
            json!({"slot": "session-02", "task_id": "t-page", "run_id": "run-02",
            "sha": SHA_PAGE, "branch": "feat/admin-dashboard", "subject": "dashboard: task pool filters and search",
            "changed": ["crates/dashboard/assets/app.js"]}),
        ),
        (
            &w2,
            "record_heartbeat",
            json!({"slot": "session-02", "run_id": "run-02"}),
        ),
        // session-03: blocked, and its heartbeat failed.
        (
            &w3,
            "claim_next_task",
            json!({"slot": "session-03", "run_id": "run-03"}),
        ),
        (
            &w3,
            "update_task",
            json!({"task_id": "t-stuck", "run_id": "run-03", "status": "blocked",
            "blocker": "The v1 archive holds files with no ledger line"}),
        ),
        (
            &w3,
            "record_heartbeat",
            json!({"slot": "session-03", "run_id": "run-03", "status": "failed", "error": "the session crashed"}),
        ),
        // session-04: claimed with a one-second lease and never heard from again.
        (
            &w4,
            "claim_next_task",
            json!({"slot": "session-04", "run_id": "run-04", "lease_minutes": 0.01}),
        ),
        (
            &co,
            "send_message",
            json!({"to": "all", "subject": "Standup",
            "message": "Ledger v2 first; the dashboard review is after t-page integrates."}),
        ),
        (
            &w2,
            "send_message",
            json!({"to": "coordinator", "subject": "t-page ready for review",
            "message": "Filters and search work; please integrate.", "task_id": "t-page"}),
        ),
        (
            &co,
            "send_message",
            json!({"to": "session-02", "subject": "Next: the markup title",
            "message": "Pick up t-markup after the review."}),
        ),
        (
            &co,
            "record_wake_attempt",
            json!({"slot": "session-03", "action": "wake_slot", "adapter": "codex-app-server",
            "status": "failed", "error": "thread not found", "run_id": "run-03"}),
        ),
    ];
    for (client, tool, args) in steps {
        tcall(client, tool, args).await?;
    }
    // Wake attempt files sort by their millisecond stamp: the newest last.
    tokio::time::sleep(Duration::from_millis(5)).await;
    tcall(
        &co,
        "record_wake_attempt",
        json!({"slot": "session-02", "action": "continue_task",
        "adapter": "notify-only", "status": "completed", "reason": "task_reported"}),
    )
    .await?;
    for w in [w1, w2, w3, w4] {
        w.cancel().await?;
    }
    // Let session-04's lease run out.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    Ok(co)
}

/// A ledger without a board: a worker and one task, no milestone or lane.
async fn seed_without_board(root: &Path) -> anyhow::Result<Client> {
    let co = test_support::connect(root, "coordinator").await?;
    let w = test_support::connect(root, "session-01").await?;
    tcall(
        &w,
        "register_slot",
        registration("session-01", "app", "Build", "main"),
    )
    .await?;
    tcall(&co, "create_task", json!({"task_id": "t-one", "slot": "session-01", "title": "The only task", "message": "Do it."})).await?;
    tcall(
        &co,
        "send_message",
        json!({"to": "session-01", "message": "hello"}),
    )
    .await?;
    w.cancel().await?;
    Ok(co)
}

/// What the fake Codex of [`seed_jobs`] prints on stdout (`codex exec
/// --json` events) and its exit code.
#[cfg(unix)]
const CODEX_DONE: &str = r#"{"type":"thread.started","thread_id":"th-done"}
{"type":"item.completed","item":{"id":"i0","type":"file_change","changes":[{"path":"/srv/work/src/alpha.rs","kind":"add"},{"path":"/srv/work/README.md","kind":"update"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"i1","type":"agent_message","text":"Added alpha.rs and updated the README."}}
{"type":"turn.completed","usage":{"input_tokens":1200,"cached_input_tokens":200,"output_tokens":34}}"#;
#[cfg(unix)]
const CODEX_FAIL: &str = r#"{"type":"thread.started","thread_id":"th-fail"}
{"type":"item.completed","item":{"id":"i0","type":"command_execution","command":"cargo test --workspace","exit_code":101}}
{"type":"turn.failed","error":{"message":"the model stream broke"}}"#;

/// Two background jobs, dispatched by the real `codenator job start` and
/// recorded by its real detached supervisor, with a fake Codex (a shell
/// script printing Codex's JSON events): one completed with two files and
/// its tokens, one failed. Returns their ids (completed, failed) and the
/// directory holding the scripts (keep it alive). Waits until both
/// supervisors have exited, so nothing writes under the root afterwards.
/// Unix only: the fake Codex is a shell script.
#[cfg(unix)]
fn seed_jobs(root: &Path) -> anyhow::Result<(String, String, test_support::TempDir)> {
    use std::os::unix::fs::PermissionsExt;
    let work = test_support::temp_dir("codenator-jobs-");
    let mut ids = Vec::new();
    for (name, events, code, prompt) in [
        ("done", CODEX_DONE, 0, "Add alpha.rs and document it"),
        ("fail", CODEX_FAIL, 1, "Fix the flaky store test"),
    ] {
        let script = work.path().join(format!("codex-{name}"));
        std::fs::write(
            &script,
            format!("#!/bin/sh\ncat <<'EOF'\n{events}\nEOF\nexit {code}\n"),
        )?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
        let out = cli_command()
            .current_dir(work.path())
            .env("AURALIS_CODENATOR_ROOT", root)
            .args(["job", "start", prompt, "--json", "--codex"])
            .arg(&script)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "job start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout)?;
        let id = v["job"]["id"].as_str().expect("job id").to_string();
        ids.push(id);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    for id in &ids {
        let record = store_dir(root).join(format!("jobs/{id}.json"));
        loop {
            let job: Value = serde_json::from_slice(&std::fs::read(&record)?)?;
            let ended = matches!(job["state"].as_str(), Some("completed" | "failed"));
            let alive = job["pid"].as_u64().is_some_and(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
                    st.rsplit(')')
                        .next()
                        .is_some_and(|r| !r.trim_start().starts_with('Z'))
                })
            });
            if ended && !alive {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "job {id} did not end: {job}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let failed = ids.pop().expect("two jobs");
    let done = ids.pop().expect("two jobs");
    Ok((done, failed, work))
}

/// A session of requests a curious or hostile client might make; checks
/// each answer. `task_id` names a task that exists.
fn exercise(admin: &Admin, task_id: &str) -> anyhow::Result<Value> {
    let health = admin.get("/api/health")?;
    assert_eq!(health.status, 200, "{}", health.text());
    let h = health.json()?;
    assert_eq!(h["ok"], true);
    assert_eq!(h["name"], "codenator-admin");
    assert!(h["generated_at"].is_string());
    assert_eq!(health.header("cache-control"), Some("no-store"));
    assert!(
        health
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );

    let snap = admin.get("/api/snapshot")?;
    assert_eq!(snap.status, 200, "{}", snap.text());
    let s = snap.json()?;
    for key in [
        "generated_at",
        "status",
        "board",
        "wake_plan",
        "jobs",
        "wake_attempts",
        "messages",
        "inboxes",
    ] {
        assert!(s.get(key).is_some(), "snapshot has {key}");
    }
    assert!(s["status"]["slots"].is_array());
    assert!(s["board"]["tasks"].is_array());
    assert!(s["board"]["milestones"].is_array());
    assert!(s["wake_plan"]["actions"].is_array());
    assert_eq!(s["jobs"]["available"], true, "{}", s["jobs"]);
    assert!(s["jobs"]["jobs"].is_array());

    let page = admin.get("/")?;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !page.text().contains("http://") && !page.text().contains("https://"),
        "no outside asset"
    );
    for (path, kind) in [
        ("/index.html", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let r = admin.get(path)?;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with(kind)),
            "{path}"
        );
    }
    assert_eq!(
        admin
            .request("HEAD", "/api/snapshot", Some(&admin.host()))?
            .status,
        200
    );

    let t = admin.get(&format!("/api/tasks/{task_id}"))?;
    assert_eq!(t.status, 200, "{}", t.text());
    assert_eq!(t.json()?["task"]["task_id"], task_id);
    assert!(t.json()?["history"].is_array());
    let pool = admin.get("/api/tasks?filter=all")?;
    assert_eq!(pool.status, 200, "{}", pool.text());
    assert!(pool.json()?["total"].as_u64().is_some_and(|n| n >= 1));
    for (path, status, code) in [
        ("/api/tasks/no-such-task", 404, "not_found"),
        ("/api/tasks/..%2Fregistry.json", 400, "invalid_argument"),
        ("/api/tasks?filter=bogus", 400, "invalid_argument"),
        ("/api/tasks?write=1", 400, "invalid_argument"),
    ] {
        let r = admin.get(path)?;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert_eq!(r.json()?["error"], code, "{path}");
    }

    let mut events = admin.events()?;
    let first = events.next(Duration::from_secs(10))?;
    assert_eq!(first.name, "snapshot");
    let live: Value = serde_json::from_str(&first.data)?;
    assert!(live["status"]["slots"].is_array());

    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"] {
        for path in [
            "/",
            "/api/snapshot",
            "/api/health",
            &format!("/api/tasks/{task_id}"),
            "/api/tasks",
            "/no-such-route",
        ] {
            let r = admin.request(method, path, Some(&admin.host()))?;
            assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
            assert_eq!(r.json()?["error"], "method_not_allowed");
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
        }
    }

    for path in [
        "/no-such-route",
        "/registry.json",
        "/.auralis-codextrator/registry.json",
        "/.auralis-codextrator/messages/ledger.jsonl",
        "/.auralis-codextrator/board/focus-board.json",
        "/messages/ledger.jsonl",
        "/tasks/t-store.json",
        &format!("/.auralis-codextrator/tasks/{task_id}.json"),
        "/api/../.auralis-codextrator/registry.json",
        "/%2e%2e/.auralis-codextrator/registry.json",
        "/assets/../../.auralis-codextrator/registry.json",
        "/assets/",
        "/api/",
        "/api/tasks/",
    ] {
        let r = admin.get(path)?;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()?["error"], "not_found", "{path}");
        assert!(
            !r.text().contains("auralis-codenator"),
            "{path} leaks the store"
        );
    }

    let port = admin.addr.port();
    for host in [
        Some(format!("evil.example:{port}")),
        Some("evil.example".to_string()),
        Some(format!("127.0.0.1:{}", port.wrapping_add(1))),
        Some(format!("127.0.0.1.evil.example:{port}")),
        Some(format!("localhost.evil.example:{port}")),
        None,
    ] {
        for path in ["/", "/api/snapshot", "/api/events", "/no-such-route"] {
            let r = admin.request("GET", path, host.as_deref())?;
            assert_eq!(r.status, 403, "Host {host:?} {path}: {}", r.text());
            assert_eq!(r.json()?["error"], "host_not_allowed");
        }
        let r = admin.request("POST", "/api/snapshot", host.as_deref())?;
        assert_eq!(
            r.status, 403,
            "a foreign Host is refused before anything else"
        );
    }
    assert_eq!(
        admin
            .request("GET", "/api/health", Some(&format!("localhost:{port}")))?
            .status,
        200
    );
    Ok(s)
}

// Seeds jobs with a shell-script Codex (see `seed_jobs`).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_and_writes_nothing_on_a_ledger_with_a_board() -> anyhow::Result<()> {
    let root = temp_root();
    let co = seed_team(root.path()).await?;
    co.cancel().await?;
    let (done, failed, _work) = seed_jobs(root.path())?;
    assert!(
        store_dir(root.path())
            .join("board/focus-board.json")
            .is_file(),
        "the seed wrote a board"
    );
    let before = tree(root.path());
    let admin = Admin::start(root.path())?;
    assert_eq!(
        admin.addr.ip(),
        std::net::Ipv4Addr::LOCALHOST,
        "without --host it binds loopback: {}",
        admin.url
    );
    let s = exercise(&admin, "t-store")?;

    // The jobs, newest first, as their records say.
    let jobs = s["jobs"]["jobs"].as_array().expect("jobs");
    let ids: Vec<&str> = jobs.iter().filter_map(|j| j["job_id"].as_str()).collect();
    assert_eq!(ids, [failed.as_str(), done.as_str()], "{jobs:?}");
    let (f, d) = (&jobs[0], &jobs[1]);
    assert_eq!(d["state"], "completed", "{d}");
    assert_eq!(d["coordinator"], "coordinator");
    assert_eq!(d["slot"], Value::Null, "dispatched without --slot: {d}");
    assert_eq!(d["title"], "Add alpha.rs and document it");
    assert_eq!(d["summary"], "Added alpha.rs and updated the README.");
    assert_eq!(d["exit_code"], 0);
    assert_eq!(
        d["tokens"],
        json!({"input": 1200, "cached_input": 200, "output": 34, "reasoning_output": 0, "total": 1234,
               "context_used": null, "context_window": null, "context_percent": null})
    );
    assert_eq!(
        d["files"],
        json!([{"path": "/srv/work/src/alpha.rs", "kind": "add"},
               {"path": "/srv/work/README.md", "kind": "update"}])
    );
    assert!(
        d["started_at"].is_string() && d["ended_at"].is_string(),
        "{d}"
    );
    assert!(
        d["progress"].as_array().is_some_and(|p| p
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("alpha.rs")))),
        "{d}"
    );
    assert_eq!(f["state"], "failed", "{f}");
    assert_eq!(f["title"], "Fix the flaky store test");
    assert_eq!(f["exit_code"], 1);
    assert_eq!(f["tokens"], Value::Null);
    assert_eq!(f["files"], json!([]));
    assert!(
        f["reason"]
            .as_str()
            .is_some_and(|r| r.contains("the model stream broke")),
        "{f}"
    );
    assert!(
        f["progress"].as_array().is_some_and(|p| p
            .iter()
            .any(|n| n.as_str().is_some_and(|n| n.contains("cargo test")))),
        "{f}"
    );

    let slots: Vec<&str> = s["status"]["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["slot"].as_str())
        .collect();
    assert_eq!(
        slots,
        [
            "coordinator",
            "session-01",
            "session-02",
            "session-03",
            "session-04"
        ]
    );
    let mut ms: Vec<&str> = s["board"]["milestones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["milestone_id"].as_str())
        .collect();
    ms.sort();
    assert_eq!(ms, ["m-dashboard", "m-ledger"]);
    let lane = s["board"]["lanes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["lane_id"] == "core")
        .cloned()
        .unwrap_or_default();
    assert_eq!(lane["owner_slot"], "session-01");
    assert!(
        s["board"]["reports"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["sha"] == SHA_PAGE))
    );
    assert!(
        s["board"]["integration_receipts"]
            .as_array()
            .is_some_and(|r| r
                .iter()
                .any(|r| r["task_id"] == "t-store" && r["commit"] == SHA_STORE))
    );
    assert_eq!(s["wake_attempts"].as_array().map(Vec::len), Some(2));
    assert_eq!(s["wake_attempts"][0]["status"], "completed", "newest first");
    // The jobs' callbacks and progress notes came last; before them, the team's.
    let team: Vec<&Value> = s["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| !m["type"].as_str().is_some_and(|t| t.starts_with("job.")))
        .collect();
    assert!(
        s["messages"][0]["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("job.")),
        "{}",
        s["messages"][0]
    );
    assert_eq!(team[0]["subject"], "Next: the markup title", "newest first");
    let expired = s["status"]["slots"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["slot"] == "session-04")
        .cloned()
        .unwrap_or_default();
    assert_eq!(expired["lease_expired"], true);
    let inbox = s["inboxes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["slot"] == "session-02")
        .cloned()
        .unwrap_or_default();
    assert!(
        inbox["headlines"]
            .as_array()
            .is_some_and(|h| h.iter().any(|x| x == "Next: the markup title"))
    );

    // The pool's filters, server side.
    let ids = |q: &str| -> anyhow::Result<Vec<String>> {
        let r = admin.get(&format!("/api/tasks?{q}"))?;
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let mut v: Vec<String> = r.json()?["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["task_id"].as_str().map(String::from))
            .collect();
        v.sort();
        Ok(v)
    };
    assert_eq!(
        ids("filter=open")?,
        ["t-guide", "t-index", "t-markup", "t-page", "t-stuck"]
    );
    assert_eq!(ids("")?, ids("filter=open")?, "open is the default");
    assert_eq!(ids("filter=reports")?, ["t-page"]);
    assert_eq!(ids("filter=integrated")?, ["t-store"]);
    assert_eq!(ids("filter=all")?.len(), 6);
    assert_eq!(
        ids("filter=all&q=LEGACY")?,
        ["t-stuck"],
        "search is case-insensitive"
    );
    assert_eq!(ids("filter=reports&q=legacy")?, Vec::<String>::new());

    drop(admin);
    let after = tree(root.path());
    assert_eq!(
        changes(&before, &after),
        Vec::<String>::new(),
        "the dashboard wrote under the root"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_writes_no_board_on_a_ledger_without_one() -> anyhow::Result<()> {
    let root = temp_root();
    let co = seed_without_board(root.path()).await?;
    co.cancel().await?;
    let board = store_dir(root.path()).join("board/focus-board.json");
    assert!(!board.exists(), "the seed wrote no board");
    let before = tree(root.path());
    let admin = Admin::start(root.path())?;
    let s = exercise(&admin, "t-one")?;
    assert_eq!(s["board"]["milestones"], json!([]));
    assert_eq!(
        s["board"]["lanes"].as_array().map(Vec::len),
        Some(1),
        "the slot's implicit lane"
    );
    assert_eq!(s["board"]["tasks"][0]["task_id"], "t-one");
    drop(admin);
    assert!(!board.exists(), "no default board was written");
    assert_eq!(changes(&before, &tree(root.path())), Vec::<String>::new());
    Ok(())
}

/// Stores the reference wrote (v1 and v2 layouts, no `store.lock`): read,
/// never written; the v1 inbox files are not imported. The only file a
/// read may add is the empty lock file every reader takes.
#[test]
fn reference_written_stores_are_read_and_left_as_they_are() -> anyhow::Result<()> {
    for (name, task_id) in [
        ("reference-v2", "task-active-1"),
        ("reference-v1", "v1-task-active"),
    ] {
        let root = temp_root();
        copy_tree(&fixture(name), root.path())?;
        let before = tree(root.path());
        let admin = Admin::start(root.path())?;
        let s = exercise(&admin, task_id)?;
        assert!(
            s["status"]["slots"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{name}: slots shown"
        );
        drop(admin);
        let after = tree(root.path());
        let lock = format!("{}/store.lock", test_support::STORE_DIR);
        let diff: Vec<String> = changes(&before, &after)
            .into_iter()
            .filter(|c| *c != format!("added: {lock}"))
            .collect();
        assert_eq!(
            diff,
            Vec::<String>::new(),
            "{name}: the dashboard changed the store"
        );
        if let Some(Some(bytes)) = after.get(&lock) {
            assert!(bytes.is_empty(), "the lock file holds nothing");
        }
    }
    Ok(())
}

/// A store the dashboard cannot read (a registry damaged by hand, on
/// purpose): the API says so as JSON, the stream sends `store_error`, the
/// server stays up, and nothing is repaired behind the operator's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_reported_not_repaired() -> anyhow::Result<()> {
    let root = temp_root();
    let co = seed_without_board(root.path()).await?;
    co.cancel().await?;
    let registry = store_dir(root.path()).join("registry.json");
    std::fs::write(&registry, b"{ this is not json")?;
    let before = tree(root.path());
    let mut admin = Admin::start(root.path())?;
    assert_eq!(admin.get("/api/health")?.status, 200);
    let snap = admin.get("/api/snapshot")?;
    assert_eq!(snap.status, 500, "{}", snap.text());
    let body = snap.json()?;
    assert_eq!(body["error"], "admin_server_error");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("registry.json")),
        "{body}"
    );
    let mut events = admin.events()?;
    let ev = events.next(Duration::from_secs(10))?;
    assert_eq!(ev.name, "store_error", "{}", ev.data);
    assert!(admin.running(), "the dashboard survives a damaged store");
    drop(events);
    drop(admin);
    assert_eq!(changes(&before, &tree(root.path())), Vec::<String>::new());
    Ok(())
}

#[test]
fn admin_refuses_a_root_without_a_store_and_creates_nothing() -> anyhow::Result<()> {
    let root = temp_root();
    let out = cli_command()
        .args(["admin", "--port", "0", "--root"])
        .arg(root.path())
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no codenator store"), "{err}");
    assert!(
        test_support::walk(root.path()).is_empty(),
        "nothing created: {:?}",
        test_support::walk(root.path())
    );
    let bad = cli_command()
        .args(["admin", "--host", "evil.example", "--root"])
        .arg(root.path())
        .output()?;
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--host must be an IP address"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_follows_the_ledger_within_a_second() -> anyhow::Result<()> {
    let root = temp_root();
    let co = seed_without_board(root.path()).await?;
    let admin = Admin::start(root.path())?;
    let mut events = admin.events()?;
    let first = events.next(Duration::from_secs(10))?;
    assert_eq!(first.name, "snapshot");
    assert!(!first.data.contains("t-live"));
    for (i, change) in ["create_task", "send_message", "record_heartbeat"]
        .into_iter()
        .enumerate()
    {
        let started = Instant::now();
        let mark = format!("live-{i}");
        let args = match change {
            "create_task" => {
                json!({"task_id": mark, "slot": "session-01", "title": "Created while watching", "message": "."})
            }
            "send_message" => json!({"to": "all", "subject": mark, "message": "."}),
            _ => json!({"slot": "session-01", "status": "stale", "error": mark}),
        };
        tcall(&co, change, args).await?;
        let expect = match change {
            "record_heartbeat" => "\"heartbeat_status\":\"stale\"".to_string(),
            _ => mark.clone(),
        };
        events.wait_for("snapshot", Duration::from_secs(3), |d| d.contains(&expect))?;
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "{change} reached the stream after {took:?}"
        );
        eprintln!(
            "{change}: on the stream {} ms after the call",
            took.as_millis()
        );
    }
    co.cancel().await?;
    Ok(())
}

/// Evaluate in the page; the value as a string.
fn text(b: &mut Browser, expr: &str) -> anyhow::Result<String> {
    Ok(b.eval(expr)?.as_str().unwrap_or_default().to_string())
}

/// The task ids the pool lists now.
const POOL_IDS: &str = "[...document.querySelectorAll('#pool-body tr[data-task-id]')].map(r => r.dataset.taskId).sort().join(',')";

fn wait_pool(b: &mut Browser, ids: &str) -> anyhow::Result<()> {
    let expr = format!("{POOL_IDS} === {}", serde_json::to_string(ids)?);
    b.wait_for(&expr, Duration::from_secs(5))
        .map_err(|e| anyhow::anyhow!("{e}; the pool shows {:?}", b.eval(POOL_IDS).ok()))?;
    Ok(())
}

// Seeds jobs with a shell-script Codex (see `seed_jobs`).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_team_filters_and_follows_the_ledger() -> anyhow::Result<()> {
    let root = temp_root();
    let co = seed_team(root.path()).await?;
    let (done, failed, _work) = seed_jobs(root.path())?;
    let admin = Admin::start(root.path())?;
    let mut b = Browser::launch()?;
    b.navigate(&admin.url)?;
    b.wait_for(
        "Number(document.body.dataset.snapshots || 0) >= 1",
        Duration::from_secs(10),
    )?;
    b.eval("window.__loaded_once = 'yes'")?;

    // Sessions, with what stands out.
    let slots = text(
        &mut b,
        "[...document.querySelectorAll('#sessions tr[data-slot]')].map(r => r.dataset.slot).join(',')",
    )?;
    assert_eq!(
        slots,
        "coordinator,session-01,session-02,session-03,session-04"
    );
    let row_class = |b: &mut Browser, slot: &str| {
        text(
            b,
            &format!("document.querySelector('#sessions tr[data-slot=\"{slot}\"]').className"),
        )
    };
    assert_eq!(
        row_class(&mut b, "session-03")?,
        "bad",
        "a failed heartbeat stands out"
    );
    assert_eq!(
        row_class(&mut b, "session-04")?,
        "bad",
        "an expired lease stands out"
    );
    assert_eq!(
        row_class(&mut b, "session-01")?,
        "",
        "a healthy slot does not"
    );
    let s1 = text(
        &mut b,
        "document.querySelector('#sessions tr[data-slot=\"session-01\"]').textContent",
    )?;
    assert!(
        s1.contains("Rebuild the work index incrementally") && s1.contains("active"),
        "{s1}"
    );
    let s2 = text(
        &mut b,
        "document.querySelector('#sessions tr[data-slot=\"session-02\"] .pill').title",
    )?;
    assert!(
        s2.contains("Next: the markup title"),
        "the inbox's headlines: {s2}"
    );
    let attention = text(
        &mut b,
        "document.getElementById('attention-body').textContent",
    )?;
    for what in [
        "session-03: heartbeat failed",
        "session-04: lease expired",
        "Blocked: Import the legacy inbox files",
        "Wake of session-03 failed",
        &format!("Job {failed} failed"),
    ] {
        assert!(
            attention.contains(what),
            "needs attention lists {what:?}: {attention}"
        );
    }
    assert!(
        text(&mut b, "document.querySelector('time[data-rel]').title")?.contains('T'),
        "absolute time on hover"
    );
    let shown = text(
        &mut b,
        "[...document.querySelectorAll('#sessions time[data-rel]')].map(t => t.textContent).join('|')",
    )?;
    assert!(
        !shown.is_empty()
            && shown
                .split('|')
                .all(|t| t == "just now" || t.ends_with(" ago") || t.starts_with("in ")),
        "times show relative: {shown}"
    );

    // Lanes with owners, reports, receipts, milestones, messages, wake attempts, jobs.
    let section = |b: &mut Browser, id: &str| {
        text(b, &format!("document.getElementById('{id}').textContent"))
    };
    let lanes = section(&mut b, "lanes")?;
    assert!(
        lanes.contains("Core ledger") && lanes.contains("session-01") && lanes.contains("Web UI"),
        "{lanes}"
    );
    let reports = section(&mut b, "reports")?;
    assert!(
        reports.contains(&SHA_PAGE[..7])
            && reports.contains("dashboard: task pool filters and search"),
        "{reports}"
    );
    let receipts = section(&mut b, "receipts")?;
    assert!(
        receipts.contains("t-store") && receipts.contains(&SHA_STORE[..7]),
        "{receipts}"
    );
    let milestones = section(&mut b, "milestones")?;
    assert!(
        milestones.contains("Ledger v2") && milestones.contains("1/3"),
        "{milestones}"
    );
    assert!(section(&mut b, "messages")?.contains("t-page ready for review"));
    assert!(section(&mut b, "wake-attempts")?.contains("thread not found"));
    // Jobs: the failed one stands out, the completed one shows its files.
    let job = |b: &mut Browser, id: &str, what: &str| {
        text(
            b,
            &format!("document.querySelector('#jobs li[data-job=\"{id}\"]').{what}"),
        )
    };
    assert_eq!(job(&mut b, &failed, "className")?, "bad");
    let failed_text = job(&mut b, &failed, "textContent")?;
    assert!(
        failed_text.contains("failed")
            && failed_text.contains("Fix the flaky store test")
            && failed_text.contains("the model stream broke"),
        "{failed_text}"
    );
    assert_eq!(job(&mut b, &done, "className")?, "");
    let done_text = job(&mut b, &done, "textContent")?;
    for what in [
        "completed",
        "Add alpha.rs and document it",
        "from coordinator",
        "1234 tokens",
        "2 files",
        "alpha.rs",
        "README.md",
        "Added alpha.rs and updated the README.",
    ] {
        assert!(done_text.contains(what), "{what:?} in {done_text}");
    }

    // The pool: open tasks first; a title holding markup is text.
    wait_pool(&mut b, "t-guide,t-index,t-markup,t-page,t-stuck")?;
    let markup = text(
        &mut b,
        "document.querySelector('#pool-body tr[data-task-id=\"t-markup\"] .task-title').textContent",
    )?;
    assert_eq!(markup, MARKUP_TITLE);
    assert_eq!(
        b.eval("document.querySelectorAll('img, #pool-body b').length")?,
        json!(0),
        "no markup was parsed"
    );
    assert_eq!(b.eval("window.__pwned === undefined")?, json!(true));

    assert!(
        text(
            &mut b,
            "document.querySelector('#pool-body tr[data-task-id=\"t-stuck\"]').className"
        )?
        .split(' ')
        .any(|c| c == "bad"),
        "a blocked task stands out in the pool"
    );
    assert!(
        !text(
            &mut b,
            "document.querySelector('#pool-body tr[data-task-id=\"t-markup\"]').className"
        )?
        .split(' ')
        .any(|c| c == "bad"),
        "a queued task does not"
    );

    assert!(
        text(
            &mut b,
            "document.querySelector('#pool-body tr[data-task-id=\"t-guide\"]').textContent"
        )?
        .contains("lease expired"),
        "a task whose lease expired says so in the pool"
    );

    // Filters and search narrow it.
    b.click("[data-filter=reports]")?;
    wait_pool(&mut b, "t-page")?;
    b.click("[data-filter=integrated]")?;
    wait_pool(&mut b, "t-store")?;
    b.click("[data-filter=all]")?;
    wait_pool(&mut b, "t-guide,t-index,t-markup,t-page,t-store,t-stuck")?;
    b.type_into("#pool-search", "legacy")?;
    wait_pool(&mut b, "t-stuck")?;
    b.eval("(() => { const i = document.getElementById('pool-search'); i.select(); })()")?;
    b.call("Input.insertText", json!({"text": "no task says this"}))?;
    wait_pool(&mut b, "")?;
    b.eval("(() => { const i = document.getElementById('pool-search'); i.select(); })()")?;
    b.call("Input.insertText", json!({"text": "ESCAPE"}))?;
    wait_pool(&mut b, "t-markup")?;
    b.eval("(() => { const i = document.getElementById('pool-search'); i.value = ''; i.dispatchEvent(new Event('input')); })()")?;
    b.click("[data-filter=open]")?;
    wait_pool(&mut b, "t-guide,t-index,t-markup,t-page,t-stuck")?;

    // A task opens into its full record.
    b.click("#pool-body tr[data-task-id=\"t-stuck\"]")?;
    b.wait_for("document.getElementById('task-dialog').open && document.getElementById('task-title').textContent === 'Import the legacy inbox files'", Duration::from_secs(5))?;
    let record = text(&mut b, "document.getElementById('task-body').textContent")?;
    for what in [
        "Bring v1 inbox/<slot>/ files into the ledger.",
        "The v1 archive holds files with no ledger line",
        "session-03",
        "Full record (JSON)",
    ] {
        assert!(record.contains(what), "the record shows {what:?}: {record}");
    }
    assert!(
        b.eval("document.querySelectorAll('#task-body ol.timeline li').length")?
            .as_u64()
            >= Some(3),
        "queued, active, blocked"
    );
    if let Some(path) = std::env::var_os("CODENATOR_SCREENSHOT_TASK") {
        b.screenshot(Path::new(&path))?;
    }
    b.click("#task-close")?;
    b.wait_for(
        "!document.getElementById('task-dialog').open",
        Duration::from_secs(5),
    )?;

    // A task created while the page is open appears without a reload.
    let started = Instant::now();
    tcall(
        &co,
        "create_task",
        json!({"task_id": "t-live", "slot": "session-02", "title": "Created while the page is open",
        "message": "It must appear by itself.", "milestone_id": "m-dashboard", "lane_id": "ui"}),
    )
    .await?;
    wait_pool(&mut b, "t-guide,t-index,t-live,t-markup,t-page,t-stuck")?;
    let took = started.elapsed();
    eprintln!(
        "a new task showed in the page {} ms after create_task",
        took.as_millis()
    );
    assert!(took < Duration::from_secs(3), "the page took {took:?}");
    assert_eq!(b.eval("window.__loaded_once")?, json!("yes"), "no reload");
    assert!(
        text(&mut b, "document.getElementById('card-open').textContent")?.contains('6'),
        "the cards follow too"
    );

    if let Some(path) = std::env::var_os("CODENATOR_SCREENSHOT") {
        b.eval("window.scrollTo(0, 0)")?;
        std::thread::sleep(Duration::from_millis(300));
        b.screenshot(Path::new(&path))?;
    }
    if let Some(path) = std::env::var_os("CODENATOR_SCREENSHOT_FULL") {
        b.eval("window.scrollTo(0, 0)")?;
        b.screenshot_full(Path::new(&path))?;
    }

    // A heartbeat going stale while the page is open stands out (after the
    // screenshot, which shows the seeded team).
    tcall(
        &co,
        "record_heartbeat",
        json!({"slot": "session-02", "status": "stale"}),
    )
    .await?;
    b.wait_for(
        "document.querySelector('#sessions tr[data-slot=\"session-02\"]').className === 'warn'",
        Duration::from_secs(3),
    )?;
    assert!(
        text(
            &mut b,
            "document.getElementById('attention-body').textContent"
        )?
        .contains("session-02: heartbeat stale"),
        "needs attention lists the stale heartbeat"
    );

    // Nothing from outside the binary; no script errors.
    let origin = admin.url.trim_end_matches('/').to_string();
    let foreign: Vec<&String> = b
        .requests
        .iter()
        .filter(|u| !u.starts_with(&origin) && *u != "about:blank")
        .collect();
    assert!(
        foreign.is_empty(),
        "requests outside the dashboard: {foreign:?}"
    );
    assert!(b.errors.is_empty(), "page errors: {:?}", b.errors);
    drop(b);
    co.cancel().await?;
    Ok(())
}
