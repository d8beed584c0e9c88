//! `kill -9` of writer processes at random moments, damaged derived indexes
//! and torn ledger lines (targets.md invariants 3 and 4; the reference's
//! loss paths in spec §7.2).
//!
//! Each round starts a few `codenator-mcp` writer processes that send
//! messages, create and claim tasks, report commits and record heartbeats as
//! fast as they can, records every write whose answer came back, and
//! SIGKILLs the processes at random moments. Between rounds the derived
//! indexes under `<store>/index/` are deleted, truncated or overwritten and a
//! torn line is appended to the ledger. Then fresh processes must start,
//! answer (read-only answers agreeing with the primary files before any
//! write repairs an index), hold every acknowledged write, deliver every
//! message exactly once, accept a retried `report_commit` and new writes.
//! After every round `codenator doctor` must find only repairable damage;
//! at the end `codenator doctor --repair` must clean up without losing an
//! acknowledged write.
//!
//! The binaries must be current: `cargo test --workspace --test crash` does
//! not rebuild them (the test package does not depend on the server crates);
//! `cargo test --workspace` or `cargo build --workspace` first does.
//!
//! The random schedule comes from a xorshift seeded by the clock; the seed is
//! printed, and `CODENATOR_CRASH_SEED=<n>` replays it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rmcp::ServiceExt;
use serde_json::{Map, Value, json};
use test_support::{
    CALL_TIMEOUT, Client, call_raw, cli_command, connect, connect_expecting_warnings, ledger_file,
    server_command, store_dir, str_field as s, tcall, temp_root,
};
use tokio::task::JoinSet;

const COORD: &str = "coordinator";
const S1: &str = "session-01";
const S2: &str = "session-02";

/// xorshift64*: no dependency, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn seeded() -> (Rng, u64) {
        let seed = std::env::var("CODENATOR_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1);
                t ^ (u64::from(std::process::id()) << 32)
            });
        (Rng(seed.max(1)), seed)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A server process we can SIGKILL: spawned by hand so we keep its `Child`,
/// with rmcp's client on its stdout/stdin.
struct Killable {
    child: tokio::process::Child,
    client: Arc<Client>,
}

async fn spawn_killable(root: &Path, agent: &str, env: &[(&str, String)]) -> Result<Killable> {
    let mut cmd = server_command(root, Some(agent));
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().context("spawning codenator-mcp")?;
    let stdout = child.stdout.take().context("child stdout")?;
    let stdin = child.stdin.take().context("child stdin")?;
    let client = tokio::time::timeout(CALL_TIMEOUT, ().serve((stdout, stdin)))
        .await
        .context("handshake timed out")??;
    Ok(Killable {
        child,
        client: Arc::new(client),
    })
}

/// Writes whose answers came back, and anything a live server refused.
#[derive(Default)]
struct Acked {
    /// message id → (seq, to, type)
    messages: BTreeMap<String, (u64, String, String)>,
    /// task id → (slot, id of its task.assign message)
    tasks: BTreeMap<String, (String, String)>,
    claims: BTreeSet<String>,
    /// slot → the latest acknowledged heartbeat (round, k)
    heartbeats: BTreeMap<String, (u64, u64)>,
    /// sha → task id of acknowledged commit reports
    reports: BTreeMap<String, String>,
    /// report_commit calls sent whose answer never came (sha → request)
    pending_reports: BTreeMap<String, Value>,
    refusals: Vec<String>,
}

type Shared = Arc<Mutex<Acked>>;

fn lock(a: &Shared) -> std::sync::MutexGuard<'_, Acked> {
    a.lock().unwrap_or_else(|p| p.into_inner())
}

fn note_message(acked: &Shared, m: &Value) -> Result<()> {
    let id = m["id"].as_str().context("message id")?.to_string();
    let seq = m["seq"].as_u64().context("message seq")?;
    let to = m["to"].as_str().unwrap_or("").to_string();
    let ty = m["type"].as_str().unwrap_or("message").to_string();
    let prev = lock(acked).messages.insert(id.clone(), (seq, to, ty));
    ensure!(prev.is_none(), "message id {id} acknowledged twice");
    Ok(())
}

/// What one writer loop does.
#[derive(Clone, Copy, Debug)]
enum Job {
    /// coordinator: create tasks for session-01 and session-02, alternately.
    CreateTasks,
    /// any slot: send messages to the given peers in turn.
    Send(&'static [&'static str]),
    /// a worker: heartbeats (and, when `claim` is set, claims a task and
    /// reports a commit for it), one after the other.
    Heartbeat { slot: &'static str, claim: bool },
}

/// A fresh 40-hex-digit sha for a report.
fn sha_for(round: u64, tag: usize, k: u64) -> String {
    format!("{round:08x}{tag:08x}{k:024x}")
}

