//! Waking slots through the real Codex app-server (the pinned
//! `@openai/codex`, offline against `test_support::mock_model`): the
//! `codenator` binary's `thread-start`, `wake`, `daemon` and
//! `app-server-proof`, with the woken session calling the real
//! `codenator mcp` server.
//!
//! Codex must be installed first: `npm ci --prefix tools/codex`.
//!
//! Unix only: it starts the app-server in a process group of its own and kills the group.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app_server_client::protocol::{
    ApprovalPolicy, SandboxMode, ThreadResumeParams, ThreadSettings, TurnStartParams,
    TurnStartResponse, method,
};
use app_server_client::{AppServer, Codex, CodexHome, Holder, Policy};
use serde_json::{Value, json};
use test_support::codex::{CodexUser, codex_bin, require_codex};
use test_support::mock_model::{Gate, MockModel, Step};
use test_support::{World, walk_files};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running command's stdout, line by line.
type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// How long a whole test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(150);
const SLOT: &str = "worker-1";

/// A ledger, a Codex user configured for the mock, and a git worktree.
struct Setup {
    world: World,
    user: CodexUser,
    mock: MockModel,
    worktree: PathBuf,
}

impl Setup {
    async fn new(extra_config: &str) -> Setup {
        let world = World::new();
        let user = CodexUser::new(world.tmp.path());
        let mock = MockModel::start(Vec::new()).await.expect("mock model");
        user.write_config(
            &mock,
            &format!("[features]\nplugins = false\n\n{extra_config}"),
        );
        let worktree = world.path("work");
        test_support::repo(&worktree);
        let s = Setup {
            world,
            user,
            mock,
            worktree,
        };
        s.ok(&["init"]).await;
        s.ok(&[
            "register",
            SLOT,
            "--project",
            "p",
            "--focus",
            "wake",
            "--worktree",
            s.worktree.to_str().expect("utf-8"),
        ])
        .await;
        s
    }

    /// `codenator args…` with the world's ledger and this Codex user.
    async fn run(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = self.world.cmd(self.world.tmp.path(), args);
        cmd.envs(self.user.env())
            .env("CODENATOR_CODEX", codex_bin())
            .env("RUST_LOG", "warn");
        tokio::process::Command::from(cmd)
            .kill_on_drop(true)
            .output()
            .await
            .expect("run codenator")
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "codenator {args:?} failed ({:?}):\nstdout: {stdout}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// `thread-start` for the slot: one readiness turn; returns the thread.
    async fn thread_start(&self) -> String {
        self.mock.push(vec![Step::message("READY_WORKER_1")]);
        let r = self
            .json(&[
                "thread-start",
                "--slot",
                SLOT,
                "--cwd",
                self.worktree.to_str().expect("utf-8"),
                "--json",
            ])
            .await;
        assert_eq!(r["ok"], json!(true), "{r:#}");
        assert_eq!(r["registered"], json!(true), "{r:#}");
        r["thread_id"].as_str().expect("thread id").to_string()
    }

    /// A setup whose slot has a thread (`thread-start`).
    async fn with_thread() -> (Setup, String) {
        let s = Setup::new("").await;
        let thread = s.thread_start().await;
        (s, thread)
    }

    /// A plain message to the slot (it makes the slot's inbox unread).
    async fn message(&self, subject: &str, text: &str) {
        self.ok(&["send", SLOT, "--message", text, "--subject", subject])
            .await;
    }

    /// The slot's action in the plan (`watch --json`).
    async fn plan_action(&self) -> Value {
        let plan = self.json(&["watch", "--json"]).await;
        plan["actions"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["slot"] == json!(SLOT)))
            .cloned()
            .unwrap_or_else(|| panic!("no action for {SLOT}: {plan:#}"))
    }

    fn codex(&self) -> Codex {
        let mut c = Codex::new(codex_bin());
        c.env = self
            .user
            .env()
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        c
    }

