//! The real Codex CLI as the MCP client, offline.
//!
//! Codex (`@openai/codex`, pinned in `tools/codex/package.json`) runs whole
//! turns against `test_support::mock_model`, a loopback stand-in for the OpenAI
//! Responses API whose scripted "model" searches the deferred MCP tools and
//! calls ours (`function_call` in namespace `mcp__codenator`). Codex starts
//! the real `codenator-mcp`, sends its thread id in `_meta.threadId`, and
//! feeds the tool results back to the mock, which records them.
//!
//! Codex must be installed first: `npm ci --prefix tools/codex`.
//!
//! Unix only: it kills Codex's process group on a timeout (`kill -KILL -PGID`).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::codex::{CodexUser, codex_bin, require_codex, toml_str};
use test_support::mock_model::{MockModel, Step};
use test_support::{
    TempDir, bin, call, cli_command, connect, git, repo_root, report_files, row, store_dir,
    temp_dir,
};

/// How long one Codex command may take before the test fails (and kills it).
const CODEX_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a whole test may take (a run takes about 5 s).
const TEST_TIMEOUT: Duration = Duration::from_secs(90);
const SERVER: &str = "codenator";

/// A throw-away user for Codex (`$HOME`, `$CODEX_HOME`) and a work directory.
struct Sandbox {
    dir: TempDir,
    user: CodexUser,
    /// Extra environment for every Codex command.
    env: Vec<(String, String)>,
    /// Directories put in front of `PATH`.
    path_prefix: Vec<PathBuf>,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = temp_dir("codenator-codex-e2e-");
        std::fs::create_dir_all(dir.path().join("work")).expect("mkdir");
        Sandbox {
            user: CodexUser::new(dir.path()),
            dir,
            env: Vec::new(),
            path_prefix: Vec::new(),
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn codex_home(&self) -> PathBuf {
        self.user.codex_home.clone()
    }
    fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// `config.toml`: the mock as model provider, unattended approvals, then `extra`.
    fn write_config(&self, mock: &MockModel, extra: &str) {
        self.user.write_config(mock, extra);
    }

    /// A Codex command with a clean environment (nothing of the caller's
    /// Codex, OpenAI or AURALIS settings leaks in; offline, see
    /// `test_support::codex::OFFLINE_PROXY_VARS`).
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(codex_bin());
        let mut path: Vec<PathBuf> = self.path_prefix.clone();
        path.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::join_paths(path).expect("PATH"))
            .envs(self.user.env())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.work())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group, so a timeout can kill everything it
            // started: with Node < 22.15 `.bin/codex` is a Node process that
            // spawns the native binary instead of exec'ing it.
            .process_group(0);
        cmd
    }

    /// Run Codex to completion (killing it after [`CODEX_TIMEOUT`]); panic
    /// with its output unless it exits 0. Returns stdout.
    async fn run(&self, args: &[&str]) -> String {
        let started = Instant::now();
        let child = self.command(args).spawn().expect("spawn codex");
        let group = GroupKiller(child.id());
        let out = match tokio::time::timeout(CODEX_TIMEOUT, child.wait_with_output()).await {
            Ok(out) => out.expect("wait for codex"),
            // Dropping the future kills the child (kill_on_drop), and `group`
            // kills the rest of its process group while the panic unwinds.
            Err(_) => panic!("codex {args:?} did not finish within {CODEX_TIMEOUT:?}"),
        };
        group.disarm();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "codex {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            out.status
        );
        eprintln!("codex {:?}: {:?}", args.first(), started.elapsed());
        stdout
    }

    /// One `codex exec --json` turn (a new thread, or `resume` of one).
    async fn exec(&self, resume: Option<&str>, prompt: &str) -> Exec {
        self.exec_in(&self.work(), &[], resume, prompt).await
    }

    /// One `codex exec --json` turn in `dir`, with `options` (e.g. `-s …`)
    /// before `resume`, where exec wants them.
    async fn exec_in(
        &self,
        dir: &Path,
        options: &[&str],
        resume: Option<&str>,
        prompt: &str,
    ) -> Exec {
        let dir = dir.to_str().expect("utf-8 path");
        let mut args = vec![
            "exec",
            "--json",
            "--strict-config",
            "--skip-git-repo-check",
            "-C",
            dir,
        ];
        args.extend_from_slice(options);
        if let Some(thread) = resume {
            args.extend(["resume", thread]);
        }
        args.push(prompt);
        let stdout = self.run(&args).await;
        let events: Vec<Value> = stdout
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSONL {l:?}: {e}")))
            .collect();
        let thread_id = events
            .iter()
            .find(|e| e["type"] == json!("thread.started"))
            .and_then(|e| e["thread_id"].as_str())
            .unwrap_or_else(|| panic!("no thread.started event in:\n{stdout}"))
            .to_string();
        assert!(
            events.iter().any(|e| e["type"] == json!("turn.completed")),
            "the turn did not complete:\n{stdout}"
        );
        Exec { thread_id, events }
    }
}

