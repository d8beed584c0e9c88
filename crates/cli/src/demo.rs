//! `codenator demo`: one coordinator and two workers, each a real
//! `codenator mcp` process on one ledger, driven through rmcp's MCP client
//! the way Codex drives them. Prints what happened and the Focus Board.
//!
//! Every run finishes what it starts (each task it creates is claimed,
//! reported and integrated), and first finishes what an earlier run left
//! open (an interrupted run, or an older demo that left its last claim
//! active), so a reused root never gives a slot two active tasks.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::mcp_client::{self, Client};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Ledger root for the demo (created if missing; reuse it to see the
    /// ledger grow).
    #[arg(long, default_value = "codenator-demo")]
    root: PathBuf,
    /// Print the final board as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

async fn start(root: &Path, agent: &str) -> anyhow::Result<Client> {
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("mcp")
        .arg("--root")
        .arg(root)
        .arg("--agent")
        .arg(agent);
    cmd.env("RUST_LOG", "warn");
    Ok(mcp_client::connect(cmd).await?.0)
}

async fn call(client: &Client, tool: &str, args: Value) -> anyhow::Result<Value> {
    mcp_client::call(client, tool, &args).await
}

/// A duration for people: `412 ms` below a second, else `1.2 s`.
fn human(d: Duration) -> String {
    let ms = (d.as_secs_f64() * 1000.0).round();
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The first seven characters of a commit sha.
fn short(sha: &str) -> &str {
    &sha[..7.min(sha.len())]
}

/// Run git in `dir` with the demo's identity; true when it succeeded.
fn git(dir: &Path, args: &[&str]) -> bool {
    let demo = host::git::Identity {
        name: "codenator demo",
        email: "demo@codenator.invalid",
    };
    host::git::git_as(dir, args, &demo).is_ok()
}

/// A 40-hex stand-in commit id, distinct per task, for machines without git.
fn stand_in_sha(task_id: &str) -> String {
    (0u8..3)
        .map(|salt| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (salt, task_id).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect::<String>()[..40]
        .to_string()
}

/// A worker slot of the demo: its server process and its git worktree
/// (`<root>/worktrees/<slot>`), so `report_commit` reads real git data.
struct Worker {
    client: Client,
    slot: &'static str,
    wt: PathBuf,
    has_git: bool,
}

impl Worker {
    fn new(client: Client, root: &Path, slot: &'static str) -> anyhow::Result<Worker> {
        let wt = root.join("worktrees").join(slot);
        std::fs::create_dir_all(&wt)?;
        let has_git = git(&wt, &["init", "-q", "-b", slot]);
        Ok(Worker {
            client,
            slot,
            wt: wt.canonicalize()?,
            has_git,
        })
    }

    /// Commit the work for `task_id` in the worktree and report that
    /// commit for the task (one commit per task: a commit is reported once).
    /// Returns the short sha.
    async fn finish(&self, task_id: &str) -> anyhow::Result<String> {
        let mut report = json!({"slot": self.slot, "task_id": task_id});
        let committed = self.has_git && {
            let dir = self.wt.join("work");
            std::fs::create_dir_all(&dir)?;
            std::fs::write(
                dir.join(format!("{task_id}.txt")),
                format!("{task_id} by {} at {}\n", self.slot, ledger::time::now()),
            )?;
            git(&self.wt, &["add", "."])
                && git(
                    &self.wt,
                    &["commit", "-q", "-m", &format!("{}: {task_id}", self.slot)],
                )
        };
        if !committed {
            report = json!({"slot": self.slot, "task_id": task_id, "worktree": self.wt.to_string_lossy(), "sha": stand_in_sha(task_id), "branch": self.slot, "subject": format!("{}: {task_id}", self.slot), "changed": []});
        }
        let r = call(&self.client, "report_commit", report).await?;
        let sha = r["report"]["sha"].as_str().unwrap_or("");
        Ok(short(sha).to_string())
    }
}

/// The coordinator integrates a reported task.
async fn integrate(coord: &Client, task_id: &str, commit: &Value) -> anyhow::Result<()> {
    let mut args = json!({"task_id": task_id, "status": "integrated", "tests": ["demo"]});
    if commit.is_string() {
        args["commit"] = commit.clone();
    }
    call(coord, "update_task", args).await?;
    Ok(())
}

/// The open tasks of the demo's worker slots, oldest first.
async fn open_tasks(coord: &Client, workers: &[Worker]) -> anyhow::Result<Vec<Value>> {
    let st = call(coord, "get_status", json!({"limit": 200})).await?;
    Ok(st["open_tasks"]["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| workers.iter().any(|w| t["slot"] == w.slot))
        .cloned()
        .collect())
}

/// Finish what an earlier run left open in the demo's slots: active tasks
/// are reported, reported ones integrated, queued ones claimed; what cannot
/// move (blocked, or waiting on a task that will never land) is cancelled.
/// Returns the ids of the tasks closed.
async fn finish_leftovers(coord: &Client, workers: &[Worker]) -> anyhow::Result<BTreeSet<String>> {
    let mut closed = BTreeSet::new();
    for _ in 0..64 {
        let open = open_tasks(coord, workers).await?;
        if open.is_empty() {
            break;
        }
        let mut moved = false;
        for t in &open {
            let id = t["task_id"].as_str().unwrap_or("");
            match t["status"].as_str().unwrap_or("") {
                "active" => {
                    if let Some(w) = workers.iter().find(|w| t["slot"] == w.slot) {
                        w.finish(id).await?;
                        moved = true;
                    }
                }
                "reported" => {
                    integrate(coord, id, &t["commit"]).await?;
                    closed.insert(id.to_string());
                    moved = true;
                }
                _ => {}
            }
        }
        if !moved {
            for w in workers {
                let c = call(&w.client, "claim_next_task", json!({"slot": w.slot})).await?;
                moved |= c["claimed"] == json!(true);
            }
        }
        if !moved {
            // Blocked, or waiting on something that will never land.
            for t in &open {
                let id = t["task_id"].as_str().unwrap_or("");
                call(
                    coord,
                    "update_task",
                    json!({"task_id": id, "status": "cancelled", "visible_progress_summary": "cancelled by the demo: an earlier run left it unfinishable"}),
                )
                .await?;
                closed.insert(id.to_string());
            }
            break;
        }
    }
    if !closed.is_empty() {
        // Their commit reports are dealt with: consume them.
        call(
            coord,
            "read_inbox",
            json!({"slot": "coordinator", "limit": 200}),
        )
        .await?;
    }
    Ok(closed)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.root)?;
    let root = args.root.canonicalize()?;
    let t0 = Instant::now();
    say!(
        "codenator demo: ledger at {}",
        root.join(ledger::store::STORE_DIR).display()
    );
    let coord = start(&root, "coordinator").await?;
    let workers = [
        Worker::new(start(&root, "session-01").await?, &root, "session-01")?,
        Worker::new(start(&root, "session-02").await?, &root, "session-02")?,
    ];
    say!(
        "  started 3 MCP server processes (coordinator, session-01, session-02) in {}",
        human(t0.elapsed())
    );

    let run_tag = format!(
        "{}-{}",
        ledger::time::compact(&ledger::time::now()),
        &ledger::model::message::new_id("r")[2..6]
    );
    for (w, focus) in workers.iter().zip(["ledger durability", "wake planner"]) {
        call(&w.client, "register_slot", json!({"slot": w.slot, "project": "codenator", "focus": focus, "worktree": w.wt.to_string_lossy()})).await?;
        call(
            &w.client,
            "record_heartbeat",
            json!({"slot": w.slot, "status": "ok"}),
        )
        .await?;
    }
    call(
        &coord,
        "record_heartbeat",
        json!({"slot": "coordinator", "status": "ok"}),
    )
    .await?;
    say!(
        "  session-01 and session-02 registered; all three sent a heartbeat (the planner's sign that a session is alive)"
    );

    let leftovers = finish_leftovers(&coord, &workers).await?;
    if !leftovers.is_empty() {
        say!(
            "  finished {} task(s) an earlier run left open: {}",
            leftovers.len(),
            leftovers.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }

    // The summary pause: every 35 integrations the coordinator stops and
    // summarises for the operator before it assigns more work.
    let before = call(&coord, "plan_wake", json!({})).await?;
    let pause = &before["summary"]["coordinator_pause"];
    if pause["due"] == json!(true) {
        let since = &pause["integrations_since_pause"];
        call(
            &coord,
            "record_summary_pause",
            json!({"summary": format!("demo: {since} integrations since the last pause, all by the demo's two workers")}),
        )
        .await?;
        say!(
            "  summary pause was due ({since} integrations since the last one): the coordinator recorded it before assigning more work"
        );
    }

    call(
        &coord,
        "upsert_milestone",
        json!({"milestone_id": "m1", "title": "First slice", "status": "active"}),
    )
    .await?;
    call(
        &coord,
        "upsert_lane",
        json!({"lane_id": "storage", "title": "Storage", "owner_slot": "session-01"}),
    )
    .await?;
    call(
        &coord,
        "upsert_lane",
        json!({"lane_id": "planning", "title": "Planning", "owner_slot": "session-02"}),
    )
    .await?;
    let t_store = format!("store-{run_tag}");
    let t_plan = format!("plan-{run_tag}");
    let t_docs = format!("docs-{run_tag}");
    call(&coord, "create_task", json!({"slot": "session-01", "task_id": t_store, "title": "Make appends durable", "message": "fsync before acknowledging", "milestone_id": "m1", "lane_id": "storage", "acceptance_criteria": ["kill -9 loses nothing"]})).await?;
    call(&coord, "create_task", json!({"slot": "session-02", "task_id": t_plan, "title": "Plan wakes", "message": "never call a busy slot idle", "milestone_id": "m1", "lane_id": "planning"})).await?;
    call(&coord, "create_task", json!({"slot": "session-01", "task_id": t_docs, "title": "Document the store", "message": "after the durable appends land", "milestone_id": "m1", "dependency_ids": [t_store]})).await?;
    say!("  coordinator created 3 tasks ({t_docs} waits for {t_store})");

    let plan = call(&coord, "plan_wake", json!({})).await?;
    say!(
        "  plan_wake before work: {}",
        decision_line(&plan["decision"])
    );
    for a in plan["actions"].as_array().into_iter().flatten() {
        let action = a["action"].as_str().unwrap_or("");
        if !matches!(action, "ok" | "idle_healthy") {
            say!(
                "    {}: {action} ({})",
                s(&a["slot"]),
                gloss(a["reason"].as_str().unwrap_or("")).unwrap_or("")
            );
        }
    }

    for w in &workers {
        let claim = call(&w.client, "claim_next_task", json!({"slot": w.slot})).await?;
        let task_id = claim["task"]["task_id"].as_str().unwrap_or("").to_string();
        say!("  {} claimed {task_id}", w.slot);
        let sha = w.finish(&task_id).await?;
        say!("  {} committed its work and reported commit {sha}", w.slot);
    }
    let early = call(
        &workers[0].client,
        "claim_next_task",
        json!({"slot": "session-01"}),
    )
    .await?;
    say!(
        "  session-01 tries the next task early: claimed={} ({t_docs} waits for {t_store}: reported, not integrated yet)",
        early["claimed"]
    );

    let inbox = call(
        &coord,
        "read_inbox",
        json!({"slot": "coordinator", "limit": 200}),
    )
    .await?;
    let mut integrated = 0;
    for m in inbox["messages"].as_array().into_iter().flatten() {
        let Some(task) = m["task_id"]
            .as_str()
            .filter(|_| m["type"] == "commit_report")
        else {
            continue;
        };
        integrate(&coord, task, &m["payload"]["sha"]).await?;
        integrated += 1;
    }
    say!("  coordinator read {integrated} commit report(s) and integrated them");

    let next = call(
        &workers[0].client,
        "claim_next_task",
        json!({"slot": "session-01"}),
    )
    .await?;
    let next_id = next["task"]["task_id"].as_str().unwrap_or("").to_string();
    say!("  session-01 claims again: {next_id} (its dependency {t_store} is integrated now)");
    let sha = workers[0].finish(&next_id).await?;
    say!("  session-01 committed its work and reported commit {sha}");
    let report = call(
        &coord,
        "read_inbox",
        json!({"slot": "coordinator", "limit": 200}),
    )
    .await?;
    for m in report["messages"].as_array().into_iter().flatten() {
        if let Some(task) = m["task_id"]
            .as_str()
            .filter(|_| m["type"] == "commit_report")
        {
            integrate(&coord, task, &m["payload"]["sha"]).await?;
        }
    }
    say!("  coordinator integrated {next_id}: every task of this run is done, none left active");

    let board = call(&coord, "get_focus_board", json!({})).await?;
    let plan = call(&coord, "plan_wake", json!({})).await?;
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&json!({"board": board, "plan_wake": plan}))?
        );
    } else {
        print_board(&board, &plan)?;
    }
    let _ = coord.cancel().await;
    for w in workers {
        let _ = w.client.cancel().await;
    }
    say!(
        "\ndone in {}; run it again to add another round to the same ledger.",
        human(t0.elapsed())
    );
    Ok(())
}