    /// Every file of the ledger with its content.
    fn store_files(&self) -> Vec<(String, Vec<u8>)> {
        let dir = self.world.store();
        let mut files = walk_files(&dir);
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(dir.join(&f)).expect("read a ledger file");
                (f, bytes)
            })
            .collect()
    }

    /// `codenator args…` running, its stdout read line by line.
    fn spawn(&self, args: &[&str]) -> (tokio::process::Child, Lines) {
        let mut cmd = self.world.cmd(self.world.tmp.path(), args);
        cmd.envs(self.user.env())
            .env("CODENATOR_CODEX", codex_bin())
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped());
        let mut child = tokio::process::Command::from(cmd)
            .kill_on_drop(true)
            .spawn()
            .expect("start codenator");
        let stdout = child.stdout.take().expect("stdout");
        (child, BufReader::new(stdout).lines())
    }

    fn home(&self) -> CodexHome {
        CodexHome::new(&self.user.codex_home)
    }

    /// The wake attempts in the ledger, oldest first.
    fn attempts(&self) -> Vec<Value> {
        let dir = self.world.store().join("wake");
        let mut files = walk_files(&dir);
        files.sort();
        files
            .iter()
            .map(|f| {
                serde_json::from_str(&std::fs::read_to_string(dir.join(f)).expect("read attempt"))
                    .expect("attempt JSON")
            })
            .collect()
    }

    /// Nothing of this Codex user is left running, and no thread is held.
    async fn assert_nothing_left(&self, thread: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.user.leftover_processes();
            if left.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "processes left behind: {left:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(self.home().thread_holder(thread), Holder::Nobody);
        let lock = self.home().thread_lock(thread).expect("lock path");
        assert!(
            !lock.exists(),
            "the writer lock file is left: {}",
            lock.display()
        );
    }
}

fn heartbeat_step(call: &str) -> Step {
    Step::mcp_call(
        "codenator",
        call,
        "record_heartbeat",
        json!({"slot": SLOT, "status": "ok", "run_id": "worker-1-wake"}),
    )
}

