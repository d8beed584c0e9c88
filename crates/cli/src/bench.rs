//! `codenator bench`: measure the real server over stdio.
//!
//! Every figure comes from `codenator mcp` processes driven by rmcp's client,
//! as Codex drives them: cold start, call latencies on a seeded ledger, the
//! growth of read latency with history, throughput and correctness with
//! concurrent writer processes, idle memory, and the cost of one fsync on
//! this machine (the floor of any durable write). With `--reference DIR`
//! (a checkout of the Node reference with its `node_modules`) the same
//! scenario runs against `node DIR/src/server.js` and ratios are printed.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rmcp::transport::ConfigureCommandExt;
use serde_json::{Value, json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to build the benchmark ledgers (default: a temporary directory).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Fewer iterations and no 100k-message ledger (about 20 s).
    #[arg(long)]
    quick: bool,
    /// A checkout of the Node reference (with node_modules) to measure side by side.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

/// Which server to measure.
#[derive(Clone, Debug)]
enum Server {
    Ours(PathBuf),
    Reference(PathBuf),
}

impl Server {
    fn name(&self) -> &'static str {
        match self {
            Server::Ours(_) => "codenator",
            Server::Reference(_) => "reference",
        }
    }

    fn command(&self, root: &Path, agent: &str) -> tokio::process::Command {
        let (prog, pre): (PathBuf, Vec<String>) = match self {
            Server::Ours(exe) => (exe.clone(), vec!["mcp".into()]),
            Server::Reference(dir) => (
                PathBuf::from("node"),
                vec![dir.join("src/server.js").to_string_lossy().into_owned()],
            ),
        };
        tokio::process::Command::new(prog).configure(|c| {
            c.args(&pre)
                .arg("--root")
                .arg(root)
                .arg("--agent")
                .arg(agent);
            c.env("RUST_LOG", "warn");
            // Ours puts each call's fsyncs and server time in `_meta`.
            c.env("CODENATOR_CALL_STATS", "1");
        })
    }

    async fn connect(&self, root: &Path, agent: &str) -> anyhow::Result<(Client, Option<u32>)> {
        mcp_client::connect(self.command(root, agent)).await
    }
}

use super::mcp_client::{self, CallStats, Client, call, call_with_stats};

/// Percentiles of a sample, in microseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
struct Pcts {
    p50: f64,
    p95: f64,
    p99: f64,
}

fn pcts(mut v: Vec<Duration>) -> Pcts {
    if v.is_empty() {
        return Pcts::default();
    }
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6;
    Pcts {
        p50: at(0.5),
        p95: at(0.95),
        p99: at(0.99),
    }
}

fn us(x: f64) -> String {
    if x >= 10_000.0 {
        format!("{:.1} ms", x / 1000.0)
    } else if x >= 1000.0 {
        format!("{:.2} ms", x / 1000.0)
    } else {
        format!("{x:.0} µs")
    }
}

/// How the fsync probe writes its lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Appended: each fdatasync also writes the file's new size.
    Append,
    /// Over zeros written and synced beforehand, as the journal writes
    /// its entries: the size never changes.
    InPlace,
}

/// The cost of one small durable write (the line, then fdatasync) here.
fn fsync_floor(dir: &Path, n: usize, how: Probe) -> anyhow::Result<Pcts> {
    let p = dir.join("fsync-probe");
    let line = |i: usize| format!("{{\"probe\":{i},\"pad\":\"{}\"}}\n", "x".repeat(150));
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&p)?;
    if how == Probe::InPlace {
        f.write_all(&vec![0u8; n * line(n).len()])?;
        f.sync_data()?;
    }
    let mut at = 0u64;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let bytes = line(i);
        let t = Instant::now();
        ledger::fs::platform::write_all_at(&f, bytes.as_bytes(), at)?;
        f.sync_data()?;
        v.push(t.elapsed());
        at += bytes.len() as u64;
    }
    let _ = fs::remove_file(&p);
    Ok(pcts(v))
}