/// Run one writer loop until its server dies (or the cap). Answers that come
/// back are recorded; a refusal from a live server is recorded as a failure.
async fn writer_loop(client: Arc<Client>, job: Job, round: u64, tag: usize, acked: Shared) {
    let mut claimed: Option<String> = None;
    for k in 0..100_000u64 {
        let (tool, args) = match job {
            Job::CreateTasks => {
                let slot = if k % 2 == 0 { S1 } else { S2 };
                (
                    "create_task",
                    json!({"slot": slot, "title": format!("crash r{round} {k}"), "message": "work",
                           "task_id": format!("crash-r{round}-w{tag}-{k}")}),
                )
            }
            Job::Send(peers) => (
                "send_message",
                json!({"to": peers[k as usize % peers.len()], "message": format!("r{round} w{tag} #{k}")}),
            ),
            Job::Heartbeat { slot, claim } if claim && k % 3 == 1 => {
                ("claim_next_task", json!({"slot": slot}))
            }
            Job::Heartbeat { slot, claim } if claim && k % 3 == 2 && claimed.is_some() => {
                let id = claimed.take().unwrap_or_default();
                let sha = sha_for(round, tag, k);
                let req = json!({"slot": slot, "task_id": id, "sha": sha, "branch": "main",
                                 "subject": format!("work on {id}"), "changed": ["src/lib.rs"]});
                lock(&acked).pending_reports.insert(sha, req.clone());
                ("report_commit", req)
            }
            Job::Heartbeat { slot, .. } => (
                "record_heartbeat",
                json!({"slot": slot, "status": "ok", "run_id": format!("hb-{round}-{k}")}),
            ),
        };
        let res =
            match tokio::time::timeout(CALL_TIMEOUT, call_raw(&client, tool, args.clone())).await {
                Ok(Ok(r)) => r,
                // The transport died (killed) or hung: this write is unacknowledged.
                Ok(Err(_)) | Err(_) => return,
            };
        let body = res.structured_content.clone().unwrap_or(Value::Null);
        if res.is_error == Some(true) {
            lock(&acked)
                .refusals
                .push(format!("{tool} {args} -> {body}"));
            continue;
        }
        let r: Result<()> = (|| {
            match job {
                Job::CreateTasks => {
                    note_message(&acked, &body["message"])?;
                    let id = body["task"]["task_id"]
                        .as_str()
                        .context("task id")?
                        .to_string();
                    let slot = body["task"]["slot"]
                        .as_str()
                        .context("task slot")?
                        .to_string();
                    let mid = body["message"]["id"]
                        .as_str()
                        .context("msg id")?
                        .to_string();
                    lock(&acked).tasks.insert(id, (slot, mid));
                }
                Job::Send(_) => note_message(&acked, &body["message"])?,
                Job::Heartbeat { slot, .. } if tool == "record_heartbeat" => {
                    lock(&acked).heartbeats.insert(slot.to_string(), (round, k));
                }
                Job::Heartbeat { .. } if tool == "report_commit" => {
                    let sha = args["sha"].as_str().unwrap_or("").to_string();
                    ensure!(
                        body["already_reported"] == json!(false),
                        "a new sha reported as known"
                    );
                    ensure!(
                        body["task"]["status"] == json!("reported"),
                        "task not reported"
                    );
                    note_message(&acked, &body["message"])?;
                    let mut a = lock(&acked);
                    a.pending_reports.remove(&sha);
                    a.reports
                        .insert(sha, args["task_id"].as_str().unwrap_or("").to_string());
                }
                Job::Heartbeat { .. } => {
                    if body["claimed"] == json!(true) {
                        let id = body["task"]["task_id"]
                            .as_str()
                            .context("claimed id")?
                            .to_string();
                        ensure!(
                            lock(&acked).claims.insert(id.clone()),
                            "task {id} claimed twice"
                        );
                        claimed = Some(id);
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            lock(&acked)
                .refusals
                .push(format!("{tool}: odd answer {body}: {e:#}"));
        }
    }
}

/// One parsed ledger: good lines in file order and the number of lines that
/// did not parse (torn or damaged).
struct Ledger {
    lines: Vec<Map<String, Value>>,
    damaged: usize,
}

fn read_ledger(root: &Path) -> Result<Ledger> {
    let path = ledger_file(root);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).context(path.display().to_string()),
    };
    let mut lines = Vec::new();
    let mut damaged = 0;
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(m)) => lines.push(m),
            _ => damaged += 1,
        }
    }
    Ok(Ledger { lines, damaged })
}

