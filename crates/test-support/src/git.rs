//! git with a fixed identity and none of the user's configuration.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::run_ok;

/// The identity of every commit a test makes.
pub(crate) const GIT_IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "codenator test"),
    ("GIT_AUTHOR_EMAIL", "test@codenator.invalid"),
    ("GIT_COMMITTER_NAME", "codenator test"),
    ("GIT_COMMITTER_EMAIL", "test@codenator.invalid"),
];

/// `git -C dir args…` with the test identity, no system or global
/// configuration (no signing, no hooks, no aliases of the user's), and no
/// `GIT_DIR`-style variables of the caller. Add more environment before
/// running it with [`run_ok`].
pub fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(dir)
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .envs(GIT_IDENTITY)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null());
    cmd
}

/// Run git in `dir` (see [`git_command`]), require success, return its
/// trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    run_ok(&mut git_command(dir, args))
}

/// Make `dir` a git repository with one commit (`README.md`) on `main`.
pub fn repo(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir repo");
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("README.md"), "hello\n").expect("write");
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "-q", "-m", "initial"]);
}

/// Commit a new file `name` (its content is its name); returns the new HEAD.
pub fn commit_file(dir: &Path, name: &str, msg: &str) -> String {
    std::fs::write(dir.join(name), format!("{name}\n")).expect("write");
    git(dir, &["add", name]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}
