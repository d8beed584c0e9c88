//! Many `codenator-mcp` processes on one ledger at once.
//!
//! The reference had no locking at all (spec §7.1, §7.2): concurrent appends
//! lost lines and duplicated `seq`s, registry read-modify-writes lost
//! updates, and two processes of one slot could both claim the same task.
//! These tests start real server processes, drive them concurrently through
//! rmcp's client, and then check the files on disk and the answers of fresh
//! processes: nothing lost, nothing duplicated, no double claim.
//!
//! The binaries must be current: `cargo test --workspace --test races` does
//! not rebuild them (the test package does not depend on the server crates);
//! `cargo test --workspace` or `cargo build --workspace` first does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Map, Value, json};
use test_support::{Client, connect, ledger_file, store_dir, str_field as s, tcall, temp_root};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// Every line of the ledger parsed as a JSON object. Any line that does not
/// parse fails the test: nothing was killed here, so nothing may be torn.
fn ledger(root: &Path) -> Result<Vec<Map<String, Value>>> {
    let path = ledger_file(root);
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    ensure!(
        text.is_empty() || text.ends_with('\n'),
        "the ledger ends in an unterminated line"
    );
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => out.push(m),
            other => bail!(
                "ledger line {} does not parse as an object: {other:?}: {line}",
                i + 1
            ),
        }
    }
    Ok(out)
}

fn seq_of(m: &Map<String, Value>) -> Result<u64> {
    m.get("seq")
        .and_then(Value::as_u64)
        .with_context(|| format!("a ledger line without a numeric seq: {m:?}"))
}

/// The ledger's seqs must be exactly 1..=n in file order (assigned under the
/// lock, appended under the same lock).
fn check_seqs(lines: &[Map<String, Value>]) -> Result<()> {
    for (i, l) in lines.iter().enumerate() {
        let seq = seq_of(l)?;
        ensure!(
            seq == i as u64 + 1,
            "line {} has seq {seq}; seqs must be 1..={} in order with no gap or duplicate",
            i + 1,
            lines.len()
        );
    }
    let ids: BTreeSet<&str> = lines.iter().map(|l| s(l, "id")).collect();
    ensure!(
        ids.len() == lines.len(),
        "duplicate message ids in the ledger"
    );
    Ok(())
}

/// Read a slot's whole inbox page by page (limit 200, mark_read) and return
/// the messages in the order received. Checks the paging counters and that
/// the slot ends with nothing unread.
async fn drain_inbox(client: &Client, slot: &str, expect_total: usize) -> Result<Vec<Value>> {
    let mut got: Vec<Value> = Vec::new();
    let max_pages = expect_total / 200 + 3;
    for page in 0..max_pages {
        let r = tcall(
            client,
            "read_inbox",
            json!({"slot": slot, "mark_read": true, "limit": 200}),
        )
        .await?;
        let unread = r["unread_count"].as_u64().context("unread_count")? as usize;
        let returned = r["returned"].as_u64().context("returned")? as usize;
        let remaining = r["remaining_unread"].as_u64().context("remaining_unread")? as usize;
        let msgs = r["messages"].as_array().context("messages")?;
        ensure!(
            msgs.len() == returned,
            "page {page}: returned {returned} but {} messages",
            msgs.len()
        );
        ensure!(
            unread == expect_total - got.len(),
            "page {page}: unread_count {unread}, expected {}",
            expect_total - got.len()
        );
        ensure!(returned <= 200, "page {page}: more than the limit");
        ensure!(
            remaining == unread - returned,
            "page {page}: remaining_unread {remaining} != {unread} - {returned}"
        );
        if returned == 0 {
            ensure!(
                unread == 0,
                "page {page}: nothing returned but {unread} unread"
            );
            return Ok(got);
        }
        got.extend(msgs.iter().cloned());
    }
    bail!("{slot}'s inbox was not empty after {max_pages} pages")
}