/// 1. A full wake: a queued task and a registered thread; `wake --send
/// --prompt-mode work` resumes the thread in our own app-server, the model
/// calls codenator's tools, the task is active, the attempt completed, and
/// nothing is left running or locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_send_work_mode_claims_the_task_through_mcp() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline("wake_send_work_mode", TEST_TIMEOUT, async {
        let (s, thread) = Setup::with_thread().await;
        s.ok(&[
            "task-create",
            SLOT,
            "--task-id",
            "t-1",
            "--title",
            "Add a file",
            "--message",
            "Add wake.txt and report it.",
        ])
        .await;
        let action = s.plan_action().await;
        assert_eq!(action["action"], json!("wake_slot"), "{action:#}");
        // A dry run writes nothing: no file of the ledger changes.
        let before = s.store_files();
        let dry = s.json(&["wake", "--prompt-mode", "work", "--json"]).await;
        assert_eq!(dry["summary"]["planned"], json!(1), "{dry:#}");
        assert_eq!(dry["actions"][0]["outcome"], json!("planned"), "{dry:#}");
        assert!(s.store_files() == before, "the dry run changed the ledger");
        assert!(s.attempts().is_empty());

        s.mock.push(vec![
            heartbeat_step("call_hb"),
            Step::mcp_call(
                "codenator",
                "call_claim",
                "claim_next_task",
                json!({"slot": SLOT, "run_id": "worker-1-wake"}),
            ),
            Step::message("Claimed t-1."),
        ]);
        let started = Instant::now();
        let r = s
            .json(&["wake", "--send", "--prompt-mode", "work", "--json"])
            .await;
        eprintln!("wake via app_server: {:?}", started.elapsed());
        assert_eq!(r["ok"], json!(true), "{r:#}");
        let a = &r["actions"][0];
        assert_eq!(a["outcome"], json!("sent"), "{a:#}");
        assert_eq!(a["status"], json!("completed"), "{a:#}");
        assert_eq!(a["route"], json!("app_server"), "{a:#}");
        assert_eq!(s.mock.remaining(), 0);
        assert_eq!(s.mock.overruns(), 0);

        // The model got the work prompt, and codenator's answers.
        let req = s
            .mock
            .request_for_step(1)
            .expect("the wake's first request");
        let texts = req.user_texts();
        assert!(
            texts
                .iter()
                .any(|t| t.contains("Codenator work wake for worker-1")),
            "{texts:?}"
        );
        let claim = s
            .mock
            .find_output("function_call_output", "call_claim")
            .expect("claim output");
        assert!(claim.to_string().contains("t-1"), "{claim}");

        // The ledger: the task is active, the attempt completed.
        let task = s.json(&["task-show", "t-1", "--json"]).await;
        assert_eq!(task["task"]["status"], json!("active"), "{task:#}");
        let attempts = s.attempts();
        assert_eq!(attempts.len(), 1, "{attempts:#?}");
        let at = &attempts[0];
        assert_eq!(at["status"], json!("completed"), "{at:#}");
        assert_eq!(at["route"], json!("app_server"));
        assert_eq!(at["evidence"]["thread_id"], json!(thread));
        let calls = at["evidence"]["tool_calls"].to_string();
        assert!(
            calls.contains("codenator/record_heartbeat completed")
                && calls.contains("codenator/claim_next_task completed"),
            "{calls}"
        );
        assert!(at["timings"]["total_ms"].as_u64().is_some(), "{at:#}");
        eprintln!("timings: {}", at["timings"]);
        // plan_wake sees the attempt.
        let action = s.plan_action().await;
        assert_eq!(action["last_wake"]["id"], at["id"], "{action:#}");
        s.assert_nothing_left(&thread).await;
        Ok(())
    })
    .await
}

/// 2. The held thread: another app-server holds it with a turn in progress.
/// A second app-server's resume is refused ("active writer"); the wake
/// takes the queue route and records it; the owner runs the queued message
/// right after its turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_of_a_held_thread_is_queued_and_the_owner_runs_it() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline("wake_of_a_held_thread", TEST_TIMEOUT, async {
        let (s, thread) = Setup::with_thread().await;
        s.message("build", "Look at the build.").await;

        // The owner: resumes the thread and starts a turn the model holds.
        let gate = Gate::new();
        s.mock.push(vec![
            Step::message("The owner's turn is done.").held(&gate),
            Step::message("Ran the queued wake."),
        ]);
        let mut owner =
            AppServer::spawn(&s.codex(), Some(&s.worktree), Policy::decline_all()).await?;
        owner.initialize("owner").await?;
        owner
            .resume_thread(&ThreadResumeParams::thread(thread.clone()))
            .await?;
        let busy: TurnStartResponse = owner
            .request(
                method::TURN_START,
                &TurnStartParams::text(thread.clone(), "owner work"),
                Duration::from_secs(30),
            )
            .await?;
        assert!(matches!(
            s.home().thread_holder(&thread),
            Holder::Held { .. }
        ));

        // A resume elsewhere is refused as held.
        let mut other =
            AppServer::spawn(&s.codex(), Some(&s.worktree), Policy::decline_all()).await?;
        other.initialize("other").await?;
        let refused = other
            .resume_thread(&ThreadResumeParams {
                settings: ThreadSettings {
                    approval_policy: Some(ApprovalPolicy::Never),
                    sandbox: Some(SandboxMode::WorkspaceWrite),
                    ..ThreadSettings::default()
                },
                ..ThreadResumeParams::thread(thread.clone())
            })
            .await;
        match refused {
            Err(e) => assert!(e.is_held(), "{e}"),
            Ok(_) => panic!("a second writer was allowed"),
        }
        other.close().await;

        let started = Instant::now();
        let r = s
            .json(&[
                "wake",
                "--send",
                "--prompt",
                "QUEUED WAKE for worker-1",
                "--json",
            ])
            .await;
        eprintln!("wake via queue: {:?}", started.elapsed());
        let a = &r["actions"][0];
        assert_eq!(a["status"], json!("queued"), "{r:#}");
        assert_eq!(a["route"], json!("queue"), "{r:#}");
        let attempts = s.attempts();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["route"], json!("queue"));
        assert_eq!(attempts[0]["status"], json!("queued"));
        eprintln!("timings: {}", attempts[0]["timings"]);
        let note = attempts[0]["evidence"]["route_note"].as_str().unwrap_or("");
        assert!(note.starts_with("held"), "{:#}", attempts[0]);

        // The owner finishes its turn and then runs the queued message.
        gate.open();
        let deadline = Instant::now() + Duration::from_secs(30);
        let first = owner.wait_turn(&busy.turn.id, deadline).await?;
        eprintln!("owner turn: {:?}", first.status);
        let t_queue = Instant::now();
        let queued = owner.wait_next_turn(deadline).await?;
        eprintln!(
            "the owner ran the queued wake {:?} after its turn",
            t_queue.elapsed()
        );
        assert_eq!(queued.status.as_str(), "completed");
        let req = s
            .mock
            .request_for_step(2)
            .expect("the queued turn's request");
        assert!(
            req.user_texts()
                .iter()
                .any(|t| t.contains("QUEUED WAKE for worker-1")),
            "{:?}",
            req.user_texts()
        );
        owner.close().await;
        s.assert_nothing_left(&thread).await;
        Ok(())
    })
    .await
}

