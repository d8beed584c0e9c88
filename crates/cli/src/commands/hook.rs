//! `codenator hook-post-tool-use` and `codenator hook-template`.
//!
//! The hook reads Codex's PostToolUse event (JSON on stdin: `session_id`,
//! `turn_id`, `cwd`, `hook_event_name`, `tool_name`, `tool_input`,
//! `tool_response`, `tool_use_id`, ...) and reports a commit when, and only
//! when:
//!
//! 1. the event is `PostToolUse` from a shell tool (`Bash`, `shell`,
//!    `shell_command`, `local_shell`, `exec_command`, `container.exec`);
//! 2. the command it ran (`tool_input.command` or `.cmd`, a string or an
//!    argv array, `bash -lc '…'` included) contains a simple command that is
//!    `git [global options] commit` (not `--dry-run`, not help). Words inside
//!    quotes, arguments and the tool's output do not count: the reference
//!    matched "git commit" anywhere in the event;
//! 3. the tool response does not show a failure (`Exit code: N` with N ≠ 0,
//!    or a non-zero `exit_code`);
//! 4. a registered slot's worktree contains the directory the commit ran in
//!    (the event's `cwd`, then `workdir`, then `git -C`), deepest worktree
//!    winning.
//!
//! It then reports HEAD of that slot's registered worktree through the
//! ledger's `report_commit` as that slot, which reports a commit once. It
//! always exits 0 and prints nothing on stdout (Codex reads stdout); a
//! failure is kept as `reports/<stamp>_hook_error.json` in the store.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use host::root::absolute;
use ledger::api::{self, ReportCommitResponse};
use ledger::views::worktrees::SlotMatch;
use ledger::{Caller, Ctx, SlotId, Store};
use serde_json::{Value, json};

use super::{Common, Env, print_json};

/// A string field of the hook event ("" when missing).
fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// The hooks matcher: tool names of shell tools (a regex, unanchored).
pub const MATCHER: &str = "Bash|shell|exec_command|container.exec";

/// Largest event read from stdin.
const MAX_EVENT: u64 = 16 * 1024 * 1024;

#[derive(clap::Args, Debug)]
pub struct PostArgs {
    #[command(flatten)]
    pub common: Common,
    /// Say on stderr what the hook did (stdout stays empty).
    #[arg(long)]
    pub verbose: bool,
}

#[derive(clap::Args, Debug)]
pub struct TemplateArgs {
    #[command(flatten)]
    pub common: Common,
    /// Leave `--root` out of the hook command (the hook then finds the store
    /// from the session's directory at run time).
    #[arg(long)]
    pub no_root: bool,
}

fn is_shell_tool(name: &str) -> bool {
    let n = name.strip_prefix("functions.").unwrap_or(name);
    matches!(
        n,
        "Bash"
            | "bash"
            | "shell"
            | "shell_command"
            | "local_shell"
            | "exec_command"
            | "container.exec"
            | "unified_exec"
    )
}

