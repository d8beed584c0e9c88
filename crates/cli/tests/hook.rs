//! `hook-post-tool-use` and `hook-template` as Codex runs them: a
//! PostToolUse event on stdin, the session's directory as the working
//! directory, nothing expected on stdout and exit 0 whatever happens.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use test_support::{World, commit_file, git_command, repo, report_files, row, run_ok};

/// A PostToolUse event as Codex sends it for a shell command.
fn event(cwd: &Path, command: Value, response: Value, call: &str) -> String {
    json!({
        "session_id": "01a20091-ff96-7872-86d0-ec28f96717be",
        "turn_id": "01a20091-ffba-7193-a52d-ad7e3e07ff3f",
        "transcript_path": "/tmp/rollout.jsonl",
        "cwd": cwd,
        "hook_event_name": "PostToolUse",
        "model": "gpt-5.5",
        "permission_mode": "bypassPermissions",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_response": response,
        "tool_use_id": call,
    })
    .to_string()
}

fn ok_response(out: &str) -> Value {
    json!(format!(
        "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n{out}\n"
    ))
}

/// Run the hook in `cwd` (the session's directory), as Codex does: the root
/// comes from `--root` (what hook-template writes), not the environment.
fn hook(w: &World, cwd: &Path, input: &str) {
    let mut child = w
        .cmd(
            cwd,
            &[
                "hook-post-tool-use",
                "--root",
                w.root.to_str().expect("hook"),
            ],
        )
        .env_remove("AURALIS_CODENATOR_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hook");
    std::io::Write::write_all(&mut child.stdin.take().expect("hook"), input.as_bytes())
        .expect("hook");
    let out = child.wait_with_output().expect("hook");
    assert_eq!(out.status.code(), Some(0), "the hook never fails: {out:?}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn coordinator_reports(w: &World) -> Vec<Value> {
    let peek = w.json(
        w.tmp.path(),
        &["inbox", "coordinator", "--peek", "--json", "--limit", "200"],
    );
    peek.as_array()
        .expect("coordinator_reports")
        .iter()
        .filter(|m| m["type"] == "commit_report")
        .cloned()
        .collect()
}

fn setup() -> (World, std::path::PathBuf) {
    let w = World::new();
    let wt = w.path("worktrees/s1");
    repo(&wt);
    let here = w.tmp.path().to_path_buf();
    w.ok(&here, &["init"]);
    w.ok(
        &here,
        &[
            "register",
            "s1",
            "--project",
            "p",
            "--focus",
            "f",
            "--worktree",
            wt.to_str().expect("setup"),
        ],
    );
    w.ok(
        &here,
        &[
            "task-create",
            "s1",
            "--title",
            "T",
            "--message",
            "m",
            "--task-id",
            "t-1",
        ],
    );
    w.ok(&wt, &["inbox"]); // s1 claims t-1
    (w, wt)
}

#[test]
fn a_real_git_commit_is_reported_once() {
    let (w, wt) = setup();
    let store = w.store();
    let head = commit_file(&wt, "a.txt", "x");
    let ev = event(
        &wt,
        json!("git commit -m x"),
        ok_response(&format!("[main {}] x", &head[..7])),
        "call_1",
    );

    hook(&w, &wt, &ev);
    assert_eq!(report_files(&store).reports.len(), 1);
    let reports = coordinator_reports(&w);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["payload"]["sha"], json!(head));
    assert_eq!(reports[0]["from"], "s1");
    let tasks = w.json(w.tmp.path(), &["task-list", "--json"]);
    assert_eq!(tasks[0]["status"], "reported");
    assert_eq!(tasks[0]["commit"], json!(head));

    // The same event again (a retried hook): nothing new.
    hook(&w, &wt, &ev);
    assert_eq!(report_files(&store).reports.len(), 1);
    assert_eq!(coordinator_reports(&w).len(), 1);

    // A new, unreported HEAD, and events that only mention "git commit":
    // in the command's arguments, in quotes, in the output. Nothing.
    let head2 = commit_file(&wt, "b.txt", "y");
    for (cmd, resp) in [
        (
            json!("echo done"),
            ok_response("remember to git commit later"),
        ),
        (
            json!("echo 'git commit -m x'"),
            ok_response("git commit -m x"),
        ),
        (json!("git log --grep 'git commit'"), ok_response("")),
        (json!("git commit --dry-run -m x"), ok_response("")),
        (json!("cat notes.txt # git commit"), ok_response("")),
    ] {
        hook(&w, &wt, &event(&wt, cmd, resp, "call_2"));
    }
    // Other tools and events that mention it: nothing either.
    let mut other =
        serde_json::from_str::<Value>(&event(&wt, json!("git commit -m x"), ok_response(""), "c"))
            .expect("a_real_git_commit_is_reported_once");
    other["tool_name"] = json!("apply_patch");
    hook(&w, &wt, &other.to_string());
    other["tool_name"] = json!("Bash");
    other["hook_event_name"] = json!("PreToolUse");
    hook(&w, &wt, &other.to_string());
    // A failed commit: nothing.
    hook(
        &w,
        &wt,
        &event(
            &wt,
            json!("git commit -m nothing"),
            json!("Exit code: 1\nWall time: 0.1 seconds\nOutput:\nnothing to commit\n"),
            "call_3",
        ),
    );
    // Garbage on stdin: nothing, exit 0.
    hook(&w, &wt, "not json at all");
    hook(&w, &wt, "");
    assert_eq!(
        report_files(&store).reports.len(),
        1,
        "only the real commit was reported"
    );
    assert_eq!(coordinator_reports(&w).len(), 1);

    // The real commit of head2, as an argv array through bash -lc, from a
    // subdirectory of the worktree: reported (as the slot owning it).
    std::fs::create_dir_all(wt.join("src")).expect("a_real_git_commit_is_reported_once");
    hook(
        &w,
        &wt.join("src"),
        &event(
            &wt.join("src"),
            json!(["bash", "-lc", "git add -A && git commit -m y"]),
            ok_response(""),
            "call_4",
        ),
    );
    let reports = coordinator_reports(&w);
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1]["payload"]["sha"], json!(head2));
    // No hook errors along the way.
    let errors = std::fs::read_dir(store.join("reports"))
        .expect("a_real_git_commit_is_reported_once")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with("_hook_error.json")
        })
        .count();
    assert_eq!(errors, 0);
}

