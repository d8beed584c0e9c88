//! Background Codex jobs end to end: the real `codenator` CLI dispatches
//! the real pinned Codex (`tools/codex`, `npm ci --prefix tools/codex`) as
//! detached workers, answered offline by `test_support::mock_model`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use test_support::mock_model::{MockModel, Step};
use test_support::{World, repo_root};

/// The longest any one wait in these tests may take before it fails.
const WAIT: Duration = Duration::from_secs(60);

/// A ledger root, a HOME whose Codex talks to the mock, a work directory.
struct Jobs {
    world: World,
    mock: MockModel,
    work: PathBuf,
}

impl Jobs {
    async fn new(steps: Vec<Step>) -> Jobs {
        let codex = repo_root().join("tools/codex/node_modules/.bin/codex");
        assert!(
            codex.is_file(),
            "the pinned Codex is missing at {}: run `npm ci --prefix tools/codex`",
            codex.display()
        );
        let world = World::new();
        let mock = MockModel::start(steps).await.expect("start the mock model");
        let config = format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\napproval_policy = \"never\"\n\
             sandbox_mode = \"workspace-write\"\ncheck_for_update_on_startup = false\n\n\
             [features]\nplugins = false\n\n[analytics]\nenabled = false\n\n{}",
            mock.provider_toml("mock", "E2E_MOCK_KEY")
        );
        std::fs::write(world.home.join(".codex/config.toml"), config).expect("config.toml");
        let work = world.path("work");
        std::fs::create_dir_all(&work).expect("work dir");
        let jobs = Jobs { world, mock, work };
        jobs.ok(&["init"]).await;
        jobs
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let codex = repo_root().join("tools/codex/node_modules/.bin/codex");
        let mut c = self.world.cmd(&self.work, args);
        c.env("E2E_MOCK_KEY", "dummy")
            .env("CODENATOR_CODEX", codex)
            .env("TMUX_TMPDIR", self.tmux_dir())
            .env_remove("TMUX");
        for v in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
        ] {
            c.env_remove(v);
        }
        c
    }

    /// Where this world's tmux servers keep their sockets.
    fn tmux_dir(&self) -> PathBuf {
        let dir = self.world.path("tmux");
        std::fs::create_dir_all(&dir).expect("tmux dir");
        dir
    }

    /// `tmux args…` against this world's tmux servers.
    fn tmux(&self, args: &[&str]) -> Output {
        std::process::Command::new("tmux")
            .args(args)
            .env("TMUX_TMPDIR", self.tmux_dir())
            .env_remove("TMUX")
            .output()
            .expect("run tmux")
    }

    /// Does the job's tmux session exist?
    fn has_session(&self, session: &str) -> bool {
        self.tmux(&["-L", session, "has-session", "-t", session])
            .status
            .success()
    }

    /// `codenator args…`, which must fail with exit 2: its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        err
    }

    /// Run `codenator args…` off the runtime's threads (the mock serves
    /// on them meanwhile).
    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        tokio::task::spawn_blocking(move || c.output().expect("run codenator"))
            .await
            .expect("join")
    }

    /// `codenator args…` with nothing on PATH (and, unless `keep_codex`,
    /// no `CODENATOR_CODEX` either).
    async fn run_on_empty_path(&self, args: &[&str], keep_codex: bool) -> Output {
        let empty = self.world.path("empty-path");
        std::fs::create_dir_all(&empty).expect("dir");
        let mut c = self.command(args);
        c.env("PATH", &empty);
        if !keep_codex {
            c.env_remove("CODENATOR_CODEX");
        }
        tokio::task::spawn_blocking(move || c.output().expect("run codenator"))
            .await
            .expect("join")
    }

    async fn ok(&self, args: &[&str]) -> String {
        World::stdout_of_success(args, self.run(args).await)
    }

    async fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args).await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// `job start … --json`: the job id.
    async fn start(&self, args: &[&str]) -> String {
        let mut a = vec!["job", "start"];
        a.extend_from_slice(args);
        a.push("--json");
        let ans = self.json(&a).await;
        ans["job"]["id"].as_str().expect("job id").to_string()
    }

    /// `job wait ID… --json`, which must see every job end.
    async fn wait(&self, ids: &[&str]) -> Vec<Value> {
        let mut a = vec!["job", "wait"];
        a.extend_from_slice(ids);
        a.extend(["--timeout", "60s", "--json"]);
        let v = self.json(&a).await;
        v.as_array().expect("array").clone()
    }

    async fn list(&self) -> Vec<Value> {
        self.json(&["jobs", "--json"]).await["jobs"]
            .as_array()
            .expect("jobs")
            .clone()
    }

    /// The coordinator's messages of a type, without reading them.
    async fn inbox(&self, kind: &str) -> Vec<Value> {
        let v = self
            .json(&["inbox", "coordinator", "--peek", "--json", "--limit", "200"])
            .await;
        v.as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["type"] == kind)
            .cloned()
            .collect()
    }

    /// `job kill ID`, which must end the job and every process whose
    /// command line holds `marker`: the killed job.
    async fn kill(&self, id: &str, marker: &str) -> Value {
        let killed = self.json(&["job", "kill", id, "--json"]).await;
        assert_eq!(killed["state"], "killed", "{killed}");
        self.until("every process of the job gone", |_| !running(marker))
            .await;
        killed
    }

    /// Poll until `f` holds (or fail after [`WAIT`]).
    async fn until(&self, what: &str, mut f: impl FnMut(&Jobs) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !f(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Is process `pid` alive (not gone, not a zombie)?
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| !stat.contains(") Z ") && !stat.contains(") X "))
}