/// Ways to damage the derived state between rounds.
const DAMAGE: &[&str] = &[
    "delete index/inbox/coordinator.idx",
    "truncate index/inbox/session-01.idx",
    "delete index/ledger.json",
    "garbage in index/ledger.json",
    "truncate index/work.json",
    "delete the index directory",
    "truncate index/inbox/session-02.idx to whole records",
    "append a torn line to the ledger",
];

fn damage(root: &Path, kind: usize, rng: &mut Rng) -> Result<()> {
    let dir = store_dir(root);
    let truncate = |rel: &str, whole_records: bool, rng: &mut Rng| -> Result<()> {
        let p = dir.join(rel);
        if let Ok(m) = std::fs::metadata(&p) {
            let mut len = rng.below(m.len());
            if whole_records {
                len -= len % 40;
            }
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)?
                .set_len(len)?;
        }
        Ok(())
    };
    let remove = |rel: &str| {
        let _ = std::fs::remove_file(dir.join(rel));
    };
    match kind {
        0 => remove("index/inbox/coordinator.idx"),
        1 => truncate("index/inbox/session-01.idx", false, rng)?,
        2 => remove("index/ledger.json"),
        3 => {
            // (The index directory may be gone after an earlier damage.)
            let _ = std::fs::write(
                dir.join("index/ledger.json"),
                b"{\"version\":1,\"covered\":",
            );
        }
        4 => truncate("index/work.json", false, rng)?,
        5 => {
            let _ = std::fs::remove_dir_all(dir.join("index"));
        }
        6 => truncate("index/inbox/session-02.idx", true, rng)?,
        _ => {
            // What a writer killed in the middle of its append leaves.
            use std::io::Write;
            let line = json!({"id": format!("msg_torn{}", rng.below(1 << 40)), "type": "message",
                              "from": S1, "to": COORD, "message": "torn", "seq": 999_999_999u64})
            .to_string();
            let cut = 1 + rng.below(line.len() as u64 - 2) as usize;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(dir.join("messages/ledger.jsonl"))?;
            f.write_all(&line.as_bytes()[..cut])?;
        }
    }
    Ok(())
}

/// Read a slot's inbox to the end (limit 200, mark_read), checking the page
/// counters, and return the messages in the order received.
async fn drain(client: &Client, slot: &str) -> Result<Vec<Map<String, Value>>> {
    let mut got = Vec::new();
    for _ in 0..500 {
        let r = tcall(
            client,
            "read_inbox",
            json!({"slot": slot, "mark_read": true, "limit": 200}),
        )
        .await?;
        let unread = r["unread_count"].as_u64().context("unread_count")?;
        let returned = r["returned"].as_u64().context("returned")?;
        ensure!(
            r["remaining_unread"].as_u64() == Some(unread - returned.min(unread)),
            "{slot}: inconsistent counters {r}"
        );
        let msgs = r["messages"].as_array().context("messages")?;
        ensure!(
            msgs.len() as u64 == returned,
            "{slot}: returned {returned}, got {}",
            msgs.len()
        );
        if returned == 0 {
            ensure!(unread == 0, "{slot}: nothing returned but {unread} unread");
            return Ok(got);
        }
        for m in msgs {
            got.push(m.as_object().context("message is not an object")?.clone());
        }
    }
    bail!("{slot}'s inbox did not drain")
}

/// Everything a slot has received so far, over all rounds.
#[derive(Default)]
struct Received {
    ids: BTreeSet<String>,
    max_seq: u64,
}

impl Received {
    fn add(&mut self, slot: &str, msgs: &[Map<String, Value>]) -> Result<()> {
        for m in msgs {
            let seq = m
                .get("seq")
                .and_then(Value::as_u64)
                .context("received message without seq")?;
            let id = s(m, "id").to_string();
            ensure!(
                seq > self.max_seq,
                "{slot} received seq {seq} after seq {} (redelivery or disorder)",
                self.max_seq
            );
            self.max_seq = seq;
            ensure!(self.ids.insert(id.clone()), "{slot} received {id} twice");
        }
        Ok(())
    }
}

/// Run `codenator doctor --json` (with `--repair` when asked) on `root`.
fn run_doctor(root: &Path, repair: bool) -> Result<(Option<i32>, Value)> {
    let mut cmd = cli_command();
    cmd.arg("doctor").arg("--json").arg("--root").arg(root);
    if repair {
        cmd.arg("--repair");
    }
    let out = cmd.output().context("running codenator doctor")?;
    let v: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "doctor printed no JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out.status.code(), v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() -> Result<()> {
    crash_rounds(Mode::Kill9).await
}

