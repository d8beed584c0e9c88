//! Randomised tests of everything that comes from outside: tool arguments
//! (mutated from valid calls: dropped keys, wrong types, huge and hostile
//! strings, unknown keys) and the bytes of ledger, task, cursor and board
//! files. Every call must return `Ok` or a clear `Err`; none may panic, and
//! no file may appear outside the ledger root.
//!
//! Short by default; `CODENATOR_FUZZ_ITERS=100000 cargo test -p
//! codenator-ledger --test fuzz --release` runs longer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ledger::{Caller, Ctx, Store, api};
use serde_json::{Map, Value, json};

/// xorshift64*: deterministic, seedable, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn iterations() -> usize {
    std::env::var("CODENATOR_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500)
}

fn seed() -> u64 {
    std::env::var("CODENATOR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
}

fn hostile_string(r: &mut Rng) -> String {
    let pool = [
        "../../x",
        "..",
        "/etc/passwd",
        "a/b",
        "session-01",
        "coordinator",
        "all",
        "",
        " ",
        "\u{0}",
        "tab\there",
        "line\nbreak",
        "\u{202e}rtl",
        "ünïcødé",
        "💥",
        "%2e%2e%2f",
        "C:\\x",
        "task-1",
        "null",
        "{\"json\":1}",
        "\u{7f}",
        "x y",
    ];
    match r.below(4) {
        0 => pool[r.below(pool.len())].to_string(),
        1 => "a".repeat(r.below(3) * 40_000 + r.below(70)),
        2 => (0..r.below(30))
            .map(|_| char::from_u32(r.below(0x3000) as u32).unwrap_or('x'))
            .collect(),
        _ => format!("{}-{}", pool[r.below(pool.len())], r.below(1000)),
    }
}

fn random_value(r: &mut Rng, depth: usize) -> Value {
    match r.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(r.chance(50)),
        2 => json!((r.next() as i64) >> r.below(60)),
        3 => json!(f64::from_bits(r.next()).clamp(-1e300, 1e300)),
        4 => json!(hostile_string(r)),
        5 => Value::Array(
            (0..r.below(5))
                .map(|_| random_value(r, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..r.below(5) {
                m.insert(
                    hostile_string(r).chars().take(20).collect(),
                    random_value(r, depth + 1),
                );
            }
            Value::Object(m)
        }
    }
}

/// Mutate a valid argument object.
fn mutate(r: &mut Rng, mut v: Map<String, Value>) -> Value {
    let keys: Vec<String> = v.keys().cloned().collect();
    for k in keys {
        match r.below(10) {
            0 => {
                v.remove(&k);
            }
            1 | 2 => {
                v.insert(k, random_value(r, 0));
            }
            3 => {
                v.insert(k, json!(hostile_string(r)));
            }
            _ => {}
        }
    }
    if r.chance(10) {
        v.insert(
            hostile_string(r).chars().take(12).collect(),
            random_value(r, 0),
        );
    }
    Value::Object(v)
}

fn templates() -> Vec<(&'static str, Value)> {
    vec![
        (
            "get_status",
            json!({"slot": "session-01", "limit": 5, "offset": 0}),
        ),
        (
            "register_slot",
            json!({"slot": "session-01", "project": "p", "focus": "f", "worktree": "/tmp/wt", "status": "active", "app_server_thread_id": "t"}),
        ),
        (
            "send_message",
            json!({"to": "coordinator", "message": "m", "subject": "s", "type": "note", "task_id": "task-1", "payload": {"a": 1}}),
        ),
        (
            "read_inbox",
            json!({"slot": "session-01", "mark_read": true, "limit": 3}),
        ),
        (
            "get_focus_board",
            json!({"viewer_slot": "session-01", "limit": 5}),
        ),
        (
            "upsert_milestone",
            json!({"milestone_id": "m1", "title": "t", "status": "planned", "order": 1}),
        ),
        (
            "upsert_lane",
            json!({"lane_id": "l1", "owner_slot": "session-01", "order": 2}),
        ),
        (
            "create_task",
            json!({"slot": "session-01", "title": "t", "message": "m", "task_id": "task-1", "dependency_ids": ["task-0"], "milestone_id": "m1"}),
        ),
        (
            "claim_next_task",
            json!({"slot": "session-01", "run_id": "r1", "lease_minutes": 5}),
        ),
        ("get_task", json!({"task_id": "task-1", "message_limit": 3})),
        (
            "list_tasks",
            json!({"status": ["queued", "done"], "slot": "session-01", "milestone_id": "m1", "text": "t", "limit": 3, "offset": 1, "detail": true}),
        ),
        (
            "requeue_expired_leases",
            json!({"dry_run": false, "checked_at": "2027-01-01T00:00:00.000Z"}),
        ),
        (
            "update_task",
            json!({"task_id": "task-1", "status": "blocked", "blocker": "b", "tests": "a,b"}),
        ),
        (
            "report_commit",
            json!({"slot": "session-01", "sha": "0123456789abcdef", "branch": "b", "subject": "s", "changed": ["M\ta"], "worktree": "/tmp/wt"}),
        ),
        (
            "record_heartbeat",
            json!({"slot": "session-01", "status": "ok", "run_id": "r1"}),
        ),
        (
            "plan_wake",
            json!({"adapter": "codex-app-server", "heartbeat_max_minutes": 5, "checked_at": "2026-01-01T00:00:00.000Z"}),
        ),
        (
            "record_summary_pause",
            json!({"summary": "s", "integration_count": 0}),
        ),
        (
            "record_wake_attempt",
            json!({"slot": "session-01", "status": "planned", "result": {"ok": true}}),
        ),
    ]
}

fn dispatch(store: &Store, ctx: &Ctx, tool: &str, args: Value) -> Result<(), String> {
    macro_rules! op {
        ($ty:ty, $m:ident) => {{
            let req: $ty = serde_json::from_value(args).map_err(|e| e.to_string())?;
            store.$m(ctx, &req).map(|_| ()).map_err(|e| e.to_string())
        }};
    }
    match tool {
        "get_status" => op!(api::GetStatus, get_status),
        "register_slot" => op!(api::RegisterSlot, register_slot),
        "send_message" => op!(api::SendMessage, send_message),
        "read_inbox" => op!(api::ReadInbox, read_inbox),
        "get_focus_board" => op!(api::GetFocusBoard, get_focus_board),
        "upsert_milestone" => op!(api::UpsertMilestone, upsert_milestone),
        "upsert_lane" => op!(api::UpsertLane, upsert_lane),
        "create_task" => op!(api::CreateTask, create_task),
        "claim_next_task" => op!(api::ClaimNextTask, claim_next_task),
        "update_task" => op!(api::UpdateTask, update_task),
        "report_commit" => {
            let req: api::ReportCommit = serde_json::from_value(args).map_err(|e| e.to_string())?;
            host::git::report_commit(store, ctx, &req)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        "get_task" => op!(api::GetTask, get_task),
        "list_tasks" => op!(api::ListTasks, list_tasks),
        "requeue_expired_leases" => op!(api::RequeueExpiredLeases, requeue_expired_leases),
        "record_heartbeat" => op!(api::RecordHeartbeat, record_heartbeat),
        "plan_wake" => op!(api::PlanWake, plan_wake),
        "record_summary_pause" => op!(api::RecordSummaryPause, record_summary_pause),
        "record_wake_attempt" => op!(api::RecordWakeAttempt, record_wake_attempt),
        other => Err(format!("unknown tool {other}")),
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A parent directory holding the root, so stray files would be seen.
fn sandbox() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().expect("tempdir");
    let root = parent.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    (parent, root)
}

fn assert_inside(parent: &Path, root: &Path) {
    let mut files = Vec::new();
    all_files(parent, &mut files);
    for f in files {
        assert!(
            f.starts_with(root),
            "a file appeared outside the root: {}",
            f.display()
        );
    }
}

#[test]
fn tool_arguments_never_panic_or_escape() {
    let (parent, root) = sandbox();
    let store = Store::open(&root).expect("store");
    let callers = [
        Caller::coordinator(),
        Caller::parse("session-01").expect("slot"),
        Caller::parse("session-02").expect("slot"),
    ];
    let mut r = Rng(seed());
    let templates = templates();
    let (mut ok, mut refused) = (0, 0);
    for i in 0..iterations() {
        let (tool, template) = &templates[r.below(templates.len())];
        let args = if r.chance(15) {
            template.clone()
        } else if r.chance(5) {
            random_value(&mut r, 0)
        } else {
            mutate(&mut r, template.as_object().cloned().unwrap_or_default())
        };
        let ctx = Ctx::new(callers[r.below(callers.len())].clone());
        let shown = args.to_string().chars().take(300).collect::<String>();
        match catch_unwind(AssertUnwindSafe(|| dispatch(&store, &ctx, tool, args))) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => {
                assert!(!e.is_empty(), "an empty error for {tool} {shown}");
                refused += 1;
            }
            Err(_) => panic!(
                "iteration {i}: {tool} panicked on {shown} as {:?}",
                ctx.caller
            ),
        }
    }
    assert!(
        ok > 0 && refused > 0,
        "the generator must reach both outcomes ({ok} ok, {refused} refused)"
    );
    assert_inside(parent.path(), &root);
}

#[test]
fn damaged_files_never_panic() {
    let mut r = Rng(seed() ^ 0xdead_beef);
    let rounds = (iterations() / 30).max(20);
    for round in 0..rounds {
        let (parent, root) = sandbox();
        let store = Store::open(&root).expect("store");
        let coord = Ctx::new(Caller::coordinator());
        let w1 = Ctx::new(Caller::parse("session-01").expect("slot"));
        let _ = store.register_slot(
            &coord,
            &api::RegisterSlot {
                slot: "session-01".into(),
                worktree: Some("/tmp/wt".into()),
                ..Default::default()
            },
        );
        let _ = store.create_task(
            &coord,
            &api::CreateTask {
                slot: "session-01".into(),
                title: "t".into(),
                message: "m".into(),
                task_id: Some("task-1".into()),
                ..Default::default()
            },
        );
        let _ = store.send_message(
            &coord,
            &api::SendMessage {
                to: "session-01".into(),
                message: "hello".into(),
                ..Default::default()
            },
        );
        // Damage one or more files with random bytes, truncation or JSON of the wrong shape.
        let targets = [
            "messages/ledger.jsonl",
            "tasks/task-1.json",
            "cursors/session-01.json",
            "board/focus-board.json",
            "index/ledger.json",
            "index/work.json",
            "index/inbox/session-01.idx",
            "heartbeat/session-01.json",
        ];
        for _ in 0..=r.below(3) {
            let path = store.dir().join(targets[r.below(targets.len())]);
            let old = std::fs::read(&path).unwrap_or_default();
            let bytes: Vec<u8> = match r.below(5) {
                0 => (0..r.below(400)).map(|_| r.next() as u8).collect(),
                1 => old[..r.below(old.len() + 1)].to_vec(),
                2 => {
                    let mut b = old.clone();
                    for _ in 0..r.below(8) + 1 {
                        if !b.is_empty() {
                            let at = r.below(b.len());
                            b[at] = r.next() as u8;
                        }
                    }
                    b
                }
                3 => random_value(&mut r, 0).to_string().into_bytes(),
                _ => {
                    let mut b = old.clone();
                    b.extend_from_slice(b"{\"seq\":\"x\",\"to\":\"session-01\"\n[1,2]\n{\"torn\":");
                    b
                }
            };
            std::fs::write(&path, bytes).expect("damage");
        }
        let calls: Vec<Box<dyn Fn() -> bool>> = vec![
            Box::new(|| store.get_status(&coord, &api::GetStatus::default()).is_ok()),
            Box::new(|| {
                store
                    .read_inbox(
                        &w1,
                        &api::ReadInbox {
                            slot: "session-01".into(),
                            ..Default::default()
                        },
                    )
                    .is_ok()
            }),
            Box::new(|| {
                store
                    .get_focus_board(&coord, &api::GetFocusBoard::default())
                    .is_ok()
            }),
            Box::new(|| store.plan_wake(&coord, &api::PlanWake::default()).is_ok()),
            Box::new(|| {
                store
                    .claim_next_task(
                        &w1,
                        &api::ClaimNextTask {
                            slot: "session-01".into(),
                            ..Default::default()
                        },
                    )
                    .is_ok()
            }),
            Box::new(|| {
                store
                    .send_message(
                        &w1,
                        &api::SendMessage {
                            to: "coordinator".into(),
                            message: "after damage".into(),
                            ..Default::default()
                        },
                    )
                    .is_ok()
            }),
            Box::new(|| ledger::maint::doctor::run(&store, true).is_ok()),
            Box::new(|| {
                store
                    .send_message(
                        &w1,
                        &api::SendMessage {
                            to: "coordinator".into(),
                            message: "after repair".into(),
                            ..Default::default()
                        },
                    )
                    .is_ok()
            }),
        ];
        for (i, c) in calls.iter().enumerate() {
            assert!(
                catch_unwind(AssertUnwindSafe(c)).is_ok(),
                "round {round}: call {i} panicked on damaged files"
            );
        }
        // After doctor --repair, the store works again for a plain message.
        let res = store.read_inbox(
            &coord,
            &api::ReadInbox {
                slot: "coordinator".into(),
                ..Default::default()
            },
        );
        let body = res.unwrap_or_else(|e| panic!("round {round}: inbox after repair: {e}"));
        let texts: Vec<&str> = body.messages.iter().map(|m| m.message.as_str()).collect();
        assert!(texts.contains(&"after repair"), "round {round}: {texts:?}");
        assert_inside(parent.path(), &root);
    }
}