/// 4. The daemon's backoff: two cycles with nothing changed wake once,
/// and the second cycle says why it did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_wakes_once_while_nothing_changes() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline("daemon_backoff", TEST_TIMEOUT, async {
        let (s, thread) = Setup::with_thread().await;
        s.message("issue 3", "Please look at issue 3.").await;
        // Without an explicit prompt the daemon sends nothing.
        let out = s.run(&["daemon", "--once", "--send"]).await;
        assert_eq!(out.status.code(), Some(1));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("explicit_prompt_mode_required"), "{text}");
        assert_eq!(s.attempts().len(), 1);

        s.mock
            .push(vec![Step::message("Nothing for me to do yet.")]);
        let text = s
            .ok(&[
                "daemon",
                "--loop",
                "--interval",
                "0.2",
                "--max-cycles",
                "2",
                "--send",
                "--prompt",
                "Check your codenator inbox.",
            ])
            .await;
        eprintln!("{text}");
        assert!(
            text.contains("cycle 1:") && text.contains("cycle 2:"),
            "{text}"
        );
        assert!(text.contains("completed via app_server"), "{text}");
        assert!(
            text.contains("not woken again: nothing changed since its wake"),
            "{text}"
        );
        assert_eq!(s.mock.remaining(), 0);
        assert_eq!(s.mock.overruns(), 0, "woken twice");
        let attempts = s.attempts();
        assert_eq!(
            attempts.len(),
            2,
            "one blocked, one completed: {attempts:#?}"
        );
        assert_eq!(attempts[1]["status"], json!("completed"));

        // A change (a new message) makes the slot due again.
        s.message("issue 4", "And issue 4.").await;
        let r = s.json(&["wake", "--json"]).await;
        assert_eq!(r["summary"]["planned"], json!(1), "{r:#}");
        s.assert_nothing_left(&thread).await;
        Ok(())
    })
    .await
}

