//! Shared helpers of the CLI tests: a temporary root, the real `codenator`
//! binary run as a process in a chosen directory, and git.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// A temporary world: `<tmp>/root` (the ledger root), a scratch HOME and
/// CODEX_HOME, and room for worktrees.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("root");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&root).expect("root");
        std::fs::create_dir_all(home.join(".codex")).expect("home");
        World { tmp, root, home }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn store(&self) -> PathBuf {
        self.root.join(".auralis-codextrator")
    }

    /// The binary with a clean environment; the root comes from
    /// AURALIS_CODENATOR_ROOT (as in the reference's CLI test).
    pub fn cmd(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_codenator"));
        c.args(args)
            .current_dir(cwd)
            .env("AURALIS_CODENATOR_ROOT", &self.root)
            .env_remove("AURALIS_CODEXTRATOR_ROOT")
            .env_remove("AURALIS_CODENATOR_AGENT")
            .env_remove("AURALIS_CODEXTRATOR_AGENT")
            .env("HOME", &self.home)
            .env("CODEX_HOME", self.home.join(".codex"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "codenator test")
            .env("GIT_AUTHOR_EMAIL", "test@codenator.invalid")
            .env("GIT_COMMITTER_NAME", "codenator test")
            .env("GIT_COMMITTER_EMAIL", "test@codenator.invalid")
            .env("RUST_LOG", "warn");
        c
    }

    pub fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.cmd(cwd, args).output().expect("run codenator")
    }

    /// Run with `input` on stdin.
    pub fn run_stdin(&self, cwd: &Path, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(cwd, args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn codenator");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("wait")
    }

    /// Run, require exit 0, return stdout.
    pub fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        assert!(
            out.status.success(),
            "codenator {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run, require exit 0, parse stdout as JSON.
    pub fn json(&self, cwd: &Path, args: &[&str]) -> Value {
        let text = self.ok(cwd, args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// Run, require the given exit code, return stderr.
    pub fn fails(&self, cwd: &Path, args: &[&str], code: i32) -> String {
        let out = self.run(cwd, args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "codenator {args:?}: stdout {} stderr {err}",
            String::from_utf8_lossy(&out.stdout)
        );
        err
    }
}

/// Run git in `dir` (identity from the environment), require success,
/// return stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "codenator test")
        .env("GIT_AUTHOR_EMAIL", "test@codenator.invalid")
        .env("GIT_COMMITTER_NAME", "codenator test")
        .env("GIT_COMMITTER_EMAIL", "test@codenator.invalid")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A git repository with one commit on `main`.
pub fn repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir repo");
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README.md"), "hello\n").expect("write");
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// Commit a new file; returns the new HEAD.
pub fn commit_file(dir: &Path, name: &str, msg: &str) -> String {
    std::fs::write(dir.join(name), format!("{name}\n")).expect("write");
    git(dir, &["add", name]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// The row of `slot` in a list of rows.
pub fn row<'a>(rows: &'a Value, slot: &str) -> &'a Value {
    rows.as_array()
        .and_then(|r| r.iter().find(|r| r["slot"] == slot))
        .unwrap_or_else(|| panic!("no row for {slot} in {rows}"))
}

/// Names of the commit report files (hook errors and last-reported aside).
pub fn report_files(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store.join("reports"))
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.ends_with(".json") && !n.ends_with("_hook_error.json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
