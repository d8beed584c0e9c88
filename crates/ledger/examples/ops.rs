//! In-process latency of ledger operations, without MCP or process
//! overhead: `cargo run --release -p codenator-ledger --example ops [N]`.
//! Separates the ledger's own cost from the transport's (see
//! `codenator bench` for end-to-end figures).

use std::time::{Duration, Instant};

use ledger::{Caller, Ctx, Store, api};

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Some(existing) = std::env::args().nth(2) {
        // Reads only, on an existing store (e.g. one `codenator bench --dir` seeded).
        let store = Store::open(std::path::Path::new(&existing))?;
        let coord = Ctx::new(Caller::coordinator());
        for _ in 0..3 {
            let mut t = Vec::new();
            for _ in 0..300 {
                let s = Instant::now();
                store.get_status(&coord, &api::GetStatus::default())?;
                t.push(s.elapsed());
            }
            println!("get_status on {existing}: p50 {:?}", p50(t));
        }
        return Ok(());
    }
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let coord = Ctx::new(Caller::coordinator());
    let w = Ctx::new(Caller::parse("session-01")?);
    store.register_slot(
        &w,
        &api::RegisterSlot {
            slot: "session-01".into(),
            worktree: Some("/tmp/wt".into()),
            ..Default::default()
        },
    )?;
    let mut t = Vec::new();
    for i in 0..n {
        let s = Instant::now();
        store.send_message(
            &w,
            &api::SendMessage {
                to: "coordinator".into(),
                message: format!("m{i}"),
                ..Default::default()
            },
        )?;
        t.push(s.elapsed());
    }
    println!("send_message      p50 {:?}", p50(t));
    let mut t = Vec::new();
    for i in 0..n {
        let s = Instant::now();
        store.create_task(
            &coord,
            &api::CreateTask {
                slot: "session-01".into(),
                title: "t".into(),
                message: "m".into(),
                task_id: Some(format!("t{i}")),
                ..Default::default()
            },
        )?;
        t.push(s.elapsed());
    }
    println!("create_task       p50 {:?}", p50(t));
    let mut t = Vec::new();
    for _ in 0..n {
        let s = Instant::now();
        store.claim_next_task(
            &w,
            &api::ClaimNextTask {
                slot: "session-01".into(),
                ..Default::default()
            },
        )?;
        t.push(s.elapsed());
    }
    println!("claim_next_task   p50 {:?}", p50(t));
    for (name, f) in [
        (
            "get_status",
            Box::new(|| {
                store
                    .get_status(&coord, &api::GetStatus::default())
                    .map(drop)
            }) as Box<dyn Fn() -> ledger::Result<()>>,
        ),
        (
            "read_inbox",
            Box::new(|| {
                store
                    .read_inbox(
                        &coord,
                        &api::ReadInbox {
                            slot: "coordinator".into(),
                            mark_read: Some(false),
                            limit: Some(20),
                        },
                    )
                    .map(drop)
            }),
        ),
        (
            "get_focus_board",
            Box::new(|| {
                store
                    .get_focus_board(&coord, &api::GetFocusBoard::default())
                    .map(drop)
            }),
        ),
        (
            "plan_wake",
            Box::new(|| store.plan_wake(&coord, &api::PlanWake::default()).map(drop)),
        ),
    ] {
        let mut t = Vec::new();
        for _ in 0..n {
            let s = Instant::now();
            f()?;
            t.push(s.elapsed());
        }
        println!("{name:<17} p50 {:?}", p50(t));
    }
    let probe = dir.path().join("probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&probe)?;
    let mut t = Vec::new();
    for _ in 0..n {
        use std::io::Write;
        let s = Instant::now();
        f.write_all(&[b'x'; 200])?;
        f.sync_data()?;
        t.push(s.elapsed());
    }
    println!("fsync floor       p50 {:?}", p50(t));
    Ok(())
}