/// 5. `thread-start` gives a thread that a fresh app-server resumes in the
/// given cwd; the proof runs over WebSocket against a listening app-server;
/// discovery finds the thread again from its session file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_start_gives_a_resumable_thread() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline("thread_start", TEST_TIMEOUT, async {
        let (s, thread) = Setup::with_thread().await;
        let status = s.json(&["status", "--json"]).await;
        let row = test_support::row(&status["rows"], SLOT);
        assert_eq!(row["app_server_thread_id"], json!(thread), "{status:#}");
        s.assert_nothing_left(&thread).await;

        // A fresh app-server resumes it, in the worktree.
        s.mock.push(vec![Step::message("resumed")]);
        let mut fresh = AppServer::spawn(&s.codex(), None, Policy::decline_all()).await?;
        fresh.initialize("fresh").await?;
        let resumed = fresh
            .resume_thread(&ThreadResumeParams::thread(thread.clone()))
            .await?;
        assert_eq!(resumed.thread.id, thread);
        assert_eq!(
            resumed.thread.cwd.as_deref().map(Path::new),
            Some(s.worktree.as_path())
        );
        let turn = fresh
            .run_turn(
                &TurnStartParams::text(thread.clone(), "hello again"),
                Duration::from_secs(30),
            )
            .await?;
        assert_eq!(turn.status.as_str(), "completed");
        fresh.close().await;

        // Discovery never replaces a thread the slot already has.
        let d = s.json(&["thread-discover", "--apply", "--json"]).await;
        assert_eq!(d["applied"], json!([]), "{d:#}");
        assert_eq!(d["skipped"][0]["slot"], json!(SLOT), "{d:#}");
        assert_eq!(
            d["skipped"][0]["reason"],
            json!(format!("thread_known ({thread})")),
            "{d:#}"
        );
        // Discovery: with the registration cleared, the session file names the slot.
        s.ok(&["register", SLOT, "--app-server-thread-id", ""])
            .await;
        let d = s.json(&["thread-discover", "--apply", "--json"]).await;
        assert_eq!(d["applied"][0]["slot"], json!(SLOT), "{d:#}");
        assert_eq!(d["applied"][0]["thread_id"], json!(thread), "{d:#}");
        assert_eq!(
            d["applied"][0]["confidence"],
            json!("explicit_slot"),
            "{d:#}"
        );
        let status = s.json(&["status", "--json"]).await;
        let row = test_support::row(&status["rows"], SLOT);
        assert_eq!(row["app_server_thread_id"], json!(thread));
        assert_eq!(
            row["focus"],
            json!("wake"),
            "discovery kept the other fields"
        );

        // The proof over WebSocket, against a listening app-server.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let url = format!("ws://127.0.0.1:{port}");
        let mut server = tokio::process::Command::new(codex_bin());
        server
            .args(["app-server", "--listen", &url])
            .envs(s.user.env())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .process_group(0);
        let child = server.spawn()?;
        let pgid = child.id();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the app-server does not listen on {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        s.mock.push(vec![Step::message("APP_SERVER_WAKE_OK")]);
        let p = s.json(&["app-server-proof", "--url", &url, "--json"]).await;
        assert_eq!(p["ok"], json!(true), "{p:#}");
        if let Some(g) = pgid {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{g}")])
                .status();
        }
        drop(child);
        Ok(())
    })
    .await
}

/// Read lines until one contains `want`; all lines read so far.
async fn read_until(lines: &mut Lines, seen: &mut String, want: &str) {
    while !seen.contains(want) {
        match lines.next_line().await.expect("read stdout") {
            Some(l) => {
                seen.push_str(&l);
                seen.push('\n');
            }
            None => panic!("stdout ended before {want:?}:\n{seen}"),
        }
    }
}

/// Send `signal` (TERM, INT) to a process.
fn kill(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("running");
    test_support::run_ok(
        std::process::Command::new("kill").args([&format!("-{signal}"), &pid.to_string()]),
    );
}