/// Is a process whose command line holds `marker` running?
fn running(marker: &str) -> bool {
    let out = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .expect("pgrep");
    !out.stdout.is_empty()
}

fn by_id<'a>(jobs: &'a [Value], id: &str) -> &'a Value {
    jobs.iter()
        .find(|j| j["id"] == id)
        .unwrap_or_else(|| panic!("job {id} not in {jobs:?}"))
}

fn file(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Requirement 1: a job adds two files through `apply_patch` and answers;
/// it ends completed with both files, the tokens and the summary, progress
/// notes and one callback reach the coordinator, and its task is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_patches_two_files_and_calls_back() {
    let patch = "*** Begin Patch\n*** Add File: alpha.txt\n+alpha\n*** Add File: beta.txt\n+beta\n*** End Patch\n";
    let j = Jobs::new(vec![
        Step::apply_patch("call_ap", patch),
        Step::message("Added alpha.txt and beta.txt."),
    ])
    .await;
    let task = j
        .json(&[
            "task-create",
            "w1",
            "--title",
            "Add two files",
            "--message",
            "alpha and beta",
            "--json",
        ])
        .await;
    let task_id = task["task"]["task_id"]
        .as_str()
        .expect("task id")
        .to_string();
    let answer = j.work.join("answer.md");
    let id = j
        .start(&[
            "Add the files alpha.txt and beta.txt",
            "--task",
            &task_id,
            "--sandbox",
            "workspace-write",
            "-o",
            answer.to_str().expect("utf-8"),
            "--notify-on-complete",
            "tee notified.json",
        ])
        .await;
    let done = j.wait(&[&id]).await;
    let job = &done[0];
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["exit_code"], 0);
    assert_eq!(job["summary"], "Added alpha.txt and beta.txt.");
    let files: Vec<&str> = job["files_modified"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["path"].as_str().expect("path"))
        .collect();
    for name in ["alpha.txt", "beta.txt"] {
        let p = j.work.join(name);
        assert!(
            files.iter().any(|f| Path::new(f) == p),
            "{name} in {files:?}"
        );
        assert_eq!(file(&p), name.trim_end_matches(".txt").to_string() + "\n");
    }
    // The mock bills 100 input and 10 output tokens per response; the turn
    // made two main requests.
    let tokens = &job["tokens"];
    assert!(tokens["input"].as_u64().expect("input") >= 200, "{tokens}");
    assert!(tokens["output"].as_u64().expect("output") >= 20, "{tokens}");
    assert!(job["thread_id"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        !job["progress"].as_array().expect("progress").is_empty(),
        "{job}"
    );
    assert_eq!(file(&answer).trim(), "Added alpha.txt and beta.txt.");
    // --notify-on-complete ran `tee` (in the job's directory) with the job's JSON.
    let notified = j.work.join("notified.json");
    j.until("the notify command's output", |_| {
        std::fs::read_to_string(&notified)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some()
    })
    .await;
    let n: Value = serde_json::from_str(&file(&notified)).expect("json");
    assert_eq!(n["id"], id.as_str());
    assert_eq!(n["state"], "completed");

    let callbacks = j.inbox("job.completed").await;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0]["payload"]["job_id"], id.as_str());
    assert_eq!(
        callbacks[0]["payload"]["summary"],
        "Added alpha.txt and beta.txt."
    );
    assert_eq!(callbacks[0]["task_id"], task_id.as_str());
    assert!(!j.inbox("job.progress").await.is_empty());

    let shown = j.json(&["task-show", &task_id, "--json"]).await;
    assert_eq!(shown["task"]["status"], "reported", "{shown}");

    let out = j.ok(&["job", "output", &id]).await;
    assert!(out.contains("Added alpha.txt and beta.txt."), "{out}");
    assert!(out.contains("[add "), "{out}");
    let watched = j.ok(&["job", "watch", &id]).await;
    assert!(
        watched.contains("Added alpha.txt and beta.txt."),
        "{watched}"
    );
    assert!(watched.contains(&format!("{id}  completed")), "{watched}");
}