/// Kills a process group (`kill -KILL -<pgid>`) when dropped while armed.
struct GroupKiller(Option<u32>);

impl GroupKiller {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pgid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The JSONL events of one `codex exec --json` run.
struct Exec {
    thread_id: String,
    events: Vec<Value>,
}

impl Exec {
    /// Completed `mcp_tool_call` items, in order.
    fn mcp_calls(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == json!("item.completed"))
            .map(|e| &e["item"])
            .filter(|i| i["type"] == json!("mcp_tool_call"))
            .collect()
    }

    /// Assert that exactly `tools` were called on our server, in order, each
    /// completed without error and without `isError`; return their structured results.
    fn assert_calls(&self, tools: &[&str]) -> Vec<Value> {
        let calls = self.mcp_calls();
        let names: Vec<&str> = calls.iter().filter_map(|c| c["tool"].as_str()).collect();
        assert_eq!(names, tools, "mcp_tool_call items: {calls:#?}");
        calls
            .iter()
            .map(|c| {
                assert_eq!(c["server"], json!(SERVER), "{c}");
                assert_eq!(c["status"], json!("completed"), "{c}");
                assert!(c["error"].is_null(), "{c}");
                let sc = c["result"]["structured_content"].clone();
                assert!(
                    sc.is_object() && sc.get("error").is_none(),
                    "the tool refused: {c}"
                );
                sc
            })
            .collect()
    }

    /// Completed `command_execution` items (shell commands), in order.
    fn command_executions(&self) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["type"] == json!("item.completed"))
            .map(|e| &e["item"])
            .filter(|i| i["type"] == json!("command_execution"))
            .collect()
    }

    fn last_message(&self) -> Option<&str> {
        self.events
            .iter()
            .rev()
            .filter(|e| e["type"] == json!("item.completed"))
            .map(|e| &e["item"])
            .filter(|i| i["type"] == json!("agent_message"))
            .find_map(|i| i["text"].as_str())
    }
}

/// The text Codex fed back to the model for a function call.
fn output_text(output: &Value) -> String {
    match &output["output"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

/// Tool names of namespace `mcp__codenator` in a `tool_search_output`.
fn searched_tools(output: &Value) -> Vec<String> {
    output["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|ns| ns["name"] == json!(format!("mcp__{SERVER}")))
        .flat_map(|ns| ns["tools"].as_array().into_iter().flatten())
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect()
}

/// Check the mock consumed exactly its script and saw no compressed bodies.
fn assert_script_done(mock: &MockModel) {
    assert_eq!(mock.remaining(), 0, "Codex stopped before the script ended");
    assert_eq!(mock.overruns(), 0, "Codex asked for more than the script");
    let requests = mock.requests();
    let background = requests.iter().filter(|r| !r.is_main()).count();
    eprintln!(
        "mock model: {} requests so far ({background} background)",
        requests.len()
    );
    for r in requests {
        assert!(
            r.body.get("undecoded_content_encoding").is_none(),
            "Codex compressed a request body: {:?}",
            r.headers
        );
    }
}

fn is_thread_id(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn slot_row<'a>(status: &'a Value, slot: &str) -> &'a Value {
    row(&status["slots"], slot)
}

/// (a) Worker and coordinator sessions, each a real `codex exec` with the
/// server configured as the plugin does it (no `--agent`: identity comes from
/// the thread Codex names in `_meta.threadId`), drive a task from creation to
/// the commit report in the coordinator's inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_sessions_drive_a_task_through_the_ledger() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline(
        "codex_sessions_drive_a_task_through_the_ledger",
        TEST_TIMEOUT,
        codex_sessions_drive_a_task_through_the_ledger_body(),
    )
    .await
}