/// The daemon prints each cycle while it runs (read before it exits),
/// requeues an expired lease (`--requeue-expired`), wakes the slot the
/// requeued task lands on, and stops cleanly on SIGTERM between cycles and
/// on SIGINT in the middle of a delivery (its app-server killed, the
/// thread's lock released, no attempt half-written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_requeues_prints_as_it_goes_and_stops_on_signals() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline("daemon_signals", TEST_TIMEOUT, async {
        let (s, thread) = Setup::with_thread().await;
        s.ok(&[
            "task-create",
            SLOT,
            "--task-id",
            "t-9",
            "--title",
            "Leased",
            "--message",
            "x",
        ])
        .await;
        let worker = test_support::connect(&s.world.root, SLOT).await?;
        let claimed = test_support::call(
            &worker,
            "claim_next_task",
            json!({"slot": SLOT, "lease_minutes": 0.01}),
        )
        .await?;
        assert_eq!(claimed["task"]["task_id"], json!("t-9"), "{claimed:#}");
        worker.cancel().await?;
        tokio::time::sleep(Duration::from_millis(1200)).await;

        s.mock.push(vec![Step::message("Back on t-9.")]);
        let (mut daemon, mut lines) = s.spawn(&[
            "daemon",
            "--loop",
            "--interval",
            "0.2",
            "--requeue-expired",
            "--send",
            "--prompt",
            "Your task is back in your inbox.",
        ]);
        let mut seen = String::new();
        read_until(&mut lines, &mut seen, "cycle 2:").await;
        read_until(&mut lines, &mut seen, "not woken again").await;
        assert!(
            daemon.try_wait()?.is_none(),
            "the daemon ended early:\n{seen}"
        );
        assert!(seen.contains("requeued t-9 (worker-1)"), "{seen}");
        assert!(seen.contains("completed via app_server"), "{seen}");
        kill(&daemon, "TERM");
        let status = daemon.wait().await?;
        while let Some(l) = lines.next_line().await? {
            seen.push_str(&l);
            seen.push('\n');
        }
        eprintln!("{seen}");
        assert_eq!(status.code(), Some(0), "{seen}");
        assert!(seen.contains("(stopped by SIGTERM)"), "{seen}");
        let task = s.json(&["task-show", "t-9", "--json"]).await;
        assert_eq!(task["task"]["status"], json!("queued"), "{task:#}");
        assert_eq!(s.mock.remaining(), 0);
        assert_eq!(s.attempts().len(), 1, "woken once");
        s.assert_nothing_left(&thread).await;

        // SIGINT while a wake's turn is in flight.
        s.message("later", "One more thing.").await;
        let gate = Gate::new();
        s.mock.push(vec![Step::message("never sent").held(&gate)]);
        let (mut daemon, mut lines) = s.spawn(&[
            "daemon",
            "--loop",
            "--interval",
            "0.2",
            "--send",
            "--prompt",
            "Inbox.",
        ]);
        let deadline = Instant::now() + Duration::from_secs(30);
        while s.mock.requests().len() < 2 + 1 {
            assert!(
                Instant::now() < deadline,
                "the wake's turn did not reach the model"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(matches!(
            s.home().thread_holder(&thread),
            Holder::Held { .. }
        ));
        kill(&daemon, "INT");
        let status = daemon.wait().await?;
        let mut seen = String::new();
        while let Some(l) = lines.next_line().await? {
            seen.push_str(&l);
            seen.push('\n');
        }
        eprintln!("{seen}");
        assert_eq!(status.code(), Some(0), "{seen}");
        assert!(seen.contains("(stopped by SIGINT)"), "{seen}");
        assert_eq!(
            s.attempts().len(),
            1,
            "the interrupted wake is not recorded"
        );
        s.assert_nothing_left(&thread).await;
        gate.open();
        Ok(())
    })
    .await
}

