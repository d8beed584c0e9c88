//! The `codenator` command line as a process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::git::GIT_IDENTITY;
use crate::mcp::{CODENATOR_VARS, TEST_LOG};
use crate::paths::{STORE_DIR, bin};

/// `codenator` with none of the caller's root or agent variables; add the
/// command and `--root`.
pub fn cli_command() -> Command {
    let mut c = Command::new(bin("codenator"));
    for v in CODENATOR_VARS {
        c.env_remove(v);
    }
    c.env("RUST_LOG", TEST_LOG);
    c
}

/// A temporary world for the command line: `<tmp>/root` (the ledger root),
/// a scratch HOME and CODEX_HOME, and room for worktrees.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        let tmp = crate::paths::temp_dir("codenator-cli-");
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
        self.root.join(STORE_DIR)
    }

    /// `codenator args…` in `cwd` with a clean environment; the root comes
    /// from AURALIS_CODENATOR_ROOT (as in the reference's CLI test), HOME
    /// and CODEX_HOME are the world's, git commits get the test identity.
    pub fn cmd(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = cli_command();
        c.args(args)
            .current_dir(cwd)
            .env("AURALIS_CODENATOR_ROOT", &self.root)
            .env("HOME", &self.home)
            .env("CODEX_HOME", self.home.join(".codex"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .envs(GIT_IDENTITY);
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
        World::stdout_of_success(args, self.run(cwd, args))
    }

    /// Require that `codenator args…` exited 0 (showing its output when
    /// not), return its stdout.
    pub fn stdout_of_success(args: &[&str], out: Output) -> String {
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