/// Requirement 2: seven jobs with the limit at six: six run, one queues
/// (position 1) and starts by itself when one ends; never more than six
/// at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seven_jobs_at_a_limit_of_six() {
    let j = Jobs::new(
        (0..7)
            .map(|i| Step::message(&format!("done {i}")))
            .collect(),
    )
    .await;
    j.mock.close_gate();
    let mut ids = Vec::new();
    for i in 0..7 {
        let prompt = format!("job number {i}");
        ids.push(j.start(&[&prompt, "--max-active", "6"]).await);
    }
    j.until("six model requests held", |j| j.mock.waiting() == 6)
        .await;
    let jobs = j.list().await;
    let running: Vec<&Value> = jobs.iter().filter(|v| v["state"] == "running").collect();
    let queued: Vec<&Value> = jobs.iter().filter(|v| v["state"] == "queued").collect();
    assert_eq!(running.len(), 6, "{jobs:?}");
    assert_eq!(queued.len(), 1, "{jobs:?}");
    assert_eq!(queued[0]["id"], ids[6].as_str());
    assert_eq!(queued[0]["queue_position"], 1);

    j.mock.open_gate();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let done = j.wait(&refs).await;
    assert!(done.iter().all(|v| v["state"] == "completed"), "{done:?}");
    let span = |v: &Value| {
        (
            v["started_at"].as_str().expect("started").to_string(),
            v["ended_at"].as_str().expect("ended").to_string(),
        )
    };
    let spans: Vec<(String, String)> = done.iter().map(span).collect();
    let last = &spans[6];
    assert!(
        spans[..6].iter().any(|(_, end)| *end <= last.0),
        "the seventh started ({}) only after another ended: {spans:?}",
        last.0
    );
    for (start, _) in &spans {
        let at_once = spans
            .iter()
            .filter(|(s, e)| s <= start && start < e)
            .count();
        assert!(at_once <= 6, "{at_once} running at {start}: {spans:?}");
    }
}

/// Requirement 3: a worker killed with SIGKILL shows failed, not running,
/// on the next `jobs`, and one `job.failed` callback is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_failed_once() {
    let j = Jobs::new(vec![Step::message("never sent")]).await;
    j.mock.close_gate();
    let id = j.start(&["wait for the model"]).await;
    j.until("the model request held", |j| j.mock.waiting() == 1)
        .await;
    let status = j.json(&["job", "status", &id, "--json"]).await;
    assert_eq!(status["state"], "running");
    let pid = status["pid"].as_u64().expect("pid");
    // The whole worker: its process group (the supervisor leads it).
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status()
        .expect("kill");
    assert!(killed.success());
    // `kill` returns once the signal is sent; on a loaded machine the
    // supervisor may take a moment to die. The next read after its death
    // must show it failed.
    j.until("the supervisor dead", |_| !alive(pid)).await;
    let jobs = j.list().await;
    let job = by_id(&jobs, &id);
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["reason"].as_str().is_some_and(|r| r.contains("died")),
        "{job}"
    );
    // Further reads change nothing and send nothing.
    let again = j.list().await;
    assert_eq!(by_id(&again, &id)["state"], "failed");
    let failed = j.inbox("job.failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["payload"]["job_id"], id.as_str());
    j.mock.open_gate();
}

