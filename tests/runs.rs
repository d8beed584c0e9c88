//! Lifecycle signals carry the run (targets.md invariant 10): a task taken
//! back from a dead run and claimed by a new one refuses the old run's late
//! report, and accepts the new run's.

use serde_json::json;
use test_support::{call, connect, refused, temp_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_runs_late_report_cannot_act_on_its_successor() -> anyhow::Result<()> {
    let root = temp_root();
    let co = connect(root.path(), "coordinator").await?;
    let w = connect(root.path(), "session-01").await?;
    call(
        &w,
        "register_slot",
        json!({"slot": "session-01", "worktree": "/tmp/wt-runs"}),
    )
    .await?;
    call(
        &co,
        "create_task",
        json!({"slot": "session-01", "task_id": "t1", "title": "t", "message": "m"}),
    )
    .await?;

    let first = call(
        &w,
        "claim_next_task",
        json!({"slot": "session-01", "run_id": "run-1"}),
    )
    .await?;
    assert_eq!(first["task"]["claimed_run_id"], json!("run-1"));
    // run-1 dies; the coordinator takes the task back and run-2 claims it.
    call(
        &co,
        "update_task",
        json!({"task_id": "t1", "status": "queued"}),
    )
    .await?;
    let second = call(
        &w,
        "claim_next_task",
        json!({"slot": "session-01", "run_id": "run-2"}),
    )
    .await?;
    assert_eq!(second["claimed"], json!(true));
    assert_eq!(second["task"]["claimed_run_id"], json!("run-2"));

    let report = json!({"slot": "session-01", "task_id": "t1", "sha": "0123456789abcdef0123", "branch": "b", "subject": "s", "changed": []});
    let mut late = report.clone();
    late["run_id"] = json!("run-1");
    let err = refused(&w, "report_commit", late).await?;
    assert_eq!(err["rule"], json!("stale_run"), "{err}");
    let err = refused(
        &w,
        "update_task",
        json!({"task_id": "t1", "status": "blocked", "blocker": "late", "run_id": "run-1"}),
    )
    .await?;
    assert_eq!(err["rule"], json!("stale_run"), "{err}");

    let mut current = report;
    current["run_id"] = json!("run-2");
    let ok = call(&w, "report_commit", current).await?;
    assert_eq!(ok["task"]["status"], json!("reported"));
    let inbox = call(&co, "read_inbox", json!({"slot": "coordinator"})).await?;
    assert_eq!(
        inbox["returned"],
        json!(1),
        "exactly one report reached the coordinator: {inbox}"
    );
    Ok(())
}
