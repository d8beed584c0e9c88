//! `codenator demo`: one coordinator and two workers, each a real
//! `codenator mcp` process on one ledger, driven through rmcp's MCP client
//! the way Codex drives them. Prints what happened and the Focus Board.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Instant;

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

/// A git worktree with one commit, so `report_commit` reads real git data.
fn worktree(root: &Path, slot: &str, file: &str) -> anyhow::Result<(PathBuf, bool)> {
    let wt = root.join("worktrees").join(slot);
    std::fs::create_dir_all(&wt)?;
    let git = |args: &[&str]| {
        StdCommand::new("git")
            .arg("-C")
            .arg(&wt)
            .args(args)
            .env("GIT_AUTHOR_NAME", "codenator demo")
            .env("GIT_AUTHOR_EMAIL", "demo@codenator.invalid")
            .env("GIT_COMMITTER_NAME", "codenator demo")
            .env("GIT_COMMITTER_EMAIL", "demo@codenator.invalid")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let has_git = git(&["init", "-q", "-b", slot]);
    if has_git {
        std::fs::write(
            wt.join(file),
            format!("work of {slot} at {}\n", ledger::time::now()),
        )?;
        git(&["add", "."]);
        git(&["commit", "-q", "-m", &format!("{slot}: {file}")]);
    }
    Ok((wt.canonicalize()?, has_git))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.root)?;
    let root = args.root.canonicalize()?;
    let t0 = Instant::now();
    println!(
        "codenator demo: ledger at {}",
        root.join(ledger::store::STORE_DIR).display()
    );
    let coord = start(&root, "coordinator").await?;
    let w1 = start(&root, "session-01").await?;
    let w2 = start(&root, "session-02").await?;
    println!(
        "  started 3 MCP server processes (coordinator, session-01, session-02) in {:?}",
        t0.elapsed()
    );

    let run_tag = format!(
        "{}-{}",
        ledger::time::compact(&ledger::time::now()),
        &ledger::model::message::new_id("r")[2..6]
    );
    let mut worktrees = Vec::new();
    for (client, slot, focus, file) in [
        (&w1, "session-01", "ledger durability", "ledger.txt"),
        (&w2, "session-02", "wake planner", "planner.txt"),
    ] {
        let (wt, has_git) = worktree(&root, slot, file)?;
        call(client, "register_slot", json!({"slot": slot, "project": "codenator", "focus": focus, "worktree": wt.to_string_lossy()})).await?;
        call(
            client,
            "record_heartbeat",
            json!({"slot": slot, "status": "ok"}),
        )
        .await?;
        worktrees.push((wt, has_git));
    }
    println!("  session-01 and session-02 registered and sent heartbeats");

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
    println!("  coordinator created 3 tasks ({t_docs} waits for {t_store})");

    let plan = call(&coord, "plan_wake", json!({})).await?;
    println!("  plan_wake before work: {}", plan["decision"]);

    for (client, slot, (wt, has_git)) in [
        (&w1, "session-01", &worktrees[0]),
        (&w2, "session-02", &worktrees[1]),
    ] {
        let claim = call(client, "claim_next_task", json!({"slot": slot})).await?;
        let task_id = claim["task"]["task_id"].as_str().unwrap_or("").to_string();
        println!("  {slot} claimed {task_id}");
        let mut report = json!({"slot": slot, "task_id": task_id});
        if !has_git {
            report = json!({"slot": slot, "task_id": task_id, "worktree": wt.to_string_lossy(), "sha": "0123456789abcdef0123456789abcdef01234567", "branch": slot, "subject": "demo commit", "changed": []});
        }
        let r = call(client, "report_commit", report).await?;
        println!(
            "  {slot} reported commit {} ({})",
            &r["report"]["sha"].as_str().unwrap_or("")
                [..7.min(r["report"]["sha"].as_str().unwrap_or("").len())],
            r["report"]["subject"].as_str().unwrap_or("")
        );
    }
    let early = call(&w1, "claim_next_task", json!({"slot": "session-01"})).await?;
    println!(
        "  session-01 tries the next task early: claimed={} (waiting on {})",
        early["claimed"], early["waiting_on_dependencies"]
    );

    let inbox = call(&coord, "read_inbox", json!({"slot": "coordinator"})).await?;
    println!("  coordinator read {} commit report(s)", inbox["returned"]);
    for m in inbox["messages"].as_array().into_iter().flatten() {
        let Some(task) = m["task_id"].as_str() else {
            continue;
        };
        let sha = m["payload"]["sha"].as_str().unwrap_or("");
        call(
            &coord,
            "update_task",
            json!({"task_id": task, "status": "integrated", "commit": sha, "tests": ["demo"]}),
        )
        .await?;
    }
    println!("  coordinator integrated them");
    let next = call(&w1, "claim_next_task", json!({"slot": "session-01"})).await?;
    println!(
        "  session-01 claims again: {} (dependency integrated)",
        next["task"]["task_id"]
    );

    let board = call(&coord, "get_focus_board", json!({})).await?;
    let plan = call(&coord, "plan_wake", json!({})).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"board": board, "plan_wake": plan}))?
        );
    } else {
        print_board(&board, &plan);
    }
    for c in [coord, w1, w2] {
        let _ = c.cancel().await;
    }
    println!(
        "\ndone in {:?}; run it again to add another round to the same ledger.",
        t0.elapsed()
    );
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn print_board(board: &Value, plan: &Value) {
    println!("\n{}", s(&board["board"]["name"]));
    let p = &board["progress"];
    println!(
        "tasks: {} total, {} open, by status {}",
        p["total_tasks"], p["open_tasks"], p["status_counts"]
    );
    println!(
        "summary pause: {} integrations since the last pause (due at {})",
        p["summary_pause"]["integrations_since_pause"], p["summary_pause"]["next_pause_at"]
    );
    println!(
        "\n{:<12} {:<20} {:<32} {:<10} {:>6}",
        "SLOT", "FOCUS", "CURRENT TASK", "STATUS", "UNREAD"
    );
    for a in board["assignments"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:<20} {:<32} {:<10} {:>6}",
            s(&a["slot"]),
            s(&a["focus"]),
            s(&a["current_task_id"]),
            s(&a["current_task_status"]),
            s(&a["unread"])
        );
    }
    println!(
        "\n{:<32} {:<12} {:<11} {:<10}",
        "TASK", "SLOT", "STATUS", "MILESTONE"
    );
    for t in board["tasks"].as_array().into_iter().flatten().take(12) {
        println!(
            "{:<32} {:<12} {:<11} {:<10}",
            s(&t["task_id"]),
            s(&t["slot"]),
            s(&t["status"]),
            s(&t["milestone_id"])
        );
    }
    println!("\nintegration receipts:");
    for r in board["integration_receipts"]
        .as_array()
        .into_iter()
        .flatten()
        .take(6)
    {
        let c = s(&r["commit"]);
        println!(
            "  {} by {} at commit {}",
            s(&r["task_id"]),
            s(&r["slot"]),
            &c[..7.min(c.len())]
        );
    }
    println!("\nwake plan: {}", s(&plan["decision"]));
    for a in plan["actions"].as_array().into_iter().flatten() {
        println!(
            "  {:<12} {:<20} {}",
            s(&a["slot"]),
            s(&a["action"]),
            s(&a["reason"])
        );
    }
}