const SLOTS: usize = 10;
const TASKS: usize = 1000;

/// The tasks a seeded store holds.
#[derive(Clone, Copy, Debug)]
enum Mix {
    /// 1,000 tasks the way a busy day leaves them: most integrated, some
    /// reported, active, blocked and queued per slot.
    Day,
    /// This many open tasks: per slot one active, one blocked, one
    /// reported, the rest queued.
    Open(usize),
}

impl Mix {
    fn tasks(self) -> usize {
        match self {
            Mix::Day => TASKS,
            Mix::Open(n) => n,
        }
    }

    /// The status of the `k`th task of a slot.
    fn status(self, k: usize) -> &'static str {
        match (self, k) {
            (Mix::Day, 0..=87) => "integrated",
            (Mix::Day, 88..=89) | (Mix::Open(_), 2) => "reported",
            (Mix::Day, 90) | (Mix::Open(_), 0) => "active",
            (Mix::Day, 91) | (Mix::Open(_), 1) => "blocked",
            _ => "queued",
        }
    }
}

/// Seed a store: 10 workers, the tasks of `mix` and `messages` ledger
/// lines. Written in the reference's file format, which both servers read;
/// codenator indexes it on start.
fn seed(root: &Path, messages: usize, mix: Mix) -> anyhow::Result<()> {
    let layout = ledger::store::Layout::new(root.join(ledger::store::STORE_DIR));
    for d in layout.subdirs() {
        fs::create_dir_all(d)?;
    }
    let now = ledger::time::now();
    let mut sessions = serde_json::Map::new();
    for s in 1..=SLOTS {
        let slot = format!("session-{s:02}");
        sessions.insert(slot.clone(), json!({
            "slot": slot, "identity": "developer", "project": "bench", "focus": format!("focus {s}"),
            "worktree": format!("/tmp/bench-wt/{slot}"), "branch": slot, "status": "active",
            "inbox": format!("cursors/{slot}.json"), "run_id": null, "app_server_thread_id": null,
            "app_server_url": null, "updated_at": now,
            "heartbeat": {"slot": slot, "status": "ok", "run_id": null, "checked_at": now, "error": null},
            "heartbeat_status": "ok", "heartbeat_checked_at": now,
        }));
    }
    let reg = json!({"version": 2, "name": "auralis-codenator", "legacy_names": ["auralis-codextrator"],
        "transport": "mcp", "created_at": now, "updated_at": now,
        "coordinator": {"slot": "coordinator", "identity": "coordinator", "status": "active"},
        "sessions": sessions});
    fs::write(layout.registry(), serde_json::to_vec_pretty(&reg)?)?;
    let mut lines = String::with_capacity(messages * 300);
    let mut seq = 0usize;
    let push = |line: Value, lines: &mut String| {
        lines.push_str(&line.to_string());
        lines.push('\n');
    };
    for i in 0..mix.tasks() {
        let slot = format!("session-{:02}", i % SLOTS + 1);
        let k = i / SLOTS;
        let status = mix.status(k);
        let id = format!("bench-task-{i:05}");
        let commit = matches!(status, "integrated" | "reported").then(|| format!("{:040x}", i + 1));
        let task = json!({"version": 2, "task_id": id, "slot": slot, "title": format!("Bench task {i}"),
            "subject": format!("Bench task {i}"), "status": status, "project": "bench", "branch": slot,
            "worktree": format!("/tmp/bench-wt/{slot}"), "message": "Do the thing, then report.",
            "created_by": "coordinator", "assigned_at": now, "started_at": null, "reported_at": null,
            "integrated_at": null, "commit": commit, "tests": [], "blockers": [],
            "milestone_id": format!("m{}", k % 5), "lane_id": null, "dependency_ids": [],
            "acceptance_criteria": ["tests pass"], "required_receipts": [], "visible_progress_summary": "",
            "next_policy": "claim_via_mcp_then_report_commit", "created_at": now, "updated_at": now});
        fs::write(
            layout.task(&ledger::TaskId::parse("task_id", &id)?),
            serde_json::to_vec_pretty(&task)?,
        )?;
        // Assignments take at most half of the ledger, so that the latest
        // lines (what inboxes hold unread) look alike at every size.
        if seq < (messages / 2).min(mix.tasks()) {
            seq += 1;
            push(
                json!({"seq": seq, "id": format!("msg_a{seq:015}"), "type": "task.assign", "from": "coordinator",
                "to": slot, "subject": format!("Bench task {i}"), "message": "Do the thing, then report.",
                "task_id": id, "payload": {"task_id": id}, "created_at": now, "cwd": ""}),
                &mut lines,
            );
        }
    }
    while seq < messages {
        seq += 1;
        let s = seq % (SLOTS + 1);
        let (from, to) = if s == 0 {
            ("coordinator".to_string(), "all".to_string())
        } else if seq.is_multiple_of(2) {
            (format!("session-{s:02}"), "coordinator".to_string())
        } else {
            ("coordinator".to_string(), format!("session-{s:02}"))
        };
        push(
            json!({"seq": seq, "id": format!("msg_b{seq:015}"), "type": "message", "from": from, "to": to,
            "subject": format!("note {seq}"), "message": "Progress note with a few words of text in it.",
            "task_id": null, "payload": {}, "created_at": now, "cwd": ""}),
            &mut lines,
        );
    }
    fs::write(layout.ledger(), lines)?;
    // Every slot has read all but its last ~20 messages.
    for slot in std::iter::once("coordinator".to_string())
        .chain((1..=SLOTS).map(|s| format!("session-{s:02}")))
    {
        let last = messages.saturating_sub(if slot == "coordinator" { 40 } else { 200 });
        fs::write(
            layout.cursor(&ledger::SlotId::parse("slot", &slot)?),
            json!({"slot": slot, "last_seq": last, "updated_at": now}).to_string(),
        )?;
    }
    Ok(())
}