/// Check that `received` is exactly the ledger's messages for `slot` (sent to
/// it or to `all`, not by it), each once, in seq order.
fn check_delivery(lines: &[Map<String, Value>], slot: &str, received: &[Value]) -> Result<()> {
    let expected: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| (s(l, "to") == slot || s(l, "to") == "all") && s(l, "from") != slot)
        .map(|l| Ok((seq_of(l)?, s(l, "id"))))
        .collect::<Result<_>>()?;
    let got: Vec<(u64, &str)> = received
        .iter()
        .map(|m| {
            Ok((
                m["seq"].as_u64().context("received message without seq")?,
                m["id"].as_str().context("received message without id")?,
            ))
        })
        .collect::<Result<_>>()?;
    for w in got.windows(2) {
        ensure!(
            w[0].0 < w[1].0,
            "{slot} received seq {} before seq {}",
            w[0].0,
            w[1].0
        );
    }
    let ids: BTreeSet<&str> = got.iter().map(|g| g.1).collect();
    ensure!(ids.len() == got.len(), "{slot} received a message twice");
    if got != expected {
        let want: BTreeSet<&str> = expected.iter().map(|e| e.1).collect();
        bail!(
            "{slot} received {} messages, the ledger holds {} for it; missing {:?}, unexpected {:?}",
            got.len(),
            expected.len(),
            want.difference(&ids).take(10).collect::<Vec<_>>(),
            ids.difference(&want).take(10).collect::<Vec<_>>()
        );
    }
    Ok(())
}

async fn close_all(clients: impl IntoIterator<Item = Client>) {
    for c in clients {
        let _ = c.cancel().await;
    }
}

fn slot_name(i: usize) -> String {
    format!("session-{i:02}")
}

/// (a) 16 processes (session-01..08, each with two processes) each send 50
/// messages to the coordinator at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_lose_and_duplicate_nothing() -> Result<()> {
    const N: usize = 50;
    let started = Instant::now();
    let root = temp_root();
    let agents: Vec<String> = (1..=8).chain(1..=8).map(slot_name).collect();
    let mut clients = Vec::new();
    for a in &agents {
        clients.push(Arc::new(connect(root.path(), a).await?));
    }
    let barrier = Arc::new(Barrier::new(agents.len()));
    let mut set = JoinSet::new();
    for (p, (agent, client)) in agents.iter().zip(&clients).enumerate() {
        let (agent, client, barrier) = (agent.clone(), client.clone(), barrier.clone());
        set.spawn(async move {
            barrier.wait().await;
            let mut acked = Vec::with_capacity(N);
            for j in 0..N {
                let body = format!("{agent}/p{p}/m{j}");
                let r = tcall(
                    &client,
                    "send_message",
                    json!({"to": "coordinator", "message": body, "subject": format!("race {p}")}),
                )
                .await?;
                let m = &r["message"];
                ensure!(
                    m["from"] == json!(agent) && m["message"] == json!(body),
                    "odd answer {r}"
                );
                acked.push((
                    m["id"].as_str().context("id")?.to_string(),
                    m["seq"].as_u64().context("seq")?,
                    p,
                    j,
                ));
            }
            anyhow::Ok(acked)
        });
    }
    let mut acked = Vec::new();
    while let Some(r) = set.join_next().await {
        acked.extend(r??);
    }
    let send_time = started.elapsed();
    let total = agents.len() * N;
    ensure!(acked.len() == total);

    // The ledger: exactly `total` lines, seqs 1..=total, every acknowledged
    // message there once with the seq it was acknowledged with.
    let lines = ledger(root.path())?;
    ensure!(
        lines.len() == total,
        "{} ledger lines, {total} messages acknowledged",
        lines.len()
    );
    check_seqs(&lines)?;
    let by_id: HashMap<&str, &Map<String, Value>> = lines.iter().map(|l| (s(l, "id"), l)).collect();
    for (id, seq, p, j) in &acked {
        let l = by_id
            .get(id.as_str())
            .with_context(|| format!("acknowledged {id} is not in the ledger"))?;
        ensure!(
            seq_of(l)? == *seq,
            "{id} acknowledged with seq {seq}, stored with {}",
            seq_of(l)?
        );
        ensure!(
            s(l, "message") == format!("{}/p{p}/m{j}", agents[*p]),
            "{id} stored with another body"
        );
    }
    // One process sends sequentially, so its messages keep their order.
    let mut per_proc: BTreeMap<usize, Vec<(usize, u64)>> = BTreeMap::new();
    for (_, seq, p, j) in &acked {
        per_proc.entry(*p).or_default().push((*j, *seq));
    }
    for (p, mut v) in per_proc {
        v.sort();
        ensure!(
            v.windows(2).all(|w| w[0].1 < w[1].1),
            "process {p}'s messages are out of order"
        );
    }

    // The coordinator reads them all, page by page, exactly once, in order.
    let coord = connect(root.path(), "coordinator").await?;
    let received = drain_inbox(&coord, "coordinator", total).await?;
    check_delivery(&lines, "coordinator", &received)?;
    let again = tcall(
        &coord,
        "read_inbox",
        json!({"slot": "coordinator", "mark_read": false}),
    )
    .await?;
    ensure!(
        again["unread_count"] == json!(0),
        "unread after draining: {again}"
    );

    // A later write continues the sequence.
    let w = connect(root.path(), "session-08").await?;
    let r = tcall(
        &w,
        "send_message",
        json!({"to": "coordinator", "message": "after"}),
    )
    .await?;
    ensure!(r["message"]["seq"] == json!(total + 1), "next seq: {r}");
    close_all([coord, w]).await;
    close_all(clients.into_iter().filter_map(Arc::into_inner)).await;
    eprintln!(
        "concurrent senders: {} processes x {N} = {total} messages in {send_time:?}, whole test {:?}",
        agents.len(),
        started.elapsed()
    );
    Ok(())
}

