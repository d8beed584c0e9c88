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
        c.env("E2E_MOCK_KEY", "dummy").env("CODENATOR_CODEX", codex);
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

    /// Run `codenator args…` off the runtime's threads (the mock serves
    /// on them meanwhile).
    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
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
    let pgrep = |m: &str| {
        std::process::Command::new("pgrep")
            .args(["-f", m])
            .output()
            .expect("pgrep")
            .stdout
    };
    j.until("the worker's shell command running", |_| {
        !pgrep(&marker).is_empty()
    })
    .await;
    let killed = j.json(&["job", "kill", &id, "--json"]).await;
    assert_eq!(killed["state"], "killed", "{killed}");
    j.until("every process of the job gone", |_| {
        pgrep(&marker).is_empty()
    })
    .await;
    let pid = killed["pid"].as_u64().expect("pid");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || file(Path::new(&format!("/proc/{pid}/stat"))).contains(") Z "),
        "the supervisor is gone"
    );
    assert_eq!(j.inbox("job.killed").await.len(), 1);

    // Without Codex jobs cannot run, and health names the fix.
    let empty = j.world.path("empty-path");
    std::fs::create_dir_all(&empty).expect("dir");
    let mut c = j.command(&["health"]);
    c.env_remove("CODENATOR_CODEX").env("PATH", &empty);
    let out = tokio::task::spawn_blocking(move || c.output().expect("health"))
        .await
        .expect("join");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL codex"), "{text}");
    assert!(text.contains("npm install -g @openai/codex"), "{text}");
    // With the pinned Codex and the mock provider, it can.
    let ok = j.ok(&["health"]).await;
    assert!(ok.contains("ok   codex: codex-cli"), "{ok}");
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
    let started = test_support::call(
        &co,
        "dispatch_job",
        serde_json::json!({"prompt": "answer over MCP", "dir": work, "goal": "say done"}),
    )
    .await
    .expect("dispatch_job");
    let id = started["job"]["id"].as_str().expect("id").to_string();
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