async fn codex_sessions_drive_a_task_through_the_ledger_body() -> anyhow::Result<()> {
    let started = Instant::now();
    let sb = Sandbox::new();
    let ledger_root = sb.path("ledger");
    let mock = MockModel::start(Vec::new()).await?;
    let server = bin("codenator-mcp");
    sb.write_config(
        &mock,
        &format!(
            r#"[features]
plugins = false

[mcp_servers.{SERVER}]
command = {cmd}
args = ["--root", {root}]
env = {{ RUST_LOG = "warn" }}
startup_timeout_sec = 20
tool_timeout_sec = 120
required = true
"#,
            cmd = toml_str(server.to_str().expect("utf-8 path")),
            root = toml_str(ledger_root.to_str().expect("utf-8 path")),
        ),
    );
    let worktree = sb.work();
    let worktree = worktree.to_str().expect("utf-8 path");

    // 1. A worker session registers its slot (binding its Codex thread).
    mock.push(vec![
        Step::tool_search("search_w1", "codenator register slot"),
        Step::mcp_call(
            SERVER,
            "call_reg_w",
            "register_slot",
            json!({"slot": "worker-1", "project": "e2e", "worktree": worktree,
                   "branch": "feat/e2e", "status": "active"}),
        ),
        Step::message("Registered as worker-1."),
    ]);
    let w1 = sb
        .exec(None, "Register this session as codenator slot worker-1.")
        .await;
    assert_script_done(&mock);
    let worker_thread = w1.thread_id.clone();
    assert!(is_thread_id(&worker_thread), "{worker_thread}");
    let res = w1.assert_calls(&["register_slot"]);
    assert_eq!(res[0]["slot"]["slot"], json!("worker-1"));
    assert_eq!(res[0]["slot"]["codex_thread_id"], json!(worker_thread));
    assert_eq!(w1.last_message(), Some("Registered as worker-1."));

    // What Codex sent the model: our tools found by tool_search, then the result.
    let search = mock
        .find_output("tool_search_output", "search_w1")
        .expect("Codex answered the tool search");
    let found = searched_tools(&search);
    for t in ["register_slot", "claim_next_task", "report_commit"] {
        assert!(found.iter().any(|f| f == t), "{t} not in {found:?}");
    }
    let reg_out = mock
        .find_output("function_call_output", "call_reg_w")
        .expect("Codex returned the register_slot result");
    let text = output_text(&reg_out);
    assert!(
        text.contains("worker-1") && text.contains(&worker_thread),
        "{text}"
    );

    // 2. The coordinator session binds its own thread and queues a task.
    mock.push(vec![
        Step::tool_search("search_c1", "codenator create task"),
        Step::mcp_call(
            SERVER,
            "call_reg_c",
            "register_slot",
            json!({"slot": "coordinator"}),
        ),
        Step::mcp_call(
            SERVER,
            "call_task",
            "create_task",
            json!({"slot": "worker-1", "task_id": "e2e-task-1", "title": "Add e2e.txt",
                   "message": "Create e2e.txt, commit, then report the commit.",
                   "branch": "feat/e2e"}),
        ),
        Step::message("Queued e2e-task-1 for worker-1."),
    ]);
    let c1 = sb
        .exec(
            None,
            "As the codenator coordinator, queue a task for worker-1.",
        )
        .await;
    assert_script_done(&mock);
    let coordinator_thread = c1.thread_id.clone();
    assert_ne!(coordinator_thread, worker_thread);
    let res = c1.assert_calls(&["register_slot", "create_task"]);
    assert_eq!(res[0]["slot"]["codex_thread_id"], json!(coordinator_thread));
    assert_eq!(res[1]["task"]["task_id"], json!("e2e-task-1"), "{}", res[1]);
    assert_eq!(res[1]["task"]["status"], json!("queued"), "{}", res[1]);

    // 3. The worker's thread resumes (a new server process, the same thread):
    //    it is still worker-1, claims the task and reports the commit.
    let sha = "0123456789abcdef0123456789abcdef01234567";
    mock.push(vec![
        Step::tool_search("search_w2", "codenator claim task report commit"),
        Step::mcp_call(
            SERVER,
            "call_claim",
            "claim_next_task",
            json!({"slot": "worker-1", "run_id": "run-e2e-1"}),
        ),
        Step::mcp_call(
            SERVER,
            "call_report",
            "report_commit",
            json!({"slot": "worker-1", "task_id": "e2e-task-1", "sha": sha,
                   "branch": "feat/e2e", "subject": "e2e: add e2e.txt",
                   "changed": ["A\te2e.txt"], "run_id": "run-e2e-1"}),
        ),
        Step::message("Claimed e2e-task-1 and reported the commit."),
    ]);
    let w2 = sb
        .exec(
            Some(&worker_thread),
            "Claim your next codenator task and report it.",
        )
        .await;
    assert_script_done(&mock);
    assert_eq!(w2.thread_id, worker_thread, "resume kept the thread");
    let res = w2.assert_calls(&["claim_next_task", "report_commit"]);
    assert_eq!(res[0]["claimed"], json!(true), "{}", res[0]);
    assert_eq!(res[0]["task"]["task_id"], json!("e2e-task-1"));
    assert_eq!(res[1]["task"]["status"], json!("reported"), "{}", res[1]);
    assert_eq!(res[1]["report"]["sha"], json!(sha));
    assert_eq!(res[1]["message"]["to"], json!("coordinator"));
    let claim_out = mock
        .find_output("function_call_output", "call_claim")
        .expect("Codex returned the claim result");
    assert!(output_text(&claim_out).contains("e2e-task-1"));

    // 4. The coordinator's thread resumes and reads the report from its inbox.
    mock.push(vec![
        Step::mcp_call(
            SERVER,
            "call_inbox",
            "read_inbox",
            json!({"slot": "coordinator", "mark_read": false}),
        ),
        Step::message("worker-1 reported e2e-task-1."),
    ]);
    let c2 = sb
        .exec(Some(&coordinator_thread), "Read your codenator inbox.")
        .await;
    assert_script_done(&mock);
    let res = c2.assert_calls(&["read_inbox"]);
    let msgs = res[0]["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 1, "{}", res[0]);
    assert_eq!(msgs[0]["type"], json!("commit_report"));
    let inbox_out = mock
        .find_output("function_call_output", "call_inbox")
        .expect("Codex returned the inbox");
    assert!(output_text(&inbox_out).contains("commit_report"));

    // The ledger itself, read by a separate client.
    let co = connect(&ledger_root, "coordinator").await?;
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        slot_row(&status, "worker-1")["codex_thread_id"],
        json!(worker_thread),
        "{status}"
    );
    assert_eq!(
        slot_row(&status, "coordinator")["codex_thread_id"],
        json!(coordinator_thread),
        "{status}"
    );
    assert_eq!(
        slot_row(&status, "worker-1")["current_task_status"],
        json!("reported"),
        "{status}"
    );
    let inbox = call(
        &co,
        "read_inbox",
        json!({"slot": "coordinator", "mark_read": false}),
    )
    .await?;
    let msgs = inbox["messages"].as_array().expect("messages");
    assert_eq!(msgs.len(), 1, "{inbox}");
    assert_eq!(msgs[0]["type"], json!("commit_report"));
    assert_eq!(msgs[0]["from"], json!("worker-1"));
    assert_eq!(msgs[0]["task_id"], json!("e2e-task-1"));
    assert_eq!(msgs[0]["payload"]["sha"], json!(sha));
    co.cancel().await?;

    eprintln!(
        "codex_sessions_drive_a_task_through_the_ledger: {:?}",
        started.elapsed()
    );
    Ok(())
}