/// (b) 4 processes per slot claim from one queue while the coordinator (two
/// processes, one per slot) is still filling it: every task is claimed
/// exactly once, by its own slot, in queue order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_double_claim() -> Result<()> {
    const TASKS: usize = 40;
    const PROCS: usize = 4;
    const PREFILLED: usize = 20;
    let started = Instant::now();
    let root = temp_root();
    let slots = [slot_name(1), slot_name(2)];
    let task_id = |slot: &str, i: usize| format!("race-{slot}-{i:03}");

    let mut creators = Vec::new();
    for _ in &slots {
        creators.push(connect(root.path(), "coordinator").await?);
    }
    let mut claimers = Vec::new();
    for slot in &slots {
        for _ in 0..PROCS {
            claimers.push((slot.clone(), Arc::new(connect(root.path(), slot).await?)));
        }
    }
    let done_creating = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(claimers.len() + 1));

    let mut claim_set = JoinSet::new();
    for (p, (slot, client)) in claimers.iter().enumerate() {
        let (slot, client, done, barrier) = (
            slot.clone(),
            client.clone(),
            done_creating.clone(),
            barrier.clone(),
        );
        claim_set.spawn(async move {
            barrier.wait().await;
            let mut claimed = Vec::new();
            let mut empty_after_done = 0;
            for _ in 0..1000 {
                let finished = done.load(Ordering::SeqCst);
                let r = tcall(&client, "claim_next_task", json!({"slot": slot})).await?;
                if r["claimed"] == json!(true) {
                    let t = &r["task"];
                    ensure!(
                        t["slot"] == json!(slot),
                        "{slot} claimed a task of another slot: {t}"
                    );
                    ensure!(
                        t["status"] == json!("active"),
                        "claimed task not active: {t}"
                    );
                    claimed.push(t["task_id"].as_str().context("task_id")?.to_string());
                    empty_after_done = 0;
                } else {
                    ensure!(
                        r["claimed"] == json!(false) && r["task"].is_null(),
                        "odd claim answer {r}"
                    );
                    if finished {
                        empty_after_done += 1;
                        if empty_after_done >= 3 {
                            return anyhow::Ok((p, slot, claimed));
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            }
            bail!("claimer {p} ({slot}) did not see an empty queue after 1000 calls")
        });
    }

    // Half of each queue exists before the claimers start (they all race
    // for a full queue); the other half is created while they claim.
    let mut create_set = JoinSet::new();
    for (slot, coord) in slots.iter().zip(creators) {
        let slot = slot.clone();
        let ids: Vec<String> = (0..TASKS).map(|i| task_id(&slot, i)).collect();
        for id in &ids[..PREFILLED] {
            tcall(
                &coord,
                "create_task",
                json!({"slot": slot, "title": format!("task {id}"), "message": "do it", "task_id": id}),
            )
            .await?;
        }
        create_set.spawn(async move {
            let mut acked: Vec<String> = ids[..PREFILLED].to_vec();
            for id in ids[PREFILLED..].iter().cloned() {
                let r = tcall(
                    &coord,
                    "create_task",
                    json!({"slot": slot, "title": format!("task {id}"), "message": "do it", "task_id": id}),
                )
                .await?;
                ensure!(r["task"]["task_id"] == json!(id) && r["task"]["status"] == json!("queued"), "{r}");
                acked.push(id);
            }
            anyhow::Ok((acked, coord))
        });
    }
    barrier.wait().await;
    let mut created = BTreeSet::new();
    let mut coords = Vec::new();
    while let Some(r) = create_set.join_next().await {
        let (ids, coord) = r??;
        created.extend(ids);
        coords.push(coord);
    }
    done_creating.store(true, Ordering::SeqCst);
    let mut claims: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut per_proc = BTreeMap::new();
    while let Some(r) = claim_set.join_next().await {
        let (p, slot, ids) = r??;
        per_proc.insert(p, ids.len());
        for id in ids {
            claims.entry(id).or_default().push((p, slot.clone()));
        }
    }
    let race_time = started.elapsed();

    ensure!(created.len() == TASKS * slots.len());
    for id in &created {
        let who = claims.get(id).map(Vec::as_slice).unwrap_or_default();
        ensure!(
            who.len() == 1,
            "task {id} was claimed {} times: {who:?}",
            who.len()
        );
    }
    let unknown: Vec<&String> = claims.keys().filter(|k| !created.contains(*k)).collect();
    ensure!(
        unknown.is_empty(),
        "claimed tasks nobody created: {unknown:?}"
    );
    for (id, who) in &claims {
        ensure!(
            id.starts_with(&format!("race-{}-", who[0].1)),
            "{id} claimed by {who:?}"
        );
    }

    // The task files say active, and within a slot the claims followed the
    // queue order (each claim takes the oldest queued task).
    for slot in &slots {
        let mut rows = Vec::new();
        for i in 0..TASKS {
            let id = task_id(slot, i);
            let p = store_dir(root.path()).join(format!("tasks/{id}.json"));
            let t: Value = serde_json::from_str(&std::fs::read_to_string(&p)?)
                .with_context(|| format!("task file {} does not parse", p.display()))?;
            ensure!(
                t["status"] == json!("active"),
                "task {id} is {}",
                t["status"]
            );
            ensure!(t["slot"] == json!(slot));
            let started_at = t["started_at"].as_str().context("started_at")?.to_string();
            rows.push((
                t["assign_seq"].as_u64().context("assign_seq")?,
                started_at,
                id,
            ));
        }
        rows.sort();
        for w in rows.windows(2) {
            ensure!(
                w[0].1 <= w[1].1,
                "{} (assign seq {}) was claimed after {} (assign seq {}): not queue order",
                w[0].2,
                w[0].0,
                w[1].2,
                w[1].0
            );
        }
    }

    // Every claim consumed its own task.assign, and only that: nothing unread.
    let lines = ledger(root.path())?;
    ensure!(
        lines.len() == TASKS * slots.len(),
        "{} ledger lines",
        lines.len()
    );
    check_seqs(&lines)?;
    for slot in &slots {
        let w = connect(root.path(), slot).await?;
        let r = tcall(&w, "read_inbox", json!({"slot": slot, "mark_read": false})).await?;
        ensure!(
            r["unread_count"] == json!(0),
            "{slot} still has unread task.assign messages: {r}"
        );
        let r = tcall(&w, "claim_next_task", json!({"slot": slot})).await?;
        ensure!(
            r["claimed"] == json!(false),
            "a task was left to claim: {r}"
        );
        close_all([w]).await;
    }
    close_all(coords).await;
    close_all(claimers.into_iter().filter_map(|(_, c)| Arc::into_inner(c))).await;
    eprintln!(
        "concurrent claims: {} tasks, {} claimer processes (claims per process {per_proc:?}) in {race_time:?}, whole test {:?}",
        created.len(),
        slots.len() * PROCS,
        started.elapsed()
    );
    Ok(())
}

/// (c) Heartbeats, registrations, task creation and messages from many
/// processes at once: no lost registry update, no duplicate seq, every
/// message delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_writers_lose_no_update() -> Result<()> {
    const WORKERS: usize = 8;
    const K: usize = 25; // heartbeat + message rounds per worker process
    const TASKS: usize = 40;
    const COORD_MSGS: usize = 40;
    const BROADCASTS: usize = 15;
    let started = Instant::now();
    let root = temp_root();

    let workers: Vec<String> = (1..=WORKERS).map(slot_name).collect();
    let late_slots: Vec<String> = (WORKERS + 1..=2 * WORKERS).map(slot_name).collect();
    let mut worker_clients = Vec::new();
    for w in &workers {
        worker_clients.push((w.clone(), connect(root.path(), w).await?));
    }
    // Second processes for four of the slots: they broadcast.
    let mut extra_clients = Vec::new();
    for w in &workers[..4] {
        extra_clients.push((w.clone(), connect(root.path(), w).await?));
    }
    let coord_a = connect(root.path(), "coordinator").await?;
    let coord_b = connect(root.path(), "coordinator").await?;
    let nprocs = worker_clients.len() + extra_clients.len() + 2;
    let barrier = Arc::new(Barrier::new(nprocs));

    #[derive(Default)]
    struct Out {
        msg_ids: Vec<String>,
        task_ids: Vec<String>,
        /// slot → (last focus registered, last heartbeat run id)
        last: Vec<(String, String, String)>,
    }
    let mut set: JoinSet<Result<(Out, Client)>> = JoinSet::new();

    for (slot, client) in worker_clients {
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            let mut out = Out::default();
            let reg = |focus: &str| {
                json!({"slot": slot, "project": "race", "focus": focus, "worktree": format!("/tmp/wt/{slot}")})
            };
            tcall(&client, "register_slot", reg("focus-start")).await?;
            let mut focus = "focus-start".to_string();
            let mut run = String::new();
            for k in 0..K {
                run = format!("run-{slot}-{k}");
                let r = tcall(&client, "record_heartbeat", json!({"slot": slot, "status": "ok", "run_id": run})).await?;
                ensure!(r["slot_registered"] == json!(true), "{slot} registered, then its heartbeat found it unregistered (a lost registry update): {r}");
                let r = tcall(&client, "send_message", json!({"to": "coordinator", "message": format!("{slot} {k}")})).await?;
                out.msg_ids.push(r["message"]["id"].as_str().context("id")?.to_string());
                if k % 5 == 4 {
                    focus = format!("focus-{k}");
                    let r = tcall(&client, "register_slot", reg(&focus)).await?;
                    ensure!(r["slot"]["heartbeat"]["run_id"] == json!(run), "re-registering lost the heartbeat: {r}");
                }
            }
            out.last.push((slot.clone(), focus, run));
            Ok((out, client))
        });
    }
    for (slot, client) in extra_clients {
        let barrier = barrier.clone();
        set.spawn(async move {
            barrier.wait().await;
            let mut out = Out::default();
            for k in 0..BROADCASTS {
                let r = tcall(
                    &client,
                    "send_message",
                    json!({"to": "all", "message": format!("{slot} says {k}")}),
                )
                .await?;
                out.msg_ids
                    .push(r["message"]["id"].as_str().context("id")?.to_string());
            }
            Ok((out, client))
        });
    }
    {
        let (barrier, workers) = (barrier.clone(), workers.clone());
        set.spawn(async move {
            barrier.wait().await;
            let mut out = Out::default();
            for i in 0..TASKS {
                let slot = &workers[i % workers.len()];
                let id = format!("mixed-{i:03}");
                let r = tcall(
                    &coord_a,
                    "create_task",
                    json!({"slot": slot, "title": format!("task {i}"), "message": "work", "task_id": id}),
                )
                .await?;
                out.task_ids.push(id);
                out.msg_ids.push(r["message"]["id"].as_str().context("id")?.to_string());
            }
            Ok((out, coord_a))
        });
    }
    {
        let (barrier, workers, late) = (barrier.clone(), workers.clone(), late_slots.clone());
        set.spawn(async move {
            barrier.wait().await;
            let mut out = Out::default();
            let mut run = String::new();
            for i in 0..COORD_MSGS {
                let r = tcall(
                    &coord_b,
                    "send_message",
                    json!({"to": workers[i % workers.len()], "message": format!("note {i}")}),
                )
                .await?;
                out.msg_ids.push(r["message"]["id"].as_str().context("id")?.to_string());
                if i % 5 == 0 {
                    let slot = &late[(i / 5) % late.len()];
                    tcall(
                        &coord_b,
                        "register_slot",
                        json!({"slot": slot, "project": "late", "focus": "registered by the coordinator", "worktree": format!("/tmp/wt/{slot}")}),
                    )
                    .await?;
                    run = format!("run-coordinator-{i}");
                    tcall(&coord_b, "record_heartbeat", json!({"slot": "coordinator", "run_id": run})).await?;
                }
            }
            out.last.push(("coordinator".into(), String::new(), run));
            Ok((out, coord_b))
        });
    }
    let mut out = Out::default();
    let mut clients = Vec::new();
    while let Some(r) = set.join_next().await {
        let (o, c) = r??;
        out.msg_ids.extend(o.msg_ids);
        out.task_ids.extend(o.task_ids);
        out.last.extend(o.last);
        clients.push(c);
    }
    let race_time = started.elapsed();

    // The registry parses and holds every registration and the last
    // heartbeat of every slot.
    let reg_path = store_dir(root.path()).join("registry.json");
    let reg: Value = serde_json::from_str(&std::fs::read_to_string(&reg_path)?)
        .context("registry.json does not parse")?;
    let sessions = reg["sessions"]
        .as_object()
        .context("registry has no sessions")?;
    for slot in workers.iter().chain(&late_slots) {
        ensure!(
            sessions.contains_key(slot),
            "registration of {slot} was lost: {:?}",
            sessions.keys()
        );
    }
    ensure!(
        sessions.len() == 2 * WORKERS,
        "unexpected sessions {:?}",
        sessions.keys()
    );
    for slot in &late_slots {
        ensure!(
            sessions[slot]["project"] == json!("late"),
            "{slot}: {}",
            sessions[slot]
        );
    }
    for (slot, focus, run) in &out.last {
        let e = if slot == "coordinator" {
            &reg["coordinator"]
        } else {
            &sessions[slot]
        };
        ensure!(
            e["heartbeat"]["run_id"] == json!(run),
            "{slot}'s last heartbeat was lost: {e}"
        );
        ensure!(e["run_id"] == json!(run), "{slot}'s run id was lost: {e}");
        if slot != "coordinator" {
            ensure!(
                e["focus"] == json!(focus),
                "{slot}'s last registration was lost: {e}"
            );
            ensure!(e["project"] == json!("race"), "{slot}: {e}");
        }
        let hb_path = store_dir(root.path()).join(format!("heartbeat/{slot}.json"));
        let hb: Value = serde_json::from_str(&std::fs::read_to_string(&hb_path)?)
            .context("heartbeat file does not parse")?;
        ensure!(hb["run_id"] == json!(run), "{slot}'s heartbeat file: {hb}");
    }

    // The ledger: one line per acknowledged message, seqs 1..=n.
    let lines = ledger(root.path())?;
    let total = WORKERS * K + 4 * BROADCASTS + TASKS + COORD_MSGS;
    ensure!(out.msg_ids.len() == total);
    ensure!(
        lines.len() == total,
        "{} ledger lines for {total} acknowledged messages",
        lines.len()
    );
    check_seqs(&lines)?;
    let ids: BTreeSet<&str> = lines.iter().map(|l| s(l, "id")).collect();
    for id in &out.msg_ids {
        ensure!(
            ids.contains(id.as_str()),
            "acknowledged {id} is not in the ledger"
        );
    }
    for id in &out.task_ids {
        let p = store_dir(root.path()).join(format!("tasks/{id}.json"));
        let t: Value = serde_json::from_str(&std::fs::read_to_string(&p)?).context("task file")?;
        ensure!(t["status"] == json!("queued"), "{id}: {t}");
    }

    // Every slot receives exactly what the ledger holds for it.
    for slot in workers.iter().map(String::as_str).chain(["coordinator"]) {
        let expected = lines
            .iter()
            .filter(|l| (s(l, "to") == slot || s(l, "to") == "all") && s(l, "from") != slot)
            .count();
        let c = connect(root.path(), slot).await?;
        let got = drain_inbox(&c, slot, expected).await?;
        check_delivery(&lines, slot, &got)?;
        close_all([c]).await;
    }
    close_all(clients).await;
    eprintln!(
        "mixed writers: {nprocs} processes, {total} messages, {TASKS} tasks, {} slots in {race_time:?}, whole test {:?}",
        2 * WORKERS,
        started.elapsed()
    );
    Ok(())
}