/// `wake --slot` wakes only that slot; `--timeout` interrupts a turn that
/// runs too long (recorded as failed with `turn_timeout`, its app-server
/// gone); `--approval-policy never` runs codenator's tools without asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wake_slot_timeout_and_approval_policy() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline("wake_options", TEST_TIMEOUT, async {
        let (s, thread) = Setup::with_thread().await;
        let other = s.world.path("work-2");
        std::fs::create_dir_all(&other)?;
        s.ok(&[
            "register",
            "worker-2",
            "--project",
            "p",
            "--focus",
            "other",
            "--worktree",
            other.to_str().expect("utf-8"),
        ])
        .await;
        s.message("a", "For worker-1.").await;
        s.ok(&[
            "send",
            "worker-2",
            "--message",
            "For worker-2.",
            "--subject",
            "b",
        ])
        .await;
        // Both are due (worker-2 has no thread yet, so it is blocked).
        let dry: Value = serde_json::from_slice(&s.run(&["wake", "--json"]).await.stdout)?;
        assert_eq!(dry["actions"].as_array().map(Vec::len), Some(2), "{dry:#}");
        assert_eq!(dry["summary"]["planned"], json!(1), "{dry:#}");
        assert_eq!(dry["summary"]["blocked"], json!(1), "{dry:#}");

        let gate = Gate::new();
        s.mock.push(vec![
            heartbeat_step("call_hb"),
            Step::message("too late").held(&gate),
        ]);
        let started = Instant::now();
        let out = s
            .run(&[
                "wake",
                "--send",
                "--slot",
                SLOT,
                "--prompt",
                "Inbox.",
                "--timeout",
                "3",
                "--approval-policy",
                "never",
                "--json",
            ])
            .await;
        let took = started.elapsed();
        let r: Value = serde_json::from_slice(&out.stdout)?;
        assert_eq!(out.status.code(), Some(1), "a failed wake: {r:#}");
        let actions = r["actions"].as_array().cloned().unwrap_or_default();
        assert_eq!(actions.len(), 1, "only --slot {SLOT}: {r:#}");
        assert_eq!(actions[0]["slot"], json!(SLOT));
        assert_eq!(actions[0]["outcome"], json!("sent"), "{r:#}");
        assert_eq!(actions[0]["status"], json!("failed"), "{r:#}");
        assert_eq!(actions[0]["reason"], json!("turn_timeout"), "{r:#}");
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(20),
            "{took:?}"
        );
        let attempts = s.attempts();
        assert_eq!(attempts.len(), 1, "{attempts:#?}");
        let at = &attempts[0];
        assert_eq!(at["slot"], json!(SLOT));
        assert_eq!(at["status"], json!("failed"));
        assert_eq!(at["reason"], json!("turn_timeout"));
        assert!(
            at["timings"]["turn_ms"].as_u64().is_some_and(|t| t >= 3000),
            "{at:#}"
        );
        // Under never nothing is asked, and the tool still ran; Codex
        // recorded the turn under never (the readiness turn ran under the
        // default on-request).
        assert_eq!(at["evidence"]["answered"], json!([]), "{at:#}");
        let session = walk_files(&s.user.codex_home.join("sessions"))
            .into_iter()
            .find(|f| f.contains(&thread))
            .expect("the thread's session file");
        let policies: Vec<String> =
            std::fs::read_to_string(s.user.codex_home.join("sessions").join(&session))?
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["type"] == json!("turn_context"))
                .map(|v| v["payload"]["approval_policy"].to_string())
                .collect();
        assert_eq!(
            policies,
            vec!["\"on-request\"".to_string(), "\"never\"".to_string()],
            "{session}"
        );
        let calls = at["evidence"]["tool_calls"].to_string();
        assert!(
            calls.contains("codenator/record_heartbeat completed"),
            "{calls}"
        );
        assert!(
            std::fs::read_dir(s.world.store().join("heartbeat"))?.count() > 0,
            "no heartbeat recorded"
        );
        s.assert_nothing_left(&thread).await;
        gate.open();
        Ok(())
    })
    .await
}