/// Requirement 5: `job kill` ends the whole process tree, `--dry-run`
/// prints the envelope and starts nothing, and `health` without Codex
/// fails naming the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_tree_and_dry_run_starts_nothing() {
    let marker = format!("jobs-e2e-{}", std::process::id());
    let cmd = format!("sh -c 'sleep 300; echo {marker}'");
    let j = Jobs::new(vec![Step::exec_command("call_sleep", &cmd)]).await;

    std::fs::create_dir_all(j.work.join("docs")).expect("docs");
    std::fs::write(j.work.join("docs/CODEBASE_MAP.md"), "MAP OF THE CODE\n").expect("map");
    std::fs::create_dir_all(j.work.join("notes")).expect("notes");
    std::fs::write(j.work.join("notes/a.md"), "NOTE A\n").expect("note");
    let dry = j
        .ok(&[
            "job",
            "start",
            "Do the thing",
            "--file",
            "notes/*.md",
            "--map",
            "--context",
            "the repo",
            "--goal",
            "green",
            "--constraint",
            "no deps",
            "--expected",
            "a summary",
            "--dry-run",
        ])
        .await;
    let at = |s: &str| dry.find(s).unwrap_or_else(|| panic!("{s} in {dry}"));
    assert!(at("## Task") < at("## Context"));
    assert!(at("## Context") < at("## Goal"));
    assert!(at("## Goal") < at("## Constraints"));
    assert!(at("## Constraints") < at("## Expected Output"));
    assert!(at("## Context") < at("File `notes/a.md`:\n```\nNOTE A"));
    assert!(at("MAP OF THE CODE") < at("## Goal"));
    assert!(dry.contains("exec"), "{dry}");
    assert!(j.list().await.is_empty(), "a dry run starts nothing");
    assert_eq!(j.mock.requests().len(), 0);

    let id = j.start(&["sleep for a while"]).await;
    j.until("the worker's shell command running", |_| running(&marker))
        .await;
    let killed = j.kill(&id, &marker).await;
    let pid = killed["pid"].as_u64().expect("pid");
    assert!(!alive(pid), "the supervisor is gone");
    assert_eq!(j.inbox("job.killed").await.len(), 1);

    // Without Codex jobs cannot run, and health names the fix.
    let out = j.run_on_empty_path(&["health"], false).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL codex"), "{text}");
    assert!(text.contains("npm install -g @openai/codex"), "{text}");
    assert!(text.contains("FAIL tmux"), "{text}");
    // With the pinned Codex and the mock provider, it can.
    let ok = j.ok(&["health"]).await;
    assert!(ok.contains("ok   codex: codex-cli"), "{ok}");
    assert!(ok.contains("ok   tmux: for `job start --tmux`"), "{ok}");
}

/// The JSON text of what the model was sent for step `i`.
fn input_of_step(mock: &MockModel, i: usize) -> String {
    let req = mock
        .request_for_step(i)
        .unwrap_or_else(|| panic!("no request answered step {i}"));
    serde_json::to_string(&req.body["input"]).expect("input")
}