/// What a `plan_wake` decision means.
fn decision_meaning(decision: &str) -> &'static str {
    match decision {
        "WAKE" => "some slot has work waiting and should be nudged",
        "NOTIFY" => "nobody needs waking, but the coordinator should look at something",
        "DONT_NOTIFY" => "nothing needs attention",
        "PAUSE" => "a summary pause is due: the coordinator stops to summarise before more work",
        _ => "see the actions below",
    }
}

fn decision_line(decision: &Value) -> String {
    let d = decision.as_str().unwrap_or("?");
    format!("{d} — {}", decision_meaning(d))
}

/// What an action or a reason of the wake plan means.
fn gloss(term: &str) -> Option<&'static str> {
    Some(match term {
        "ok" => "the coordinator has nothing to read and a fresh heartbeat",
        "coordinator_inbox" | "coordinator_unread" => {
            "the coordinator has unread messages (commit reports to integrate)"
        }
        "coordinator_heartbeat_due" => "the coordinator should record a heartbeat",
        "coordinator_summary_pause" => {
            "stop assigning, summarise for the operator, then call record_summary_pause"
        }
        "summary_pause_due" => "integrations since the last summary pause reached the threshold",
        "summary_pause_hold" => "hold the slot until the coordinator's summary pause is recorded",
        "parked" | "slot_parked" => "the slot is parked or paused on purpose",
        "idle_stale" => "nothing to do, but its session looks gone (see the reason)",
        "blocked_restart_required" => "it has work but its session looks gone: restart it",
        "wake_slot" => "start or nudge the slot's session: it has a task or messages waiting",
        "continue_task" | "task_active" => "the slot is working on a task: nudge it to go on",
        "task_blocked" => "the slot reported its task blocked: the coordinator must help",
        "waiting_dependencies" | "task_waiting_dependencies" => {
            "its next task waits for another task to be integrated"
        }
        "await_integration" | "task_reported" => {
            "the slot reported a commit: the coordinator should integrate it"
        }
        "idle_healthy" => "nothing queued or active and a fresh heartbeat: free for new work",
        "task_queued_unclaimed" => "a task is queued for the slot and not claimed yet",
        "task_inbox_unread" => "unread messages about its tasks, such as a new assignment",
        "slot_inbox_unread" => "unread messages",
        "heartbeat_missing" => "the slot never recorded a heartbeat, so nobody knows it is alive",
        "heartbeat_overdue" => "its last heartbeat is older than the heartbeat window",
        "heartbeat_stale" => "its last heartbeat said stale",
        "heartbeat_failed" => "its last heartbeat said failed",
        _ => return None,
    })
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_board(board: &Value, plan: &Value) -> std::io::Result<()> {
    say!("\n{}", s(&board["board"]["name"]));
    let p = &board["progress"];
    say!(
        "tasks: {} total, {} open, by status {}",
        p["total_tasks"],
        p["open_tasks"],
        p["status_counts"]
    );
    let sp = &p["summary_pause"];
    say!(
        "summary pause: {} integrations since the last pause; the coordinator stops for a summary every {} (next at {} integrated tasks)",
        sp["integrations_since_pause"],
        sp["range"]["recommended"],
        sp["next_pause_at"]
    );
    say!(
        "\n{:<12} {:<20} {:<32} {:<10} {:>6}",
        "SLOT",
        "FOCUS",
        "CURRENT TASK",
        "STATUS",
        "UNREAD"
    );
    for a in board["assignments"].as_array().into_iter().flatten() {
        say!(
            "{:<12} {:<20} {:<32} {:<10} {:>6}",
            s(&a["slot"]),
            s(&a["focus"]),
            s(&a["current_task_id"]),
            s(&a["current_task_status"]),
            s(&a["unread"])
        );
    }
    say!(
        "\n{:<32} {:<12} {:<11} {:<10}",
        "TASK",
        "SLOT",
        "STATUS",
        "MILESTONE"
    );
    for t in board["tasks"].as_array().into_iter().flatten().take(12) {
        say!(
            "{:<32} {:<12} {:<11} {:<10}",
            s(&t["task_id"]),
            s(&t["slot"]),
            s(&t["status"]),
            s(&t["milestone_id"])
        );
    }
    say!("\nintegration receipts:");
    for r in board["integration_receipts"]
        .as_array()
        .into_iter()
        .flatten()
        .take(6)
    {
        say!(
            "  {} by {} at commit {}",
            s(&r["task_id"]),
            s(&r["slot"]),
            short(&s(&r["commit"]))
        );
    }
    say!("\nwake plan: {}", decision_line(&plan["decision"]));
    say!(
        "legend: ACTION is what the planner advises for the slot, REASON is why (blank: all fine)"
    );
    say!("  {:<12} {:<26} REASON", "SLOT", "ACTION");
    let mut terms = Vec::new();
    for a in plan["actions"].as_array().into_iter().flatten() {
        let (action, reason) = (s(&a["action"]), a["reason"].as_str().unwrap_or(""));
        let line = format!("  {:<12} {:<26} {reason}", s(&a["slot"]), action);
        say!("{}", line.trim_end());
        for t in [action.as_str(), reason] {
            if !t.is_empty() && !terms.iter().any(|x: &String| x == t) {
                terms.push(t.to_string());
            }
        }
    }
    for t in &terms {
        if let Some(g) = gloss(t) {
            say!("  {t}: {g}");
        }
    }
    Ok(())
}