/// `n` timed calls (after 3 untimed): the round trip's percentiles, the
/// server's own p50 (when it says) and the answer's size.
async fn time_calls(
    client: &Client,
    tool: &str,
    args: &Value,
    n: usize,
) -> anyhow::Result<(Pcts, Option<f64>, usize)> {
    for _ in 0..3 {
        call(client, tool, args).await?;
    }
    let (p, server_p50, bytes, _) = timed_calls(client, None, tool, args, n).await?;
    Ok((p, server_p50, bytes))
}

/// [`time_calls`] without the warm-up, plus the server's CPU per call when
/// its pid is known.
async fn timed_calls(
    client: &Client,
    pid: Option<u32>,
    tool: &str,
    args: &Value,
    n: usize,
) -> anyhow::Result<(Pcts, Option<f64>, usize, Option<f64>)> {
    let cpu_before = pid.and_then(cpu_ns);
    let mut v = Vec::with_capacity(n);
    let mut server = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let t = Instant::now();
        let (r, stats) = call_with_stats(client, tool, args).await?;
        v.push(t.elapsed());
        server.extend(stats.micros.map(Duration::from_micros));
        bytes = r.to_string().len();
    }
    let cpu = cpu_per_call(cpu_before, pid.and_then(cpu_ns), n);
    let server_p50 = (!server.is_empty()).then(|| pcts(server).p50);
    Ok((pcts(v), server_p50, bytes, cpu))
}

/// One read tool's figures.
#[derive(Debug, Default, serde::Serialize)]
struct ReadRow {
    tool: String,
    client: Pcts,
    /// The server's own p50 (None from a server that does not say).
    server_p50: Option<f64>,
    /// The answer's size.
    bytes: usize,
    /// CPU microseconds per call of the server (see [`cpu_ns`]).
    cpu: Option<f64>,
}