/// The simple commands of a shell command line, as word lists. Quotes and
/// backslashes are honoured; `;`, `&`, `|`, newlines, parentheses and
/// backquotes separate commands; `#` starts a comment.
pub fn simple_commands(src: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = src.chars().collect();
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    fn end_word(words: &mut Vec<String>, word: &mut String, in_word: &mut bool) {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\'
                        && i + 1 < chars.len()
                        && matches!(chars[i + 1], '"' | '\\' | '$' | '`')
                    {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '\\' => {
                if i + 1 < chars.len() && chars[i + 1] != '\n' {
                    word.push(chars[i + 1]);
                    in_word = true;
                }
                i += 1;
            }
            ' ' | '\t' | '\r' => end_word(&mut words, &mut word, &mut in_word),
            '\n' | ';' | '&' | '|' | '(' | ')' | '`' => {
                end_word(&mut words, &mut word, &mut in_word);
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
            }
            '#' if !in_word => {
                while i + 1 < chars.len() && chars[i + 1] != '\n' {
                    i += 1;
                }
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    end_word(&mut words, &mut word, &mut in_word);
    if !words.is_empty() {
        cmds.push(words);
    }
    cmds
}

/// A `git commit` found in a command: the `-C` directories given to git.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitCall {
    pub dirs: Vec<String>,
}

fn basename(w: &str) -> &str {
    w.rsplit('/').next().unwrap_or(w)
}

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Does this argv run `git commit` (directly or through `sh -c`)?
fn argv_commit(words: &[String], depth: usize) -> Option<CommitCall> {
    let mut i = 0;
    loop {
        let w = words.get(i)?.as_str();
        if is_assignment(w)
            || matches!(
                w,
                "{" | "!" | "then" | "do" | "else" | "elif" | "if" | "while" | "until" | "$"
            )
        {
            i += 1;
        } else if matches!(
            basename(w),
            "env" | "sudo" | "nohup" | "time" | "command" | "exec" | "nice"
        ) {
            i += 1;
            while words.get(i).is_some_and(|w| w.starts_with('-')) {
                i += 1;
            }
        } else {
            break;
        }
    }
    let prog = basename(words.get(i)?);
    if matches!(prog, "bash" | "sh" | "zsh" | "dash" | "ksh") {
        let mut j = i + 1;
        while let Some(w) = words.get(j) {
            if !w.starts_with('-') {
                return None;
            }
            if !w.starts_with("--") && w.contains('c') {
                return script_commit(words.get(j + 1)?, depth + 1);
            }
            j += 1;
        }
        return None;
    }
    if !matches!(prog, "git" | "git.exe") {
        return None;
    }
    let mut j = i + 1;
    let mut dirs = Vec::new();
    while let Some(w) = words.get(j) {
        match w.as_str() {
            "-C" => {
                dirs.push(words.get(j + 1)?.clone());
                j += 2;
            }
            "-c" | "--git-dir" | "--work-tree" | "--namespace" | "--config-env"
            | "--super-prefix" => j += 2,
            w if w.starts_with('-') => j += 1,
            _ => break,
        }
    }
    if words.get(j)? != "commit" {
        return None;
    }
    if words[j + 1..]
        .iter()
        .any(|w| matches!(w.as_str(), "--dry-run" | "-h" | "--help"))
    {
        return None;
    }
    Some(CommitCall { dirs })
}

fn script_commit(src: &str, depth: usize) -> Option<CommitCall> {
    if depth > 3 {
        return None;
    }
    simple_commands(src)
        .iter()
        .find_map(|cmd| argv_commit(cmd, depth))
}

/// The `git commit` a tool's command runs, if any. `command` is a shell
/// string or an argv array.
pub fn git_commit_in(command: &Value) -> Option<CommitCall> {
    match command {
        Value::String(s) => script_commit(s, 0),
        Value::Array(items) => {
            let words: Vec<String> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()?;
            argv_commit(&words, 0)
        }
        _ => None,
    }
}

/// The exit code a shell tool's text output announces (before `Output:`).
fn exit_code_in_text(text: &str) -> Option<i64> {
    for line in text.lines().take(8) {
        let l = line.trim();
        if l == "Output:" {
            break;
        }
        let rest = l
            .strip_prefix("Exit code:")
            .or_else(|| l.split_once("exited with code").map(|(_, r)| r));
        if let Some(n) = rest.and_then(|r| r.trim().parse::<i64>().ok()) {
            return Some(n);
        }
    }
    None
}

/// Does the tool response show success? Unknown shapes count as success
/// (reporting HEAD is idempotent).
pub fn response_ok(v: &Value) -> bool {
    match v {
        Value::String(s) => exit_code_in_text(s).is_none_or(|c| c == 0),
        Value::Object(m) => {
            for k in ["exit_code", "exitCode"] {
                if let Some(c) = m.get(k).and_then(Value::as_i64) {
                    return c == 0;
                }
            }
            if let Some(c) = m
                .get("metadata")
                .and_then(|md| md.get("exit_code"))
                .and_then(Value::as_i64)
            {
                return c == 0;
            }
            if let Some(b) = m.get("success").and_then(Value::as_bool) {
                return b;
            }
            if ["is_error", "isError"]
                .iter()
                .any(|k| m.get(*k).and_then(Value::as_bool) == Some(true))
            {
                return false;
            }
            match m.get("output").and_then(Value::as_str) {
                Some(s) => exit_code_in_text(s).is_none_or(|c| c == 0),
                None => true,
            }
        }
        _ => true,
    }
}

/// What the hook did.
enum Outcome {
    Ignored(String),
    Reported(Box<ReportCommitResponse>),
}

/// A failure, with the store when one was found (to log it there).
struct Failure {
    store: Option<Store>,
    message: String,
}

fn fail(store: Option<&Store>, e: impl std::fmt::Display) -> Failure {
    Failure {
        store: store.cloned(),
        message: e.to_string(),
    }
}

fn handle(env: &Env, event: &Value) -> Result<Outcome, Failure> {
    if s(event, "hook_event_name") != "PostToolUse" {
        return Ok(Outcome::Ignored("not a PostToolUse event".into()));
    }
    let tool = s(event, "tool_name");
    if !is_shell_tool(tool) {
        return Ok(Outcome::Ignored(format!("{tool:?} is not a shell tool")));
    }
    let input = &event["tool_input"];
    let command = if input["command"].is_null() {
        &input["cmd"]
    } else {
        &input["command"]
    };
    let Some(call) = git_commit_in(command) else {
        return Ok(Outcome::Ignored("the command is not a git commit".into()));
    };
    if !response_ok(&event["tool_response"]) {
        return Ok(Outcome::Ignored("the git commit failed".into()));
    }
    let process_cwd = host::cwd().map_err(|e| fail(None, e))?;
    let cwd = match event["cwd"].as_str().map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => process_cwd.clone(),
    };
    let mut dir = match input["workdir"].as_str().filter(|w| !w.is_empty()) {
        Some(w) => absolute(&cwd, Path::new(w)),
        None => cwd.clone(),
    };
    for d in &call.dirs {
        dir = absolute(&dir, Path::new(d));
    }
    let store = match store_for(env, &dir).or_else(|_| store_for(env, &cwd)) {
        Ok(s) => s,
        // No store: this session is not coordinated by codenator.
        Err(e) => return Ok(Outcome::Ignored(format!("no store: {e:#}"))),
    };
    let slot = match store
        .slot_for_path(&dir)
        .map_err(|e| fail(Some(&store), e))?
    {
        SlotMatch::One(s) => s,
        SlotMatch::None => {
            return Ok(Outcome::Ignored(format!(
                "no registered worktree contains {}",
                dir.display()
            )));
        }
        SlotMatch::Ambiguous(slots) => {
            return Err(fail(
                Some(&store),
                format!(
                    "{} is inside the worktree of several slots ({}); not reporting",
                    dir.display(),
                    slots.join(", ")
                ),
            ));
        }
    };
    if !host::git::head_just_committed(&dir) {
        return Ok(Outcome::Ignored(
            "HEAD did not just move by a commit (the git commit failed?)".into(),
        ));
    }
    let id = SlotId::parse("slot", &slot).map_err(|e| fail(Some(&store), e))?;
    let ctx = Ctx::new(Caller::new(id));
    let ans = host::git::report_commit(
        &store,
        &ctx,
        &api::ReportCommit {
            slot,
            ..api::ReportCommit::default()
        },
    )
    .map_err(|e| fail(Some(&store), e))?;
    Ok(Outcome::Reported(Box::new(ans)))
}

/// The store for a directory the command ran in: the root the CLI's rule
/// gives (`--root`, the variables), else the nearest store at or above
/// `dir`.
fn store_for(env: &Env, dir: &Path) -> anyhow::Result<Store> {
    let root = env.root()?;
    if !matches!(
        root.source,
        host::root::Source::Found | host::root::Source::Cwd
    ) {
        return Ok(root.open_existing()?);
    }
    match dir.ancestors().find(|d| ledger::store::holds_store(d)) {
        Some(d) => Ok(Store::open_with(d, host::store_options())?),
        None => anyhow::bail!("no codenator store at or above {}", dir.display()),
    }
}

/// `hook-post-tool-use`: never fails the hook, never prints on stdout.
pub fn post_tool_use(env: &Env, args: &PostArgs) -> anyhow::Result<u8> {
    let mut input = Vec::new();
    if std::io::stdin()
        .take(MAX_EVENT)
        .read_to_end(&mut input)
        .is_err()
    {
        return Ok(0);
    }
    let event = match serde_json::from_slice::<Value>(&input) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            if args.verbose {
                eprintln!("codenator hook: ignored: stdin is not a JSON object");
            }
            return Ok(0);
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(env, &event)))
        .unwrap_or_else(|_| {
            Err(Failure {
                store: None,
                message: "the hook panicked".into(),
            })
        });
    match outcome {
        Ok(Outcome::Ignored(why)) => {
            if args.verbose {
                eprintln!("codenator hook: ignored: {why}");
            }
        }
        Ok(Outcome::Reported(ans)) => {
            if args.verbose {
                eprintln!(
                    "codenator hook: {} {} for {}",
                    if ans.already_reported {
                        "already reported"
                    } else {
                        "reported"
                    },
                    ans.report.sha,
                    ans.report.slot,
                );
            }
        }
        Err(f) => {
            let context: ledger::model::Payload =
                ["session_id", "turn_id", "tool_use_id", "tool_name", "cwd"]
                    .iter()
                    .map(|k| (k.to_string(), event[*k].clone()))
                    .collect();
            let logged = f
                .store
                .as_ref()
                .map(|st| st.record_hook_error(&f.message, context));
            if args.verbose || !matches!(logged, Some(Ok(_))) {
                eprintln!("codenator hook: error: {}", f.message);
            }
        }
    }
    Ok(0)
}