/// Copy the plugin bundle (exactly the files Codex reads) out of the checkout.
fn copy_plugin(to: &Path) {
    let root = repo_root();
    for rel in [
        ".codex-plugin/plugin.json",
        ".mcp.json",
        "skills/codenator/SKILL.md",
        "skills/codenator/agents/openai.yaml",
    ] {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(root.join(rel), &dest)
            .unwrap_or_else(|e| panic!("copy {rel}: {e} (the plugin bundle is incomplete)"));
    }
}

/// (b) The plugin installs from a local marketplace into a fresh
/// `CODEX_HOME`; Codex lists its MCP server, starts it through the plugin's
/// `.mcp.json` (command `codenator-mcp` found on `PATH`, ledger root
/// defaulting to `$HOME/.codenator`, or `AURALIS_CODENATOR_ROOT` when set;
/// `AURALIS_CODENATOR_AGENT` passed through), the plugin's skill is offered
/// to the model, and its tool search finds our tools.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_installs_from_a_local_marketplace() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline(
        "plugin_installs_from_a_local_marketplace",
        TEST_TIMEOUT,
        plugin_installs_from_a_local_marketplace_body(),
    )
    .await
}

async fn plugin_installs_from_a_local_marketplace_body() -> anyhow::Result<()> {
    let started = Instant::now();
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(
        repo_root().join(".codex-plugin/plugin.json"),
    )?)?;
    let version = manifest["version"]
        .as_str()
        .expect("plugin version")
        .to_string();
    assert_eq!(manifest["name"], json!("codenator"));

    let mut sb = Sandbox::new();
    let market = sb.path("market");
    copy_plugin(&market.join("plugins/codenator"));
    std::fs::create_dir_all(market.join(".agents/plugins"))?;
    std::fs::write(
        market.join(".agents/plugins/marketplace.json"),
        serde_json::to_string_pretty(&json!({
            "name": "codenator-local",
            "interface": {"displayName": "codenator (local checkout)"},
            "plugins": [{
                "name": "codenator",
                "source": {"source": "local", "path": "./plugins/codenator"},
                "policy": {"installation": "AVAILABLE", "authentication": "ON_INSTALL"},
                "category": "Coding",
            }],
        }))?,
    )?;
    let mock = MockModel::start(Vec::new()).await?;
    // Plugins stay enabled here (they are what is tested); remote plugin
    // features are off so nothing but the loopback mock is contacted.
    sb.write_config(
        &mock,
        "[features]\nremote_plugin = false\nplugin_sharing = false\n",
    );
    // The plugin runs `codenator-mcp` from PATH: put the freshly built one first.
    sb.path_prefix.push(
        bin("codenator-mcp")
            .parent()
            .expect("bin dir")
            .to_path_buf(),
    );

    let market_s = market.to_str().expect("utf-8 path");
    let out = sb.run(&["plugin", "marketplace", "add", market_s]).await;
    assert!(out.contains("codenator-local"), "{out}");
    let out = sb
        .run(&["plugin", "add", "codenator@codenator-local"])
        .await;
    assert!(out.contains("codenator"), "{out}");
    let installed = sb
        .codex_home()
        .join("plugins/cache/codenator-local/codenator")
        .join(&version);
    for rel in [
        ".codex-plugin/plugin.json",
        ".mcp.json",
        "skills/codenator/SKILL.md",
        "skills/codenator/agents/openai.yaml",
    ] {
        assert!(
            installed.join(rel).is_file(),
            "{rel} not installed in {}",
            installed.display()
        );
    }
    let out = sb.run(&["plugin", "list"]).await;
    assert!(
        out.contains("codenator@codenator-local") && out.contains("installed, enabled"),
        "{out}"
    );

    // Codex lists the plugin's MCP server.
    let out = sb.run(&["mcp", "list", "--json"]).await;
    let servers: Value = serde_json::from_str(&out)?;
    let entry = servers
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == json!(SERVER)))
        .unwrap_or_else(|| panic!("no {SERVER} server in {out}"));
    assert_eq!(entry["enabled"], json!(true), "{entry}");
    assert!(
        entry["transport"].to_string().contains("codenator-mcp"),
        "{entry}"
    );

    // A turn: tool_search finds our tools, and a call reaches the server the
    // plugin started, whose ledger root defaults to $HOME/.codenator.
    mock.push(vec![
        Step::tool_search("search_p1", "codenator register slot inbox task"),
        Step::mcp_call(
            SERVER,
            "call_reg_p",
            "register_slot",
            json!({"slot": "plugin-worker"}),
        ),
        Step::message("Registered."),
    ]);
    let run = sb
        .exec(
            None,
            "Register this session as codenator slot plugin-worker.",
        )
        .await;
    assert_script_done(&mock);
    let res = run.assert_calls(&["register_slot"]);
    assert_eq!(res[0]["slot"]["codex_thread_id"], json!(run.thread_id));
    let search = mock
        .find_output("tool_search_output", "search_p1")
        .expect("Codex answered the tool search");
    let found = searched_tools(&search);
    eprintln!(
        "tool_search found {} codenator tools: {found:?}",
        found.len()
    );
    // Every tool the skill tells sessions to use.
    for t in [
        "register_slot",
        "record_heartbeat",
        "read_inbox",
        "claim_next_task",
        "report_commit",
        "update_task",
        "create_task",
        "plan_wake",
        "record_summary_pause",
    ] {
        assert!(
            found.iter().any(|f| f == t),
            "{t} not in {found:?}: {search}"
        );
    }
    // The plugin's skill is offered to the model.
    let first = mock.request_for_step(0).expect("first request");
    assert!(
        first.body.to_string().contains("codenator:codenator"),
        "the skill codenator:codenator is not in the first request"
    );
    let default_root = sb.user.home.join(".codenator");
    let co = connect(&default_root, "coordinator").await?;
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        slot_row(&status, "plugin-worker")["codex_thread_id"],
        json!(run.thread_id),
        "{status}"
    );
    co.cancel().await?;

    // AURALIS_CODENATOR_ROOT in Codex's environment is passed through and wins.
    let shared = sb.path("shared-root");
    sb.env.push((
        "AURALIS_CODENATOR_ROOT".into(),
        shared.to_str().expect("utf-8 path").into(),
    ));
    mock.push(vec![
        Step::mcp_call(
            SERVER,
            "call_reg_q",
            "register_slot",
            json!({"slot": "shared-worker"}),
        ),
        Step::message("Registered."),
    ]);
    let run2 = sb
        .exec(
            None,
            "Register this session as codenator slot shared-worker.",
        )
        .await;
    assert_script_done(&mock);
    run2.assert_calls(&["register_slot"]);
    let co = connect(&shared, "coordinator").await?;
    let status = call(&co, "get_status", json!({})).await?;
    assert_eq!(
        slot_row(&status, "shared-worker")["codex_thread_id"],
        json!(run2.thread_id),
        "{status}"
    );
    co.cancel().await?;

    // AURALIS_CODENATOR_AGENT is passed through too: the session speaks as that slot.
    sb.env
        .push(("AURALIS_CODENATOR_AGENT".into(), "fixed-agent".into()));
    mock.push(vec![
        Step::mcp_call(
            SERVER,
            "call_send",
            "send_message",
            json!({"to": "coordinator", "message": "hello from a fixed agent"}),
        ),
        Step::message("Sent."),
    ]);
    let run3 = sb
        .exec(None, "Say hello to the codenator coordinator.")
        .await;
    assert_script_done(&mock);
    let res = run3.assert_calls(&["send_message"]);
    assert_eq!(
        res[0]["message"]["from"],
        json!("fixed-agent"),
        "{}",
        res[0]
    );

    eprintln!(
        "plugin_installs_from_a_local_marketplace: {:?}",
        started.elapsed()
    );
    Ok(())
}