/// One write tool's figures.
#[derive(Debug, Default, serde::Serialize)]
struct WriteRow {
    tool: String,
    client: Pcts,
    /// The server's own p50 (None from a server that does not say).
    server_p50: Option<f64>,
    /// fsyncs per call as the server counted them.
    fsyncs: Option<f64>,
    /// CPU microseconds per call of the server that answered (see [`cpu_ns`]).
    cpu: Option<f64>,
    /// p50 of how long a call held the store's write lock.
    lock_p50: Option<f64>,
}

#[derive(Default)]
struct Sample {
    client: Vec<Duration>,
    server: Vec<Duration>,
    fsyncs: Vec<u64>,
    cpu_ns: Vec<u64>,
    lock: Vec<Duration>,
}

impl Sample {
    fn add(&mut self, t: Duration, stats: CallStats) {
        self.client.push(t);
        self.server.extend(stats.micros.map(Duration::from_micros));
        self.fsyncs.extend(stats.fsyncs);
        self.lock
            .extend(stats.lock_micros.map(Duration::from_micros));
    }
}

/// Writer processes sending one total of messages at once.
#[derive(Debug, Default, serde::Serialize)]
struct Contention {
    procs: usize,
    messages: usize,
    per_sec: f64,
    /// No message lost, none duplicated, no seq given twice.
    ok: bool,
    /// Mean microseconds a message held the write lock (None from a server
    /// that does not say): one writer at a time holds it, so 1e6 / this is
    /// the most messages per second any number of processes can send.
    lock_mean: Option<f64>,
    /// The share of the run's wall time the lock was held.
    lock_busy: Option<f64>,
}

/// `n` rounds of the work cycle, each write tool once per round, in the
/// order a task lives it: the coordinator creates a task for session-01;
/// the worker claims its next one (the oldest queued), notes progress,
/// reports a commit for it, beats, and writes to the coordinator.
async fn write_rounds(
    coord: (&Client, Option<u32>),
    worker: (&Client, Option<u32>),
    n: usize,
) -> anyhow::Result<Vec<WriteRow>> {
    const TOOLS: [&str; 6] = [
        "create_task",
        "claim_next_task",
        "update_task",
        "report_commit",
        "record_heartbeat",
        "send_message",
    ];
    let mut samples: Vec<Sample> = TOOLS.iter().map(|_| Sample::default()).collect();
    let tag = ledger::model::message::new_id("b");
    for i in 0..n {
        let timed =
            async |(c, pid): (&Client, Option<u32>), k: usize, args: Value, s: &mut Vec<Sample>| {
                let before = pid.and_then(cpu_ns);
                let t = Instant::now();
                let (r, stats) = call_with_stats(c, TOOLS[k], &args).await?;
                s[k].add(t.elapsed(), stats);
                if let (Some(b), Some(a)) = (before, pid.and_then(cpu_ns)) {
                    s[k].cpu_ns.push(a.saturating_sub(b));
                }
                anyhow::Ok(r)
            };
        timed(
            coord,
            0,
            json!({"slot": "session-01", "task_id": format!("{tag}-{i}"),
            "title": "bench", "message": "bench"}),
            &mut samples,
        )
        .await?;
        let claimed = timed(worker, 1, json!({"slot": "session-01"}), &mut samples).await?;
        let id = claimed["task"]["task_id"]
            .as_str()
            .context("claim_next_task claimed nothing")?
            .to_string();
        timed(
            worker,
            2,
            json!({"task_id": id, "visible_progress_summary": format!("step {i}")}),
            &mut samples,
        )
        .await?;
        timed(worker, 3, json!({"slot": "session-01", "task_id": id, "sha": format!("{:040x}", 0xbe00_0000u64 + i as u64),
            "branch": "session-01", "subject": format!("bench {i}"), "changed": []}), &mut samples).await?;
        timed(
            worker,
            4,
            json!({"slot": "session-01", "status": "ok"}),
            &mut samples,
        )
        .await?;
        timed(
            worker,
            5,
            json!({"to": "coordinator", "message": format!("bench {i}")}),
            &mut samples,
        )
        .await?;
    }
    Ok(TOOLS
        .iter()
        .zip(samples)
        .map(|(tool, s)| WriteRow {
            tool: tool.to_string(),
            fsyncs: (!s.fsyncs.is_empty())
                .then(|| s.fsyncs.iter().sum::<u64>() as f64 / s.fsyncs.len() as f64),
            server_p50: (!s.server.is_empty()).then(|| pcts(s.server).p50),
            cpu: (!s.cpu_ns.is_empty())
                .then(|| s.cpu_ns.iter().sum::<u64>() as f64 / 1e3 / s.cpu_ns.len() as f64),
            lock_p50: (!s.lock.is_empty()).then(|| pcts(s.lock).p50),
            client: pcts(s.client),
        })
        .collect())
}