/// Requirement 4: `job send` continues the same thread (sent while the
/// job runs, it waits for the run to end), and the model's next request
/// carries the first answer; `--thread NAME` on a later job continues it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_and_named_threads_continue_the_thread() {
    let j = Jobs::new(vec![
        Step::message("FIRST ANSWER alpha"),
        Step::message("SECOND ANSWER beta"),
        Step::message("THIRD ANSWER gamma"),
    ])
    .await;
    j.mock.close_gate();
    let first = j.start(&["the first question", "--thread", "proj"]).await;
    j.until("the first turn held", |j| j.mock.waiting() == 1)
        .await;
    let sent = j
        .json(&["job", "send", &first, "the second question", "--json"])
        .await;
    assert_eq!(sent["job"]["state"], "queued", "{sent}");
    assert_eq!(sent["job"]["continues"], first.as_str());
    let second = sent["job"]["id"].as_str().expect("id").to_string();
    j.mock.open_gate();
    let done = j.wait(&[&first, &second]).await;
    assert!(done.iter().all(|v| v["state"] == "completed"), "{done:?}");
    let thread = done[0]["thread_id"].as_str().expect("thread").to_string();
    assert_eq!(done[1]["thread_id"], thread.as_str());
    assert_eq!(done[1]["summary"], "SECOND ANSWER beta");
    let second_input = input_of_step(&j.mock, 1);
    assert!(
        second_input.contains("FIRST ANSWER alpha") && second_input.contains("the second question"),
        "{second_input}"
    );

    let third = j.start(&["the third question", "--thread", "proj"]).await;
    let done = j.wait(&[&third]).await;
    assert_eq!(done[0]["state"], "completed", "{:?}", done[0]);
    assert_eq!(done[0]["continues"], second.as_str());
    assert_eq!(done[0]["thread_id"], thread.as_str());
    let third_input = input_of_step(&j.mock, 2);
    assert!(
        third_input.contains("FIRST ANSWER alpha") && third_input.contains("SECOND ANSWER beta"),
        "{third_input}"
    );

    // `jobs clean` removes the ended jobs but the latest of the thread,
    // which later jobs of the name continue.
    let removed = j
        .json(&["jobs", "clean", "--older-than", "0s", "--json"])
        .await;
    let mut removed: Vec<&str> = removed
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().expect("id"))
        .collect();
    removed.sort_unstable();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort_unstable();
    assert_eq!(removed, expected);
    let left = j.list().await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], third.as_str());
    let store = j.world.store();
    assert!(!store.join(format!("jobs/{first}.json")).exists());
    assert!(!store.join(format!("jobs/{first}.log")).exists());
    assert!(store.join(format!("jobs/{third}.log")).exists());
}

/// Requirement 6: the MCP tools dispatch and list a job through
/// `codenator mcp` over stdio (rmcp's client); a worker may not dispatch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_dispatch_and_list_a_job() {
    let j = Jobs::new(vec![Step::message("MCP job done")]).await;
    let server = |agent: &str| {
        let std_cmd = j.command(&[
            "mcp",
            "--root",
            j.world.root.to_str().expect("utf-8"),
            "--agent",
            agent,
        ]);
        let mut cmd = tokio::process::Command::from(std_cmd);
        cmd.env_remove("AURALIS_CODENATOR_ROOT");
        cmd
    };
    let co = test_support::connect_with(server("coordinator"))
        .await
        .expect("connect the coordinator");
    let work = j.work.to_str().expect("utf-8");
    let wt = j.world.path("wt-w1");
    std::fs::create_dir_all(&wt).expect("worktree");
    let wt = wt.to_str().expect("utf-8");
    j.ok(&[
        "register",
        "w1",
        "--project",
        "p",
        "--focus",
        "f",
        "--worktree",
        wt,
    ])
    .await;
    let unregistered = test_support::call_raw(
        &co,
        "dispatch_job",
        serde_json::json!({"prompt": "as nobody", "dir": work, "slot": "w9"}),
    )
    .await
    .expect("call");
    assert_eq!(unregistered.is_error, Some(true), "{unregistered:?}");
    let started = test_support::call(
        &co,
        "dispatch_job",
        serde_json::json!({"prompt": "answer over MCP", "dir": work, "goal": "say done", "slot": "w1"}),
    )
    .await
    .expect("dispatch_job");
    let id = started["job"]["id"].as_str().expect("id").to_string();
    assert_eq!(started["job"]["spec"]["slot"], "w1", "{started}");
    assert!(
        started["job"]["prompt"]
            .as_str()
            .is_some_and(|p| p.starts_with("## Task\nanswer over MCP")),
        "{started}"
    );
    let listed = test_support::call(&co, "list_jobs", serde_json::json!({}))
        .await
        .expect("list_jobs");
    let jobs = listed["jobs"].as_array().expect("jobs");
    assert!(jobs.iter().any(|v| v["id"] == id.as_str()), "{listed}");

    let done = j.wait(&[&id]).await;
    assert_eq!(done[0]["state"], "completed", "{:?}", done[0]);
    let status = test_support::call(&co, "job_status", serde_json::json!({"job_id": id}))
        .await
        .expect("job_status");
    assert_eq!(status["summary"], "MCP job done");
    let out = test_support::call(
        &co,
        "job_output",
        serde_json::json!({"job_id": id, "tail": 5}),
    )
    .await
    .expect("job_output");
    assert!(
        out["text"]
            .as_str()
            .is_some_and(|t| t.contains("MCP job done")),
        "{out}"
    );

    let worker = test_support::connect_with(server("w1"))
        .await
        .expect("connect a worker");
    let refused = test_support::call_raw(
        &worker,
        "dispatch_job",
        serde_json::json!({"prompt": "not mine to start", "dir": work}),
    )
    .await
    .expect("call");
    assert_eq!(refused.is_error, Some(true), "{refused:?}");
    let body = refused.structured_content.expect("structured");
    assert_eq!(body["error"]["rule"], "coordinator_only", "{body}");
    co.cancel().await.expect("close");
    worker.cancel().await.expect("close");
}