/// Quote a word for a POSIX shell command line (double quotes).
fn sh_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `hook-template`: a Codex `hooks.json` whose PostToolUse hook runs this
/// binary's `hook-post-tool-use` (with the store's root when one is known).
pub fn template(env: &Env, args: &TemplateArgs) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("cannot find the running binary")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let mut command = format!(
        "{} hook-post-tool-use",
        sh_quote(&exe.display().to_string())
    );
    if !args.no_root {
        let root = env.root()?;
        let store = match root.source {
            host::root::Source::Flag | host::root::Source::Env(_) => Some(root.open_existing()?),
            host::root::Source::Found => root.open_existing().ok(),
            host::root::Source::Cwd => None,
        };
        if let Some(st) = store {
            command.push_str(&format!(
                " --root {}",
                sh_quote(&st.root().display().to_string())
            ));
        }
    }
    print_json(&json!({
        "hooks": {
            "PostToolUse": [{
                "matcher": MATCHER,
                "hooks": [{"type": "command", "command": command, "timeout": 30}],
            }],
        },
    }))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(cmd: &str) -> Option<CommitCall> {
        git_commit_in(&json!(cmd))
    }

    #[test]
    fn finds_real_git_commits_only() {
        let yes = CommitCall { dirs: vec![] };
        assert_eq!(commit("git commit -m x"), Some(yes.clone()));
        assert_eq!(
            commit("git add -A && git commit -m 'fix it'"),
            Some(yes.clone())
        );
        assert_eq!(
            commit("cd sub; GIT_AUTHOR_NAME=x git -c a=b commit -qm y"),
            Some(yes.clone())
        );
        assert_eq!(commit("bash -lc 'git commit -m \"x\"'"), Some(yes.clone()));
        assert_eq!(commit("/usr/bin/git --no-pager commit"), Some(yes.clone()));
        assert_eq!(
            commit("git -C ../wt commit -m x"),
            Some(CommitCall {
                dirs: vec!["../wt".into()]
            })
        );
        assert_eq!(
            git_commit_in(&json!(["bash", "-lc", "git commit -m x"])),
            Some(yes.clone())
        );
        assert_eq!(
            git_commit_in(&json!(["git", "commit", "-m", "x"])),
            Some(yes)
        );
        for no in [
            "echo git commit",
            "echo 'a; git commit -m x'",
            "git log --grep 'git commit'",
            "git commit --dry-run",
            "grep -r \"git commit\" .",
            "git status # then git commit",
            "gitx commit",
            "git commits",
        ] {
            assert_eq!(commit(no), None, "{no}");
        }
    }

    #[test]
    fn reads_exit_codes() {
        assert!(response_ok(&json!(
            "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n[main abc] x\n"
        )));
        assert!(!response_ok(&json!(
            "Exit code: 1\nWall time: 0.1 seconds\nOutput:\nnothing to commit\n"
        )));
        assert!(response_ok(&json!("Output:\nExit code: 1\n")));
        assert!(!response_ok(&json!({"exit_code": 128})));
        assert!(!response_ok(
            &json!({"metadata": {"exit_code": 1}, "output": ""})
        ));
        assert!(response_ok(
            &json!({"output": "x", "metadata": {"exit_code": 0}})
        ));
        assert!(response_ok(&Value::Null));
    }
}