#[test]
fn outside_any_worktree_is_ignored_and_failures_are_logged() {
    let (w, wt) = setup();
    let store = w.store();
    commit_file(&wt, "a.txt", "x");
    // A commit in a repository no slot owns: ignored.
    let stray = w.path("stray");
    repo(&stray);
    hook(
        &w,
        &stray,
        &event(&stray, json!("git commit -m x"), ok_response(""), "c1"),
    );
    assert!(report_files(&store).reports.is_empty());

    // A slot whose worktree is not a git repository: the report fails; the
    // hook still exits 0, prints nothing, and keeps the error in reports/.
    let plain = w.path("worktrees/plain");
    std::fs::create_dir_all(&plain)
        .expect("outside_any_worktree_is_ignored_and_failures_are_logged");
    w.ok(
        w.tmp.path(),
        &[
            "register",
            "s2",
            "--project",
            "p",
            "--focus",
            "f",
            "--worktree",
            plain
                .to_str()
                .expect("outside_any_worktree_is_ignored_and_failures_are_logged"),
        ],
    );
    hook(
        &w,
        &plain,
        &event(&plain, json!("git commit -m x"), ok_response(""), "c2"),
    );
    let errors: Vec<_> = std::fs::read_dir(store.join("reports"))
        .expect("outside_any_worktree_is_ignored_and_failures_are_logged")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .ends_with("_hook_error.json")
        })
        .collect();
    assert_eq!(errors.len(), 1);
    let err: Value = serde_json::from_str(
        &std::fs::read_to_string(errors[0].path())
            .expect("outside_any_worktree_is_ignored_and_failures_are_logged"),
    )
    .expect("outside_any_worktree_is_ignored_and_failures_are_logged");
    assert_eq!(err["type"], "hook_error");
    assert_eq!(err["context"]["tool_use_id"], "c2");
    // The error file is not a commit report: the board and status ignore it.
    assert!(report_files(&store).reports.is_empty());
    let st = w.json(w.tmp.path(), &["status", "--json"]);
    assert_eq!(row(&st["rows"], "coordinator")["unread"], json!(0));
}