/// The last `token_count` of a thread's Codex session record (its
/// rollout file under the world's `CODEX_HOME`).
fn last_token_count(codex_home: &Path, thread: &str) -> Value {
    let mut found = None;
    for day in walk(&codex_home.join("sessions")) {
        if day
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(&format!("-{thread}.jsonl")))
        {
            found = Some(day);
        }
    }
    let file = found.unwrap_or_else(|| panic!("no rollout of thread {thread}"));
    file_lines(&file)
        .into_iter()
        .rfind(|v| {
            v["type"] == "event_msg"
                && v["payload"]["type"] == "token_count"
                && !v["payload"]["info"].is_null()
        })
        .unwrap_or_else(|| panic!("no token_count in {}", file.display()))["payload"]["info"]
        .clone()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn file_lines(p: &Path) -> Vec<Value> {
    file(p)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// `--slot`: a job works as a registered slot. Bad, unregistered and
/// mismatched slots are refused with nothing written; the worker's
/// codenator server speaks for the slot (its heartbeat is recorded by the
/// slot itself, not on its behalf), the task is claimed and reported by
/// it, and the record and `job status` show the slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_works_as_its_slot() {
    let j = Jobs::new(vec![
        Step::mcp_call(
            "codenator",
            "call_hb",
            "record_heartbeat",
            serde_json::json!({"slot": "w1"}),
        ),
        Step::message("Heartbeat recorded as w1."),
    ])
    .await;
    for slot in ["w1", "w2"] {
        // Worktrees of their own: the commands run in the job's directory
        // as the coordinator.
        let wt = j.world.path(&format!("wt-{slot}"));
        std::fs::create_dir_all(&wt).expect("worktree");
        j.ok(&[
            "register",
            slot,
            "--project",
            "p",
            "--focus",
            "jobs",
            "--worktree",
            wt.to_str().expect("utf-8"),
        ])
        .await;
    }
    let task_of = |v: Value| v["task"]["task_id"].as_str().expect("id").to_string();
    let task = task_of(
        j.json(&[
            "task-create",
            "w1",
            "--title",
            "Beat",
            "--message",
            "beat",
            "--json",
        ])
        .await,
    );
    let other = task_of(
        j.json(&[
            "task-create",
            "w2",
            "--title",
            "Not w1's",
            "--message",
            "x",
            "--json",
        ])
        .await,
    );

    let bad = j
        .fails(&["job", "start", "x", "--slot", "no such/slot"])
        .await;
    assert!(bad.contains("--slot"), "{bad}");
    let unregistered = j.fails(&["job", "start", "x", "--slot", "w9"]).await;
    assert!(unregistered.contains("not registered"), "{unregistered}");
    let coordinator = j
        .fails(&["job", "start", "x", "--slot", "coordinator"])
        .await;
    assert!(coordinator.contains("--slot"), "{coordinator}");
    let mismatch = j
        .fails(&["job", "start", "x", "--slot", "w1", "--task", &other])
        .await;
    assert!(mismatch.contains("assigned to w2"), "{mismatch}");
    assert!(j.list().await.is_empty(), "a refused start writes nothing");
    let shown = j.json(&["task-show", &other, "--json"]).await;
    assert_eq!(shown["task"]["status"], "queued", "{shown}");

    // The identity handed to Codex: codenator's server on this root, as w1.
    let dry = j
        .ok(&[
            "job",
            "start",
            "beat",
            "--slot",
            "w1",
            "--dry-run",
            "--json",
        ])
        .await;
    let dry: Value = serde_json::from_str(&dry).expect("json");
    let command: Vec<&str> = dry["command"]
        .as_array()
        .expect("command")
        .iter()
        .map(|a| a.as_str().expect("arg"))
        .collect();
    let args = command
        .iter()
        .find(|a| a.starts_with("mcp_servers.codenator.args="))
        .unwrap_or_else(|| panic!("{command:?}"));
    let root = j.world.root.to_str().expect("utf-8");
    assert!(
        args.ends_with(&format!(r#"["mcp","--root","{root}","--agent","w1"]"#)),
        "{args}"
    );

    let id = j
        .start(&["Record a heartbeat", "--slot", "w1", "--task", &task])
        .await;
    let second = j.fails(&["job", "start", "y", "--slot", "w1"]).await;
    assert!(second.contains("one job works as a slot"), "{second}");
    let done = j.wait(&[&id]).await;
    let job = &done[0];
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["spec"]["slot"], "w1");
    // The tool ran, as w1, and Codex fed its answer back.
    let output = j
        .mock
        .find_output("function_call_output", "call_hb")
        .expect("the heartbeat's output");
    let text = output.to_string();
    assert!(text.contains("w1") && !text.contains("forbidden"), "{text}");
    let hb: Value =
        serde_json::from_str(&file(&j.world.store().join("heartbeat/w1.json"))).expect("json");
    assert_eq!(hb["status"], "ok", "{hb}");
    assert!(
        hb.get("recorded_by").is_none(),
        "recorded by w1 itself, not on its behalf: {hb}"
    );
    let shown = j.json(&["task-show", &task, "--json"]).await;
    assert_eq!(shown["task"]["status"], "reported", "{shown}");
    let history = shown["task"]["history"].as_array().expect("history");
    let by: Vec<&str> = history.iter().filter_map(|h| h["by"].as_str()).collect();
    assert!(
        by.ends_with(&["w1", "w1"]),
        "claimed and reported by w1: {shown}"
    );
    let status = j.ok(&["job", "status", &id]).await;
    assert!(status.contains(&format!("{id}  completed")), "{status}");
    assert!(status.contains("as w1"), "{status}");

    // A follow-up works as the slot too, so it waits its turn: while
    // another job works as w1, `job send` to the first is refused.
    j.mock.close_gate();
    let busy = j.start(&["hold w1", "--slot", "w1"]).await;
    let refused = j.fails(&["job", "send", &id, "and again"]).await;
    assert!(refused.contains("one job works as a slot"), "{refused}");
    j.mock.open_gate();
    let done = j.wait(&[&busy]).await;
    assert_eq!(done[0]["spec"]["slot"], "w1", "{:?}", done[0]);
    assert_eq!(
        j.list().await.len(),
        2,
        "the refused follow-up wrote nothing"
    );
}

/// The share of the context window: read from Codex's own session record,
/// equal to its last `token_count` (the mock bills 110 tokens a request),
/// in the record, `jobs --json`, `job status` and the callback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_figures_show_the_context_window_share() {
    let j = Jobs::new(vec![Step::message("counted")]).await;
    let id = j.start(&["count my tokens"]).await;
    let done = j.wait(&[&id]).await;
    let job = &done[0];
    assert_eq!(job["state"], "completed", "{job}");
    let thread = job["thread_id"].as_str().expect("thread");
    let info = last_token_count(&j.world.home.join(".codex"), thread);
    let used = info["last_token_usage"]["total_tokens"]
        .as_u64()
        .expect("total");
    let window = info["model_context_window"].as_u64().expect("window");
    assert_eq!(used, 110, "the mock's usage: {info}");
    let tokens = &job["tokens"];
    assert_eq!(tokens["input"], 100, "{tokens}");
    assert_eq!(tokens["cached_input"], 0, "{tokens}");
    assert_eq!(tokens["output"], 10, "{tokens}");
    assert_eq!(tokens["context_used"], used, "{tokens}");
    assert_eq!(tokens["context_window"], window, "{tokens}");
    let share = (used as f64 * 100.0 / window as f64 * 100.0).round() / 100.0;
    assert_eq!(job["context_percent"].as_f64(), Some(share), "{job}");
    let listed = j.list().await;
    assert_eq!(by_id(&listed, &id)["context_percent"].as_f64(), Some(share));
    let status = j.ok(&["job", "status", &id]).await;
    assert!(
        status.contains(&format!("context {used} of {window} ({share:.2}%)")),
        "{status}"
    );
    let callbacks = j.inbox("job.completed").await;
    assert_eq!(callbacks[0]["payload"]["tokens"]["context_window"], window);
    let body = callbacks[0]["message"].as_str().expect("message");
    assert!(
        body.contains(&format!("context {share:.2}% of {window}")),
        "{body}"
    );
}