/// Power loss (issue 8's proof): each round one writer also aborts itself at
/// a random point of a commit (`CODENATOR_FAULT`: after the journal entry is
/// durable, after its ledger lines, before its apply mark), the others are
/// SIGKILLed, and then the plug is pulled: every write no fsync covered is
/// taken back, by the power log the writers kept (`CODENATOR_POWER_LOG`,
/// [`test_support::power`]). The next servers start in another "boot" and
/// replay the journal; every acknowledged write must be there and nothing
/// half-applied visible. Seeded like the kill test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn power_loss_loses_no_acknowledged_write() -> Result<()> {
    crash_rounds(Mode::PowerLoss).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Writers SIGKILLed, then the derived indexes damaged.
    Kill9,
    /// A fault inside a commit, writers SIGKILLed, then the plug pulled.
    PowerLoss,
}

/// Where a commit can be cut short (the ledger's `FaultPoint`s).
const FAULT_POINTS: [&str; 3] = ["after_journal", "after_messages", "before_mark"];

async fn crash_rounds(mode: Mode) -> Result<()> {
    let rounds: u64 = match mode {
        Mode::Kill9 => 10,
        Mode::PowerLoss => 8,
    };
    let started = Instant::now();
    let (mut rng, seed) = Rng::seeded();
    eprintln!("{mode:?} test seed {seed} (replay with CODENATOR_CRASH_SEED={seed})");
    let root = temp_root();
    let root = root.path();
    // The power log lives outside the store (outside the root, too).
    let power_dir = test_support::temp_dir("codenator-power-");
    let power_log = power_dir.path().join("power.log");
    let mut pulled_total = 0usize;
    let acked: Shared = Arc::default();
    let mut received: HashMap<&str, Received> = HashMap::new();
    let mut damage_log = Vec::new();
    let mut torn_appended = 0usize;
    let mut retried_reports = 0usize;

    {
        let c = connect(root, COORD).await?;
        for slot in [S1, S2] {
            tcall(
                &c,
                "register_slot",
                json!({"slot": slot, "project": "crash", "focus": "f", "worktree": "/tmp/wt"}),
            )
            .await?;
        }
        let _ = c.cancel().await;
    }

    for round in 0..rounds {
        // Writers: the coordinator creates tasks and writes to both workers;
        // session-01 writes and heartbeats; session-02 writes, heartbeats,
        // claims tasks and reports commits for them. Two loops per process.
        let plan: [(&str, [Job; 2]); 3] = [
            (COORD, [Job::CreateTasks, Job::Send(&[S1, S2])]),
            (
                S1,
                [
                    Job::Send(&[COORD, S2]),
                    Job::Heartbeat {
                        slot: S1,
                        claim: false,
                    },
                ],
            ),
            (
                S2,
                [
                    Job::Send(&[COORD, S1]),
                    Job::Heartbeat {
                        slot: S2,
                        claim: true,
                    },
                ],
            ),
        ];
        let mut procs = Vec::new();
        let mut loops = JoinSet::new();
        let faulty = rng.below(plan.len() as u64) as usize;
        let fault = format!(
            "{}:{}",
            FAULT_POINTS[rng.below(FAULT_POINTS.len() as u64) as usize],
            1 + rng.below(40)
        );
        for (tag, (agent, jobs)) in plan.iter().enumerate() {
            let mut env = Vec::new();
            if mode == Mode::PowerLoss {
                env.push(("CODENATOR_BOOT_ID", format!("power-test-r{round}")));
                env.push(("CODENATOR_POWER_LOG", power_log.display().to_string()));
                if tag == faulty {
                    env.push(("CODENATOR_FAULT", fault.clone()));
                }
            }
            let k = spawn_killable(root, agent, &env).await?;
            for (j, job) in jobs.iter().enumerate() {
                loops.spawn(writer_loop(
                    k.client.clone(),
                    *job,
                    round,
                    tag * 2 + j,
                    acked.clone(),
                ));
            }
            procs.push(k);
        }
        let before = lock(&acked).messages.len();
        // Kill each writer at its own random moment.
        // (Under the power log every write waits for its notes' fsyncs:
        // those writers get longer.)
        let span = if mode == Mode::PowerLoss { 1000 } else { 400 };
        let delays: Vec<u64> = procs.iter().map(|_| 5 + rng.below(span)).collect();
        let mut order: Vec<usize> = (0..procs.len()).collect();
        order.sort_by_key(|i| delays[*i]);
        let t0 = Instant::now();
        for i in order {
            let at = t0 + Duration::from_millis(delays[i]);
            tokio::time::sleep_until(at.into()).await;
            procs[i].child.start_kill().context("SIGKILL")?;
        }
        for p in &mut procs {
            let status = tokio::time::timeout(CALL_TIMEOUT, p.child.wait()).await??;
            ensure!(
                status.code().is_none(),
                "a writer exited by itself ({status}) instead of being killed"
            );
        }
        while let Some(r) = loops.join_next().await {
            r?;
        }
        drop(procs);
        let written = lock(&acked).messages.len() - before;
        {
            let a = lock(&acked);
            ensure!(
                a.refusals.is_empty(),
                "live servers refused writes: {:#?}",
                a.refusals
            );
        }

        if mode == Mode::PowerLoss {
            // Every writer is dead: pull the plug.
            let pulled = test_support::power::pull_the_plug(&power_log)?;

            pulled_total += pulled.total();
            damage_log.push(format!(
                "round {round}: {fault} in {}, the others killed after {delays:?} ms, {written} messages acknowledged, the power loss took back {pulled:?}",
                plan[faulty].0
            ));
            eprintln!("{}", damage_log[damage_log.len() - 1]);
        }
        // Damage the derived state: each kind alone once (so that none can
        // mask another), then two random kinds per round.
        let mut kinds = if mode == Mode::PowerLoss {
            Vec::new()
        } else if (round as usize) < DAMAGE.len() {
            vec![round as usize]
        } else {
            vec![
                rng.below(DAMAGE.len() as u64) as usize,
                rng.below(DAMAGE.len() as u64) as usize,
            ]
        };
        kinds.dedup();
        for k in &kinds {
            damage(root, *k, &mut rng).with_context(|| format!("damaging: {}", DAMAGE[*k]))?;
            if *k == DAMAGE.len() - 1 {
                torn_appended += 1;
            }
        }
        if mode == Mode::Kill9 {
            damage_log.push(format!(
            "round {round}: killed after {delays:?} ms, {written} messages acknowledged, then: {}",
            kinds
                .iter()
                .map(|k| DAMAGE[*k])
                    .collect::<Vec<_>>()
                    .join(" + ")
            ));
            eprintln!("{}", damage_log[damage_log.len() - 1]);
        }

        // A fresh server starts and answers. The ledger was damaged on
        // purpose, so the servers of this round warn about the lines they
        // skip: they log only errors.
        let coord = connect_expecting_warnings(root, COORD)
            .await
            .context("a fresh server does not start")?;
        let status = tcall(&coord, "get_status", json!({}))
            .await
            .context("get_status after the crash")?;
        ensure!(status["slots"].is_array(), "{status}");

        // The ledger: every acknowledged write is there with its seq; seqs
        // are unique and increasing in file order.
        let ledger = read_ledger(root)?;
        let mut seen = BTreeSet::new();
        let mut last = 0;
        for l in &ledger.lines {
            let seq = l
                .get("seq")
                .and_then(Value::as_u64)
                .context("a ledger line without seq")?;
            ensure!(seq > last, "seq {seq} after seq {last} in the ledger");
            last = seq;
            ensure!(
                seen.insert(s(l, "id").to_string()),
                "duplicate id {} in the ledger",
                s(l, "id")
            );
        }
        let by_id: HashMap<&str, &Map<String, Value>> =
            ledger.lines.iter().map(|l| (s(l, "id"), l)).collect();
        {
            let a = lock(&acked);
            for (id, (seq, _, _)) in &a.messages {
                let l = by_id
                    .get(id.as_str())
                    .with_context(|| format!("acknowledged message {id} (seq {seq}) is lost"))?;
                ensure!(
                    l.get("seq").and_then(Value::as_u64) == Some(*seq),
                    "{id} acknowledged as seq {seq}, stored as {l:?}"
                );
            }
            for (id, (slot, mid)) in &a.tasks {
                let p = store_dir(root).join(format!("tasks/{id}.json"));
                let t: Value = serde_json::from_slice(
                    &std::fs::read(&p)
                        .with_context(|| format!("acknowledged task {id} is lost"))?,
                )
                .with_context(|| format!("task file of {id} does not parse"))?;
                ensure!(t["slot"] == json!(slot), "task {id}: {t}");
                ensure!(
                    by_id
                        .get(mid.as_str())
                        .is_some_and(|l| s(l, "task_id") == id),
                    "task.assign of {id} is lost"
                );
                if a.claims.contains(id) {
                    ensure!(
                        t["status"] == json!("active") || t["status"] == json!("reported"),
                        "claimed task {id} is {}",
                        t["status"]
                    );
                }
            }
            for (sha, id) in &a.reports {
                let p = store_dir(root).join(format!("tasks/{id}.json"));
                let t: Value = serde_json::from_slice(&std::fs::read(&p)?)?;
                ensure!(
                    t["status"] == json!("reported") && t["commit"] == json!(sha),
                    "task {id} was reported as {sha}, its file says {t}"
                );
            }
            let reg: Value =
                serde_json::from_slice(&std::fs::read(store_dir(root).join("registry.json"))?)
                    .context("registry.json does not parse")?;
            for (slot, (r, k)) in &a.heartbeats {
                let run = reg["sessions"][slot]["heartbeat"]["run_id"]
                    .as_str()
                    .unwrap_or("");
                let stored = run
                    .strip_prefix("hb-")
                    .and_then(|x| x.split_once('-'))
                    .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                    .with_context(|| format!("{slot}'s heartbeat is missing: {run:?}"))?;
                ensure!(
                    stored >= (*r, *k),
                    "{slot}'s acknowledged heartbeat hb-{r}-{k} was overwritten by the older {run}"
                );
            }
        }

        // Read-only answers, before any write has repaired an index, agree
        // with the primary files: task counts, and the unread messages of
        // the slots whose inbox nothing else consumes.
        let s1 = connect_expecting_warnings(root, S1).await?;
        let s2 = connect_expecting_warnings(root, S2).await?;
        let mut task_files = Vec::new();
        for e in std::fs::read_dir(store_dir(root).join("tasks"))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with('.') {
                let b = std::fs::read(store_dir(root).join("tasks").join(&name))?;
                let t: Value = serde_json::from_slice(&b)
                    .with_context(|| format!("tasks/{name} does not parse"))?;
                task_files.push(t);
            }
        }
        // A task's assign_seq names its own task.assign line: a claim
        // consumes exactly that seq, so a task whose assign_seq names another
        // message (or none yet, so the next message gets it) would make its
        // claim swallow someone's message unread.
        let by_seq: HashMap<u64, &Map<String, Value>> = ledger
            .lines
            .iter()
            .filter_map(|l| Some((l.get("seq")?.as_u64()?, l)))
            .collect();
        for t in &task_files {
            let id = t["task_id"].as_str().unwrap_or("");
            if let Some(seq) = t["assign_seq"].as_u64() {
                let line = by_seq.get(&seq);
                ensure!(
                    line.is_some_and(|l| s(l, "type") == "task.assign" && s(l, "task_id") == id),
                    "task {id} (status {}) has assign_seq {seq}, but that seq is {}: a create_task interrupted between the task file and its task.assign (its task.assign lines: {:?})",
                    t["status"],
                    line.map_or("not in the ledger".to_string(), |l| format!(
                        "{} {} to {}",
                        s(l, "type"),
                        s(l, "id"),
                        s(l, "to")
                    )),
                    ledger
                        .lines
                        .iter()
                        .filter(|l| s(l, "task_id") == id)
                        .map(|l| l.get("seq"))
                        .collect::<Vec<_>>()
                );
            }
        }
        let open = task_files
            .iter()
            .filter(|t| {
                !matches!(
                    t["status"].as_str(),
                    Some("integrated" | "done" | "cancelled")
                )
            })
            .count();
        ensure!(
            status["total_tasks"] == json!(task_files.len()),
            "get_status total_tasks {} but {} task files",
            status["total_tasks"],
            task_files.len()
        );
        ensure!(
            status["open_tasks"]["total"] == json!(open),
            "get_status open tasks {} but {open} open task files",
            status["open_tasks"]["total"]
        );
        for (slot, client) in [(COORD, &coord), (S1, &s1)] {
            let empty = Received::default();
            let rec = received.get(slot).unwrap_or(&empty);
            let expected: Vec<&str> = ledger
                .lines
                .iter()
                .filter(|l| (s(l, "to") == slot || s(l, "to") == "all") && s(l, "from") != slot)
                .map(|l| s(l, "id"))
                .filter(|id| !rec.ids.contains(*id))
                .collect();
            let row = status["slots"]
                .as_array()
                .and_then(|rows| rows.iter().find(|r| r["slot"] == json!(slot)))
                .with_context(|| format!("get_status has no row for {slot}"))?;
            ensure!(
                row["unread"] == json!(expected.len()),
                "get_status: {slot} unread {} but {} unread in the ledger",
                row["unread"],
                expected.len()
            );
            let r = tcall(
                client,
                "read_inbox",
                json!({"slot": slot, "mark_read": false, "limit": 200}),
            )
            .await?;
            ensure!(
                r["unread_count"] == json!(expected.len()),
                "read_inbox(peek): {slot} unread {} but {} in the ledger",
                r["unread_count"],
                expected.len()
            );
            let ids: Vec<&str> = r["messages"]
                .as_array()
                .context("messages")?
                .iter()
                .filter_map(|m| m["id"].as_str())
                .collect();
            ensure!(
                ids[..] == expected[..expected.len().min(200)],
                "read_inbox(peek): {slot} got other messages than the ledger holds"
            );
        }

        // Every message reaches its reader exactly once, through read_inbox.
        let readers = [(COORD, &coord), (S1, &s1), (S2, &s2)];
        for (slot, client) in readers {
            let got = drain(client, slot).await?;
            let rec = received.entry(slot).or_default();
            rec.add(slot, &got)?;
            for l in &ledger.lines {
                if s(l, "to") != slot || s(l, "from") == slot {
                    continue;
                }
                let id = s(l, "id");
                if rec.ids.contains(id) {
                    continue;
                }
                // session-02 claims: a claim consumes its task.assign.
                let consumed = s(l, "type") == "task.assign"
                    && slot == S2
                    && std::fs::read(
                        store_dir(root).join(format!("tasks/{}.json", s(l, "task_id"))),
                    )
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                    .is_some_and(|t| {
                        t["status"] == json!("active") || t["status"] == json!("reported")
                    });
                ensure!(
                    consumed,
                    "{slot} never received {id} ({}), seq {:?}",
                    s(l, "type"),
                    l.get("seq")
                );
            }
            let ids: BTreeSet<&str> = ledger.lines.iter().map(|l| s(l, "id")).collect();
            for id in &rec.ids {
                ensure!(
                    ids.contains(id.as_str()),
                    "{slot} received {id}, which is not a ledger line"
                );
            }
        }

        // A worker whose server died while reporting a commit reports it
        // again: the retry must leave the coordinator a commit_report for
        // it, whether or not the first attempt got as far as the report file.
        let pending: Vec<(String, Value)> = std::mem::take(&mut lock(&acked).pending_reports)
            .into_iter()
            .collect();
        for (sha, req) in &pending {
            let r = tcall(&s2, "report_commit", req.clone())
                .await
                .context("retrying an interrupted report_commit")?;
            if r["already_reported"] == json!(false) {
                note_message(&acked, &r["message"])?;
            }
            let id = req["task_id"].as_str().unwrap_or("").to_string();
            lock(&acked).reports.insert(sha.clone(), id);
        }
        if !pending.is_empty() {
            let lines = read_ledger(root)?.lines;
            for (sha, req) in &pending {
                ensure!(
                    lines.iter().any(|l| s(l, "type") == "commit_report"
                        && l.get("payload").and_then(|p| p.get("sha")) == Some(&json!(sha))),
                    "the coordinator never gets a commit_report for {sha} ({}): the interrupted report_commit left its report, and the retry answered already_reported without a message",
                    req["task_id"]
                );
            }
        }
        retried_reports += pending.len();

        // New writes work and continue the sequence past the damage (and
        // past the retried reports).
        let last = read_ledger(root)?
            .lines
            .iter()
            .filter_map(|l| l.get("seq").and_then(Value::as_u64))
            .max()
            .unwrap_or(0);
        let r = tcall(
            &coord,
            "send_message",
            json!({"to": S1, "message": format!("after round {round}")}),
        )
        .await?;
        note_message(&acked, &r["message"])?;
        ensure!(
            r["message"]["seq"] == json!(last + 1),
            "new write got {}, expected seq {}",
            r["message"]["seq"],
            last + 1
        );
        let id = format!("verify-r{round}");
        let r = tcall(
            &coord,
            "create_task",
            json!({"slot": S2, "title": "verify", "message": "m", "task_id": id}),
        )
        .await?;
        note_message(&acked, &r["message"])?;
        lock(&acked).tasks.insert(
            id,
            (S2.into(), r["message"]["id"].as_str().context("id")?.into()),
        );
        ensure!(
            read_ledger(root)?.damaged == ledger.damaged,
            "a new write damaged the ledger"
        );
        // Nothing half-applied: once a writer has run (it finishes a commit
        // whose process died, and a new boot replays the journal), every
        // task.assign in the ledger has its task file and every task file
        // its task.assign.
        let lines = read_ledger(root)?.lines;
        let assigned: BTreeSet<String> = lines
            .iter()
            .filter(|l| s(l, "type") == "task.assign")
            .map(|l| s(l, "task_id").to_string())
            .collect();
        let mut files = BTreeSet::new();
        for e in std::fs::read_dir(store_dir(root).join("tasks"))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(id) = name
                .strip_suffix(".json")
                .filter(|_| !name.starts_with('.'))
            {
                files.insert(id.to_string());
            }
        }
        ensure!(
            assigned == files,
            "round {round}: half-applied create_task: task.assign without a task file {:?}, task file without a task.assign {:?}",
            assigned.difference(&files).collect::<Vec<_>>(),
            files.difference(&assigned).collect::<Vec<_>>()
        );
        let _ = coord.cancel().await;
        // After every round, `codenator doctor` answers, and everything it
        // finds is repairable: the kills leave nothing it cannot fix.
        let (code, report) = run_doctor(root, false)?;
        ensure!(
            matches!(code, Some(0 | 1)),
            "round {round}: doctor failed: {report}"
        );
        for f in report["findings"].as_array().context("doctor findings")? {
            ensure!(
                f["repairable"] == json!(true),
                "round {round}: doctor found something it cannot repair: {f}"
            );
        }
    }

    // `codenator doctor` finds what the rounds left (the torn lines, now
    // terminated), repairs it without losing an acknowledged write, and is
    // clean afterwards. The one finding it may keep is a task.assign whose
    // create_task was killed before its task file was written: never for
    // an acknowledged task.
    let doctor = |repair: bool| run_doctor(root, repair);
    let before = read_ledger(root)?;
    let kinds = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(|x| x["kind"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (_, check) = doctor(false)?;
    if before.damaged > 0 {
        ensure!(
            kinds(&check).iter().any(|k| k.starts_with("ledger_")),
            "doctor misses {} damaged ledger lines: {check}",
            before.damaged
        );
    }
    let (_, repaired) = doctor(true)?;
    let (code, after_check) = doctor(false)?;
    let acked_tasks: BTreeSet<String> = lock(&acked).tasks.keys().cloned().collect();
    for f in after_check["findings"]
        .as_array()
        .context("doctor findings")?
    {
        ensure!(
            f["kind"] == json!("orphan_assign"),
            "doctor is not clean after --repair: {f} (repair said {repaired})"
        );
        let detail = f["detail"].as_str().unwrap_or("");
        ensure!(
            !acked_tasks
                .iter()
                .any(|id| detail.contains(&format!("{id:?}"))),
            "doctor says an acknowledged task has no task file: {f}"
        );
    }
    ensure!(
        (code == Some(0))
            == after_check["findings"]
                .as_array()
                .is_some_and(Vec::is_empty),
        "doctor's exit code {code:?} disagrees with its findings {after_check}"
    );
    let after = read_ledger(root)?;
    ensure!(
        after.damaged == 0,
        "the ledger still has {} damaged lines after --repair",
        after.damaged
    );
    ensure!(
        after.lines == before.lines,
        "--repair changed the good lines of the ledger"
    );
    {
        let a = lock(&acked);
        let by_id: HashMap<&str, &Map<String, Value>> =
            after.lines.iter().map(|l| (s(l, "id"), l)).collect();
        for (id, (seq, _, _)) in &a.messages {
            ensure!(
                by_id.get(id.as_str()).and_then(|l| l.get("seq")) == Some(&json!(seq)),
                "--repair lost or renumbered acknowledged message {id}"
            );
        }
    }
    // Readers carry on after the repair: nothing redelivered, nothing missed.
    let coord = connect(root, COORD).await?;
    let s1 = connect(root, S1).await?;
    for (slot, client) in [(COORD, &coord), (S1, &s1)] {
        let got = drain(client, slot).await?;
        let rec = received.entry(slot).or_default();
        rec.add(slot, &got)?;
        for l in &after.lines {
            if (s(l, "to") == slot || s(l, "to") == "all") && s(l, "from") != slot {
                ensure!(
                    rec.ids.contains(s(l, "id")),
                    "after --repair {slot} never received {}",
                    s(l, "id")
                );
            }
        }
    }
    let max = after
        .lines
        .iter()
        .filter_map(|l| l.get("seq").and_then(Value::as_u64))
        .max()
        .unwrap_or(0);
    let r = tcall(
        &coord,
        "send_message",
        json!({"to": S1, "message": "after doctor"}),
    )
    .await?;
    ensure!(
        r["message"]["seq"] == json!(max + 1),
        "write after --repair got {}, expected {}",
        r["message"]["seq"],
        max + 1
    );
    let _ = coord.cancel().await;
    let _ = s1.cancel().await;

    let a = lock(&acked);
    let ledger = read_ledger(root)?;
    eprintln!(
        "doctor found {:?}; after --repair it keeps {:?}",
        kinds(&check),
        kinds(&after_check)
    );
    eprintln!(
        "{mode:?} test: {rounds} rounds, {pulled_total} unsynced writes taken back, {} messages and {} tasks acknowledged, {} claims, {} commit reports ({retried_reports} retried after a kill), {} ledger lines, {} damaged lines before the repair ({torn_appended} torn lines appended), {:?}",
        a.messages.len(),
        a.tasks.len(),
        a.claims.len(),
        a.reports.len(),
        ledger.lines.len(),
        before.damaged,
        started.elapsed()
    );
    ensure!(
        a.messages.len() > 50,
        "the writers wrote almost nothing: the test proves little"
    );
    ensure!(
        mode == Mode::Kill9 || pulled_total > 0,
        "the power loss took nothing back: the test proves little"
    );
    Ok(())
}