#[test]
fn hook_template_runs_as_written() {
    let (w, wt) = setup();
    // Written from the root (the upward search finds the store; --root is baked in).
    let out = w
        .cmd(&w.root, &["hook-template"])
        .env_remove("AURALIS_CODENATOR_ROOT")
        .output()
        .expect("hook_template_runs_as_written");
    assert!(out.status.success());
    let tpl: Value = serde_json::from_slice(&out.stdout).expect("hook_template_runs_as_written");
    let entry = &tpl["hooks"]["PostToolUse"][0];
    assert!(
        entry["matcher"]
            .as_str()
            .expect("hook_template_runs_as_written")
            .contains("Bash")
    );
    let command = entry["hooks"][0]["command"]
        .as_str()
        .expect("hook_template_runs_as_written");
    assert_eq!(entry["hooks"][0]["type"], "command");
    assert!(command.contains("hook-post-tool-use"), "{command}");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_codenator"))
        .expect("hook_template_runs_as_written");
    assert!(
        command.contains(exe.to_str().expect("hook_template_runs_as_written")),
        "absolute binary path: {command}"
    );
    assert!(
        command.contains(w.root.to_str().expect("hook_template_runs_as_written")),
        "the root: {command}"
    );
    // The root object holds only `hooks` (Codex refuses unknown keys).
    assert_eq!(
        tpl.as_object()
            .expect("hook_template_runs_as_written")
            .len(),
        1
    );

    // Run the command exactly as Codex would: through the shell, in the
    // session's directory, with the event on stdin and no codenator variables.
    let head = commit_file(&wt, "c.txt", "z");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&wt)
        .env_remove("AURALIS_CODENATOR_ROOT")
        .env_remove("AURALIS_CODEXTRATOR_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("hook_template_runs_as_written");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("hook_template_runs_as_written"),
        event(&wt, json!("git commit -am z"), ok_response(""), "call_t").as_bytes(),
    )
    .expect("hook_template_runs_as_written");
    let out = child
        .wait_with_output()
        .expect("hook_template_runs_as_written");
    assert!(out.status.success() && out.stdout.is_empty());
    let reports = coordinator_reports(&w);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["payload"]["sha"], json!(head));
}

/// Codex 0.169 gives the hook the shell tool's output without its exit code
/// (openai/codex#42864): a failed `git commit` must still not report the
/// HEAD it left untouched.
#[test]
fn a_failed_commit_without_an_exit_code_reports_nothing() {
    let (w, wt) = setup();
    // The worktree's last commit is old (its reflog entry says so).
    std::fs::write(wt.join("old.txt"), "old\n").expect("write");
    let git = |args: &[&str]| {
        run_ok(
            git_command(&wt, args)
                .env("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
                .env("GIT_AUTHOR_DATE", "2020-01-01T00:00:00Z"),
        )
    };
    git(&["add", "old.txt"]);
    git(&["commit", "-q", "-m", "old work"]);
    let store = w.store();
    let before = report_files(&store).reports.len();
    // `git commit` with nothing to commit, as Codex reports it to a hook:
    // the output only, no exit code.
    hook(
        &w,
        &wt,
        &event(
            &wt,
            json!("git commit -m again"),
            json!("On branch main\nnothing to commit, working tree clean\n"),
            "call_failed",
        ),
    );
    assert_eq!(
        report_files(&store).reports.len(),
        before,
        "a failed commit reports nothing"
    );
    // A real commit right after is reported.
    let head = commit_file(&wt, "new.txt", "new work");
    hook(
        &w,
        &wt,
        &event(
            &wt,
            json!("git commit -m 'new work'"),
            json!("[main abc] new work\n"),
            "call_ok",
        ),
    );
    let reports = coordinator_reports(&w);
    assert_eq!(
        reports.last().map(|r| r["payload"]["sha"].clone()),
        Some(json!(head))
    );
    assert_eq!(report_files(&store).reports.len(), before + 1);
}