fn read_calls() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("get_status", "coordinator", json!({})),
        (
            "read_inbox",
            "coordinator",
            json!({"slot": "coordinator", "mark_read": false}),
        ),
        ("get_focus_board", "coordinator", json!({})),
        ("plan_wake", "coordinator", json!({})),
    ]
}

/// CPU time used so far by every thread of `pid` (the scheduler's own
/// count in `/proc/<pid>/task/*/schedstat`, in nanoseconds): what a call
/// costs the machine, apart from waiting for the disk. The server's worker
/// threads idle between calls rather than exit, so no time goes missing
/// with them.
fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0;
    for t in tasks.flatten() {
        let s = fs::read_to_string(t.path().join("schedstat")).ok()?;
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// CPU microseconds per call between two [`cpu_ns`] readings (the unit of
/// every figure here).
fn cpu_per_call(before: Option<u64>, after: Option<u64>, calls: usize) -> Option<f64> {
    Some(after?.checked_sub(before?)? as f64 / 1e3 / calls.max(1) as f64)
}

fn rss_kb(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
}

/// Figures for one server.
#[derive(Debug, Default, serde::Serialize)]
struct Report {
    server: String,
    cold_start: Pcts,
    idle_rss_kb: Option<u64>,
    /// MCP `ping` round trips: the transport floor.
    ping: Pcts,
    reads: Vec<ReadRow>,
    writes: Vec<WriteRow>,
    growth: Vec<(usize, Vec<(String, f64)>)>,
    /// Write p50 per tool at each number of open tasks.
    write_growth: Vec<(usize, Vec<(String, f64)>)>,
    contention: Vec<Contention>,
}

async fn measure(server: &Server, base: &Path, quick: bool) -> anyhow::Result<Report> {
    let n = if quick { 50 } else { 200 };
    let mut rep = Report {
        server: server.name().into(),
        ..Report::default()
    };
    // Cold start: spawn to `initialize` answered, on an existing store.
    let cold_root = base.join(format!("{}-cold", server.name()));
    fs::create_dir_all(&cold_root)?;
    let mut v = Vec::new();
    for i in 0..if quick { 10 } else { 30 } {
        let t = Instant::now();
        let (c, pid) = server.connect(&cold_root, "coordinator").await?;
        v.push(t.elapsed());
        if i == 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            rep.idle_rss_kb = pid.and_then(rss_kb);
        }
        let _ = c.cancel().await;
    }
    rep.cold_start = pcts(v);

    // Latencies on 1,000 tasks and 5,000 messages.
    let root = base.join(format!("{}-5k", server.name()));
    seed(&root, 5000, Mix::Day)?;
    let (coord, coord_pid) = server.connect(&root, "coordinator").await?;
    let (worker, worker_pid) = server.connect(&root, "session-01").await?;
    let mut pings = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        mcp_client::ping(&coord).await?;
        pings.push(t.elapsed());
    }
    rep.ping = pcts(pings);
    for (tool, _, args) in read_calls() {
        for _ in 0..3 {
            call(&coord, tool, &args).await?;
        }
        let (client, server_p50, bytes, cpu) =
            timed_calls(&coord, coord_pid, tool, &args, n).await?;
        rep.reads.push(ReadRow {
            tool: tool.into(),
            client,
            server_p50,
            bytes,
            cpu,
        });
    }
    rep.writes = write_rounds((&coord, coord_pid), (&worker, worker_pid), n).await?;
    let _ = coord.cancel().await;
    let _ = worker.cancel().await;

    // Growth: the same reads at 1k, 10k and 100k messages.
    let sizes: &[usize] = if quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &m in sizes {
        let root = base.join(format!("{}-{m}", server.name()));
        seed(&root, m, Mix::Day)?;
        let coord = server.connect(&root, "coordinator").await?.0;
        let mut row = Vec::new();
        for (tool, _, args) in read_calls() {
            let reps = if m >= 100_000 && server.name() == "reference" {
                5
            } else {
                n / 2
            };
            row.push((
                tool.to_string(),
                time_calls(&coord, tool, &args, reps).await?.0.p50,
            ));
        }
        rep.growth.push((m, row));
        let _ = coord.cancel().await;
    }

    // Write latency as open work grows: the same rounds at 100, 1,000
    // and 10,000 open tasks.
    for open in [100usize, 1_000, 10_000] {
        let root = base.join(format!("{}-open-{open}", server.name()));
        seed(&root, 5000, Mix::Open(open))?;
        let (coord, coord_pid) = server.connect(&root, "coordinator").await?;
        let (worker, worker_pid) = server.connect(&root, "session-01").await?;
        let rows = write_rounds((&coord, coord_pid), (&worker, worker_pid), n).await?;
        rep.write_growth.push((
            open,
            rows.into_iter().map(|w| (w.tool, w.client.p50)).collect(),
        ));
        let _ = coord.cancel().await;
        let _ = worker.cancel().await;
    }

    // Contention: P processes sending the same total of messages at once
    // (each its share, as fast as it can). The clock stops when the last
    // answer arrives, before the servers are shut down.
    let total = if quick { 400 } else { 800 };
    for procs in [1usize, 4, 16] {
        let k = total / procs;
        let root = base.join(format!("{}-contend-{procs}", server.name()));
        fs::create_dir_all(&root)?;
        let mut clients = Vec::new();
        for p in 0..procs {
            clients.push(
                server
                    .connect(&root, &format!("session-{:02}", p + 1))
                    .await?
                    .0,
            );
        }
        let t = Instant::now();
        let mut joins = Vec::new();
        for c in clients {
            joins.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                let mut locked = Vec::new();
                for i in 0..k {
                    let (r, stats) = call_with_stats(
                        &c,
                        "send_message",
                        &json!({"to": "coordinator", "message": format!("m{i}")}),
                    )
                    .await?;
                    ids.push(r["message"]["id"].as_str().unwrap_or("").to_string());
                    locked.extend(stats.lock_micros);
                }
                anyhow::Ok((ids, locked, Instant::now(), c))
            }));
        }
        let mut acked = Vec::new();
        let mut locked = Vec::new();
        let mut last = t;
        let mut done = Vec::new();
        for j in joins {
            let (ids, lock, at, c) = j.await??;
            acked.extend(ids);
            locked.extend(lock);
            last = last.max(at);
            done.push(c);
        }
        for c in done {
            let _ = c.cancel().await;
        }
        let secs = (last - t).as_secs_f64();
        let ledger = fs::read_to_string(
            root.join(ledger::store::STORE_DIR)
                .join("messages/ledger.jsonl"),
        )?;
        let mut seqs = HashSet::new();
        let mut ids = HashSet::new();
        let mut dup = false;
        for l in ledger.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(l).context("ledger line")?;
            dup |= !seqs.insert(v["seq"].as_u64().unwrap_or(0));
            ids.insert(v["id"].as_str().unwrap_or("").to_string());
        }
        let ok = !dup && acked.len() == procs * k && acked.iter().all(|id| ids.contains(id));
        let held = locked.iter().sum::<u64>() as f64;
        let said = locked.len() == procs * k;
        rep.contention.push(Contention {
            procs,
            messages: procs * k,
            per_sec: (procs * k) as f64 / secs,
            ok,
            lock_mean: said.then(|| held / locked.len().max(1) as f64),
            lock_busy: said.then(|| held / 1e6 / secs),
        });
    }
    Ok(rep)
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let tmp;
    let base = match &args.dir {
        Some(d) => {
            fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("codenator-bench-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let probes = if args.quick { 100 } else { 300 };
    let floor = fsync_floor(&base, probes, Probe::Append)?;
    let in_place = fsync_floor(&base, probes, Probe::InPlace)?;
    let ours = measure(&Server::Ours(std::env::current_exe()?), &base, args.quick).await?;
    let reference = match &args.reference {
        Some(dir) => Some(measure(&Server::Reference(dir.clone()), &base, args.quick).await?),
        None => None,
    };
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"fsync": floor, "fsync_in_place": in_place, "codenator": ours, "reference": reference})
            )?
        );
        return Ok(());
    }
    print_markdown(&args, [&floor, &in_place], &ours, reference.as_ref())?;
    Ok(())
}