/// A POSIX shell word (single quotes) for a path without single quotes.
fn sh_word(p: &Path) -> String {
    let s = p.to_str().expect("utf-8 path");
    assert!(!s.contains('\''), "{s}");
    format!("'{s}'")
}

/// (c) The commit hook through Codex's own shell tool: Codex runs the
/// PostToolUse hook `codenator hook-template` wrote into `$CODEX_HOME/hooks.json`
/// after each `exec_command`; the hook reports the `git commit` the session
/// made (HEAD of the slot owning the command's directory) to the
/// coordinator once, and ignores a later `git log` whose output merely
/// names the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_shell_git_commit_fires_the_hook_once() -> anyhow::Result<()> {
    require_codex();
    test_support::within_deadline(
        "codex_shell_git_commit_fires_the_hook_once",
        TEST_TIMEOUT,
        codex_shell_git_commit_fires_the_hook_once_body(),
    )
    .await
}

async fn codex_shell_git_commit_fires_the_hook_once_body() -> anyhow::Result<()> {
    const SLOT: &str = "session-01";
    const SUBJECT: &str = "feat: from codex";
    let commit_cmd = format!("git add -A && git commit -m \"{SUBJECT}\"");
    let log_cmd = "git log --oneline -1";
    let started = Instant::now();
    let sb = Sandbox::new();
    let ledger_root = sb.path("ledger");
    let ledger_s = ledger_root.to_str().expect("utf-8 path");

    // The slot's worktree: a git repository with one commit, and a new file
    // for the session to commit.
    std::fs::create_dir_all(sb.path("worktree"))?;
    let worktree = std::fs::canonicalize(sb.path("worktree"))?;
    let wt = worktree.to_str().expect("utf-8 path");
    git(&worktree, &["init", "-q", "-b", "main"]);
    for (k, v) in [
        ("user.name", "E2E Worker"),
        ("user.email", "worker@e2e.invalid"),
        ("commit.gpgsign", "false"),
    ] {
        git(&worktree, &["config", k, v]);
    }
    std::fs::write(worktree.join("README.md"), "e2e\n")?;
    git(&worktree, &["add", "README.md"]);
    git(&worktree, &["commit", "-q", "-m", "initial"]);
    let initial = git(&worktree, &["rev-parse", "HEAD"]);
    std::fs::write(worktree.join("feature.txt"), "made for codex to commit\n")?;

    // 1. The worker slot, registered with that worktree.
    let w = connect(&ledger_root, SLOT).await?;
    let reg = call(
        &w,
        "register_slot",
        json!({"slot": SLOT, "project": "e2e", "focus": "hook e2e", "worktree": wt,
               "branch": "main", "status": "active"}),
    )
    .await?;
    assert_eq!(reg["slot"]["worktree"], json!(wt), "{reg}");
    w.cancel().await?;

    // 2. hooks.json as `codenator hook-template --root` writes it. Codex gives
    //    hooks its own environment (no AURALIS_CODENATOR_ROOT here) and the
    //    session's directory (the worktree, outside the ledger root) as cwd,
    //    so the hook finds the store through the `--root` baked into the command.
    let out = cli_command()
        .args(["hook-template", "--root", ledger_s])
        .current_dir(sb.user.home.clone())
        .stdin(Stdio::null())
        .output()?;
    assert!(
        out.status.success(),
        "hook-template failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut hooks: Value = serde_json::from_slice(&out.stdout)?;
    let template = hooks.clone();
    let entry = &template["hooks"]["PostToolUse"][0];
    let hook_command = entry["hooks"][0]["command"]
        .as_str()
        .unwrap_or_else(|| panic!("no hook command in {template}"))
        .to_string();
    assert!(
        hook_command.contains(" hook-post-tool-use")
            && hook_command.contains(&format!("--root \"{ledger_s}\"")),
        "{hook_command}"
    );
    // Codex 0.169 hands `exec_command` calls to hooks as tool "Bash".
    assert!(
        entry["matcher"]
            .as_str()
            .is_some_and(|m| m.split('|').any(|t| t == "Bash")),
        "{entry}"
    );
    // A second PostToolUse group, test-only, records each event Codex sends
    // (one JSON object per line) next to the product hook.
    let events_file = sb.path("hook-events.jsonl");
    let recorder = format!("{{ cat; echo; }} >> {}", sh_word(&events_file));
    hooks["hooks"]["PostToolUse"]
        .as_array_mut()
        .expect("PostToolUse groups")
        .push(json!({"matcher": entry["matcher"],
                     "hooks": [{"type": "command", "command": recorder, "timeout": 10}]}));
    std::fs::write(
        sb.codex_home().join("hooks.json"),
        serde_json::to_string_pretty(&hooks)?,
    )?;

    let mock = MockModel::start(Vec::new()).await?;
    sb.write_config(&mock, "[features]\nplugins = false\n");

    // 3. One turn: commit through the shell tool, then a `git log` whose
    //    output names the commit, then a final message.
    mock.push(vec![
        Step::exec_command("call_commit", &commit_cmd),
        Step::exec_command("call_log", log_cmd),
        Step::message("Committed feature.txt."),
    ]);
    let run = sb
        .exec_in(
            &worktree,
            // Hooks from $CODEX_HOME are user hooks: unreviewed, they only run
            // with this flag. `workspace-write` keeps `.git` read-only
            // ("Unable to create '.git/index.lock': Read-only file system").
            &[
                "--dangerously-bypass-hook-trust",
                "-s",
                "danger-full-access",
            ],
            None,
            "Commit feature.txt, then show the last commit.",
        )
        .await;
    assert_script_done(&mock);
    let first = mock.request_for_step(0).expect("first request");
    let shell_tool = first.function_tool("exec_command").unwrap_or_else(|| {
        panic!(
            "Codex did not offer the shell tool exec_command; it offered {}",
            first.body["tools"]
        )
    });
    assert!(
        shell_tool["parameters"]["properties"]["cmd"].is_object(),
        "{shell_tool}"
    );

    // The exec JSONL: both commands ran and exited 0.
    let cmds = run.command_executions();
    assert_eq!(cmds.len(), 2, "command_execution items: {cmds:#?}");
    for (item, expected) in cmds.iter().zip([commit_cmd.as_str(), log_cmd]) {
        assert_eq!(item["status"], json!("completed"), "{item}");
        assert_eq!(item["exit_code"], json!(0), "{item}");
        let shown = item["command"].as_str().unwrap_or_default();
        assert!(
            shown.contains(expected.split(" -m ").next().unwrap_or(expected)),
            "{item}"
        );
    }
    let commit_out = cmds[0]["aggregated_output"].as_str().unwrap_or_default();
    assert!(commit_out.contains(SUBJECT), "{}", cmds[0]);
    assert!(
        output_text(
            &mock
                .find_output("function_call_output", "call_commit")
                .expect("Codex returned the commit's output")
        )
        .contains("Process exited with code 0")
    );
    assert_eq!(run.last_message(), Some("Committed feature.txt."));

    // The worktree: one new commit on top of the initial one.
    let head = git(&worktree, &["rev-parse", "HEAD"]);
    assert_ne!(head, initial);
    assert_eq!(git(&worktree, &["rev-parse", "HEAD^"]), initial);
    assert_eq!(git(&worktree, &["log", "-1", "--pretty=%s"]), SUBJECT);
    assert!(
        cmds[1]["aggregated_output"]
            .as_str()
            .is_some_and(|o| o.contains(&head[..7]) && o.contains(SUBJECT)),
        "{}",
        cmds[1]
    );

    // The hook fired after each shell call, with the payload it expects.
    let recorded = std::fs::read_to_string(&events_file).unwrap_or_else(|e| {
        panic!(
            "Codex ran no PostToolUse hook ({e}); exec JSONL:\n{:#?}",
            run.events
        )
    });
    let events: Vec<Value> = recorded
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event {l:?}: {e}")))
        .collect();
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| e["tool_use_id"].as_str())
        .collect();
    assert_eq!(ids, ["call_commit", "call_log"], "{recorded}");
    for (ev, cmd) in events.iter().zip([commit_cmd.as_str(), log_cmd]) {
        assert_eq!(ev["hook_event_name"], json!("PostToolUse"), "{ev}");
        assert_eq!(ev["tool_name"], json!("Bash"), "{ev}");
        assert_eq!(ev["tool_input"]["command"], json!(cmd), "{ev}");
        assert_eq!(ev["cwd"], json!(wt), "{ev}");
        assert_eq!(ev["session_id"], json!(run.thread_id), "{ev}");
    }

    // 4. The ledger: no hook error, exactly one commit report, for HEAD.
    let files = report_files(&store_dir(&ledger_root));
    let (reports, errors) = (files.reports, files.hook_errors);
    assert!(
        errors.is_empty(),
        "the hook failed:\n{}",
        errors
            .iter()
            .map(|(n, v)| format!("{n}: {v:#}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(reports.len(), 1, "commit reports: {reports:#?}");
    let report = &reports[0].1;
    assert_eq!(report["type"], json!("commit_report"), "{report}");
    assert_eq!(report["slot"], json!(SLOT), "{report}");
    assert_eq!(report["sha"], json!(head), "{report}");
    assert_eq!(report["subject"], json!(SUBJECT), "{report}");
    assert_eq!(report["worktree"], json!(wt), "{report}");

    let co = connect(&ledger_root, "coordinator").await?;
    let inbox = call(
        &co,
        "read_inbox",
        json!({"slot": "coordinator", "mark_read": false}),
    )
    .await?;
    co.cancel().await?;
    let commit_msgs: Vec<&Value> = inbox["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["type"] == json!("commit_report"))
        .collect();
    assert_eq!(commit_msgs.len(), 1, "{inbox}");
    assert_eq!(commit_msgs[0]["from"], json!(SLOT), "{inbox}");
    assert_eq!(commit_msgs[0]["to"], json!("coordinator"), "{inbox}");
    assert_eq!(commit_msgs[0]["payload"]["sha"], json!(head), "{inbox}");

    // Why there is no second report: the hook's own verdict on the exact
    // events Codex sent (the ledger would also drop a duplicate of the same
    // sha, so the count alone cannot tell "ignored" from "deduplicated").
    for (ev, expected) in events.iter().zip([
        format!("already reported {head} for {SLOT}"),
        "ignored: the command is not a git commit".to_string(),
    ]) {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{hook_command} --verbose"))
            .current_dir(&worktree)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", sb.user.home.clone())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        std::io::Write::write_all(
            &mut child.stdin.take().expect("hook stdin"),
            ev.to_string().as_bytes(),
        )?;
        let out = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && out.stdout.is_empty() && stderr.contains(&expected),
            "replaying {} through the hook: {out:?}, expected {expected:?}",
            ev["tool_use_id"]
        );
    }
    assert_eq!(report_files(&store_dir(&ledger_root)).reports.len(), 1);

    eprintln!(
        "codex_shell_git_commit_fires_the_hook_once: {:?}",
        started.elapsed()
    );
    Ok(())
}