/// `--tmux`: the worker runs in a detached tmux session a person can
/// attach to (the pane shows the transcript); it completes with its
/// callback and the session goes; `job kill` of a tmux job ends its tree
/// and its session; without tmux, `--tmux` starts nothing and names the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_jobs_run_in_a_session_and_end_with_it() {
    let marker = format!("jobs-e2e-tmux-{}", std::process::id());
    let cmd = format!("sh -c 'sleep 300; echo {marker}'");
    let j = Jobs::new(vec![
        Step::message("tmux job done"),
        Step::exec_command("call_sleep", &cmd),
    ])
    .await;
    j.mock.close_gate();
    let id = j.start(&["answer inside tmux", "--tmux"]).await;
    let session = format!("codenator-{id}");
    j.until("the model request held", |j| j.mock.waiting() == 1)
        .await;
    let status = j.json(&["job", "status", &id, "--json"]).await;
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["tmux_session"], session.as_str(), "{status}");
    let attach = format!("tmux -L {session} attach -t {session}");
    assert_eq!(status["tmux_attach"], attach.as_str());
    assert!(j.has_session(&session), "the session runs the worker");
    // The pane's process is the supervisor the record names.
    let pane = j.tmux(&[
        "-L",
        &session,
        "list-panes",
        "-t",
        &session,
        "-F",
        "#{pane_pid}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&pane.stdout).trim(),
        status["pid"].to_string()
    );
    j.until("the transcript in the pane", |j| {
        let out = j.tmux(&["-L", &session, "capture-pane", "-p", "-t", &session]);
        String::from_utf8_lossy(&out.stdout).contains("[thread ")
    })
    .await;
    let text = j.ok(&["job", "status", &id]).await;
    assert!(text.contains(&attach), "{text}");
    j.mock.open_gate();
    let done = j.wait(&[&id]).await;
    assert_eq!(done[0]["state"], "completed", "{:?}", done[0]);
    assert_eq!(done[0]["summary"], "tmux job done");
    let callbacks = j.inbox("job.completed").await;
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0]["payload"]["job_id"], id.as_str());
    j.until("the session gone", |j| !j.has_session(&session))
        .await;

    let killed_id = j.start(&["sleep inside tmux", "--tmux"]).await;
    let killed_session = format!("codenator-{killed_id}");
    j.until("the worker's shell command running", |_| running(&marker))
        .await;
    assert!(j.has_session(&killed_session));
    j.kill(&killed_id, &marker).await;
    j.until("the killed job's session gone", |j| {
        !j.has_session(&killed_session)
    })
    .await;
    assert_eq!(j.inbox("job.killed").await.len(), 1);

    // Without tmux on PATH, --tmux names the fix and starts nothing.
    let out = j
        .run_on_empty_path(&["job", "start", "never", "--tmux"], true)
        .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--tmux needs tmux"), "{err}");
    assert!(err.contains("apt-get install -y tmux"), "{err}");
    assert_eq!(j.list().await.len(), 2, "nothing more started");
}