/// The report as Markdown tables (what the README's benchmark section holds).
fn print_markdown(
    args: &Args,
    [floor, in_place]: [&Pcts; 2],
    ours: &Report,
    reference: Option<&Report>,
) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mode = if args.quick { "quick" } else { "full" };
    say!(
        "codenator bench ({mode} run, {cores} cores); fsync floor (append + fdatasync): p50 {}, p95 {}; \
         in place (over synced zeros, as the journal writes) p50 {}, p95 {}; \
         transport floor (MCP ping): p50 {}\n",
        us(floor.p50),
        us(floor.p95),
        us(in_place.p50),
        us(in_place.p95),
        us(ours.ping.p50)
    );
    let vs = |a: f64, b: Option<f64>| {
        b.map(|b| format!("{} ({:.0}x)", us(b), b / a))
            .unwrap_or_else(|| "-".into())
    };
    say!("| measure | codenator p50 | p95 | p99 | reference p50 (ratio) | notes |");
    say!("|---|---|---|---|---|---|");
    say!(
        "| cold start: spawn to `initialize` answered | {} | {} | {} | {} | |",
        us(ours.cold_start.p50),
        us(ours.cold_start.p95),
        us(ours.cold_start.p99),
        vs(ours.cold_start.p50, reference.map(|r| r.cold_start.p50))
    );
    let server = |p: Option<f64>| p.map(|p| format!("server {}; ", us(p))).unwrap_or_default();
    let cpu = |c: Option<f64>| {
        c.map(|c| format!("cpu {}/call; ", us(c)))
            .unwrap_or_default()
    };
    for (i, row) in ours.reads.iter().enumerate() {
        let (tool, p, bytes) = (&row.tool, &row.client, row.bytes);
        let r = reference.map(|r| r.reads[i].client.p50);
        let rb = reference
            .map(|r| format!(", reference {} B", r.reads[i].bytes))
            .unwrap_or_default();
        say!(
            "| `{tool}` (1,000 tasks, 5,000 messages) | {} | {} | {} | {} | {}{}ping + {}; answer {bytes} B{rb} |",
            us(p.p50),
            us(p.p95),
            us(p.p99),
            vs(p.p50, r),
            server(row.server_p50),
            cpu(row.cpu),
            us((p.p50 - ours.ping.p50).max(0.0))
        );
    }
    for (i, w) in ours.writes.iter().enumerate() {
        let r = reference.map(|r| r.writes[i].client.p50);
        let fsyncs = w
            .fsyncs
            .map(|f| format!("{f:.2} fsyncs/call; "))
            .unwrap_or_default();
        let lock = w
            .lock_p50
            .map(|l| format!("write lock held {}; ", us(l)))
            .unwrap_or_default();
        say!(
            "| `{}` (1,000 tasks) | {} | {} | {} | {} | {}{}{fsyncs}{lock}ping + {:.1} fsync floors |",
            w.tool,
            us(w.client.p50),
            us(w.client.p95),
            us(w.client.p99),
            vs(w.client.p50, r),
            server(w.server_p50),
            cpu(w.cpu),
            (w.client.p50 - ours.ping.p50).max(0.0) / floor.p50.max(1.0)
        );
    }
    say!(
        "| idle server resident memory | {} KiB | | | {} | |",
        ours.idle_rss_kb
            .map(|k| k.to_string())
            .unwrap_or_else(|| "?".into()),
        reference
            .and_then(|r| r.idle_rss_kb)
            .map(|k| format!("{k} KiB"))
            .unwrap_or_else(|| "-".into())
    );

    say!("\nRead p50 as history grows (tasks fixed at 1,000):\n");
    let tools: Vec<&str> = ours
        .growth
        .first()
        .map(|(_, row)| row.iter().map(|(t, _)| t.as_str()).collect())
        .unwrap_or_default();
    say!(
        "| messages | {} |",
        tools
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    say!("|---|{}", "---|".repeat(tools.len()));
    for (i, (m, row)) in ours.growth.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, (_, v))| {
                let r = reference
                    .and_then(|r| r.growth.get(i))
                    .map(|(_, rr)| rr[j].1);
                match r {
                    Some(r) => format!("{} (reference {})", us(*v), us(r)),
                    None => us(*v),
                }
            })
            .collect();
        say!("| {m} | {} |", cells.join(" | "));
    }
    if let (Some((_, first)), Some((m, last))) = (ours.growth.first(), ours.growth.last()) {
        let worst = first
            .iter()
            .zip(last)
            .map(|((t, a), (_, b))| (t, (b / a - 1.0) * 100.0))
            .fold(("", f64::MIN), |acc, (t, g)| {
                if g > acc.1 { (t.as_str(), g) } else { acc }
            });
        say!(
            "\nLargest growth up to {m} messages: `{}` {:+.0}%",
            worst.0,
            worst.1
        );
    }

    say!("\nWrite p50 as open work grows (5,000 messages):\n");
    let opens: Vec<usize> = ours.write_growth.iter().map(|(o, _)| *o).collect();
    say!(
        "| tool | {} | {} vs {} |",
        opens
            .iter()
            .map(|o| format!("{o} open tasks"))
            .collect::<Vec<_>>()
            .join(" | "),
        opens.last().unwrap_or(&0),
        opens.first().unwrap_or(&0)
    );
    say!("|---|{}---|", "---|".repeat(opens.len()));
    if let Some((_, first)) = ours.write_growth.first() {
        for (j, (tool, _)) in first.iter().enumerate() {
            let cells: Vec<f64> = ours.write_growth.iter().map(|(_, row)| row[j].1).collect();
            say!(
                "| `{tool}` | {} | {:.2}x |",
                cells.iter().map(|c| us(*c)).collect::<Vec<_>>().join(" | "),
                cells.last().unwrap_or(&0.0) / cells.first().unwrap_or(&1.0).max(1.0)
            );
        }
    }

    say!("\nConcurrent writer processes sharing one total of messages, each as fast as it can:\n");
    say!(
        "| processes | messages | codenator msg/s | lost or duplicated | write lock held per message (mean) | lock busy | reference msg/s | reference lost or duplicated |"
    );
    say!("|---|---|---|---|---|---|---|---|");
    for (i, c) in ours.contention.iter().enumerate() {
        let r = reference.and_then(|r| r.contention.get(i));
        say!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            c.procs,
            c.messages,
            c.per_sec,
            if c.ok { "none" } else { "YES" },
            c.lock_mean.map(us).unwrap_or_else(|| "-".into()),
            c.lock_busy
                .map(|b| format!("{:.0}%", b * 100.0))
                .unwrap_or_else(|| "-".into()),
            r.map(|r| format!("{:.0}", r.per_sec))
                .unwrap_or_else(|| "-".into()),
            r.map(|r| if r.ok { "none" } else { "YES" }).unwrap_or("-")
        );
    }
    Ok(())
}
