//! Children this crate starts (`codex app-server`, `codex queue`): spawned
//! without a shell, in a process group of their own on Unix (a job object on
//! Windows), so that ending one ends everything it started: the npm `codex`
//! wrapper is a Node process whose child is the native binary, and the
//! native binary starts the MCP servers.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, KillOnDrop};
use tokio::io::{AsyncBufReadExt, BufReader};

/// How to run Codex: the program (the npm wrapper or the native binary),
/// the environment to add, and `-c key=value` overrides for every command.
#[derive(Clone, Debug)]
pub struct Codex {
    pub program: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    /// `-c` overrides (`key=<TOML value>`), given to `app-server` and `queue`.
    pub config: Vec<String>,
}

impl Codex {
    /// `program` with no extra environment or overrides.
    pub fn new(program: impl Into<PathBuf>) -> Codex {
        Codex {
            program: program.into(),
            env: Vec::new(),
            config: Vec::new(),
        }
    }

    /// Add a `-c key=value` override; `value` is written as a TOML string.
    pub fn config_string(&mut self, key: &str, value: &str) {
        self.config.push(format!("{key}={}", toml_string(value)));
    }

    /// Add a `-c key=[…]` override of TOML strings.
    pub fn config_strings(&mut self, key: &str, values: &[String]) {
        let items: Vec<String> = values.iter().map(|v| toml_string(v)).collect();
        self.config.push(format!("{key}=[{}]", items.join(", ")));
    }

    /// The arguments of `codex <subcommand> -c … <args>`.
    pub(crate) fn args(&self, subcommand: &str, rest: &[&str]) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![subcommand.into()];
        for c in &self.config {
            v.push("-c".into());
            v.push(c.into());
        }
        v.extend(rest.iter().map(OsString::from));
        v
    }
}

/// A TOML basic string. JSON's string escapes (`\"`, `\\`, `\n`, `\uXXXX`)
/// are all valid in TOML basic strings, so serde_json writes one correctly,
/// apostrophes included (the reference's literal strings broke on them).
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// The last lines a child wrote on stderr, kept while it runs.
#[derive(Clone, Default)]
pub struct StderrTail(Arc<Mutex<Vec<String>>>);

impl StderrTail {
    const KEEP: usize = 40;

    fn push(&self, line: String) {
        let line = strip_ansi(&line);
        if let Ok(mut v) = self.0.lock() {
            if v.len() == Self::KEEP {
                v.remove(0);
            }
            v.push(line);
        }
    }

    /// The last `n` lines.
    pub fn last(&self, n: usize) -> Vec<String> {
        self.0
            .lock()
            .map(|v| v[v.len().saturating_sub(n)..].to_vec())
            .unwrap_or_default()
    }
}

/// The line without terminal colour codes (`ESC [ … m`): Codex colours its
/// log lines even into a pipe.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A running child and the rest of its group.
pub struct Child {
    inner: Box<dyn ChildWrapper>,
    pub stderr: StderrTail,
    pub pid: Option<u32>,
}

/// Spawn `codex.program args` in a group of its own, stdin and stdout piped
/// when `piped`, stderr always read into a [`StderrTail`] (an unread stderr
/// pipe would block the child once full).
pub fn spawn(
    codex: &Codex,
    args: &[OsString],
    cwd: Option<&std::path::Path>,
    piped: bool,
) -> std::io::Result<Child> {
    let mut cmd = CommandWrap::with_new(&codex.program, |c| {
        c.args(args)
            .envs(codex.env.iter().map(|(k, v)| (k, v)))
            .stdin(if piped { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = cwd {
            c.current_dir(dir);
        }
    });
    #[cfg(unix)]
    cmd.wrap(process_wrap::tokio::ProcessGroup::leader());
    #[cfg(windows)]
    cmd.wrap(process_wrap::tokio::JobObject);
    cmd.wrap(KillOnDrop);
    let mut inner = cmd.spawn()?;
    let pid = inner.id();
    let tail = StderrTail::default();
    if let Some(err) = inner.stderr().take() {
        let t = tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "codex", "{line}");
                t.push(line);
            }
        });
    }
    Ok(Child {
        inner,
        stderr: tail,
        pid,
    })
}

impl Child {
    pub fn take_stdin(&mut self) -> Option<tokio::process::ChildStdin> {
        self.inner.stdin().take()
    }

    pub fn take_stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.inner.stdout().take()
    }

    /// Wait for the child to exit by itself for up to `grace`, then kill its
    /// whole group. Returns the exit status when it exited by itself.
    /// Whatever the outcome, the group is killed at the end, so no
    /// grandchild (an MCP server, the native binary under the wrapper)
    /// outlives it.
    pub async fn finish(mut self, grace: Duration) -> Option<ExitStatus> {
        let status = match tokio::time::timeout(grace, self.inner.wait()).await {
            Ok(Ok(s)) => Some(s),
            _ => None,
        };
        if let Err(e) = self.inner.start_kill() {
            // The group is gone already: the normal case after a clean exit.
            tracing::trace!("kill after exit: {e}");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.wait()).await;
        status
    }
}

/// Run a command to completion (stdin closed), killing its group after
/// `timeout`. Returns (status, stdout, stderr tail); `None` status on a
/// timeout.
pub async fn run(
    codex: &Codex,
    args: &[OsString],
    timeout: Duration,
) -> std::io::Result<(Option<ExitStatus>, String, Vec<String>)> {
    let mut child = spawn(codex, args, None, false)?;
    let mut stdout = child.take_stdout();
    let read = async {
        let mut s = String::new();
        if let Some(out) = stdout.as_mut() {
            use tokio::io::AsyncReadExt;
            let _ = out.read_to_string(&mut s).await;
        }
        s
    };
    let out = tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_default();
    let tail = child.stderr.clone();
    let status = child.finish(timeout).await;
    // Let the stderr reader catch up with the last lines.
    tokio::task::yield_now().await;
    Ok((status, out, tail.last(6)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_codes_are_stripped() {
        assert_eq!(
            super::strip_ansi("\u{1b}[2mtime\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m x"),
            "time ERROR x"
        );
    }
}
