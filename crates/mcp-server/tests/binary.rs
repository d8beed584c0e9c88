//! The `codenator-mcp` binary starts, refuses a bad agent, and answers
//! `--help` (this test also makes cargo build the binary for the
//! workspace's end-to-end tests).

use std::process::Command;

#[test]
fn help_and_bad_agent() {
    let exe = env!("CARGO_BIN_EXE_codenator-mcp");
    let out = Command::new(exe).arg("--help").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--root"));

    let dir = std::env::temp_dir().join(format!("codenator-badagent-{}", std::process::id()));
    let out = Command::new(exe)
        .args(["--agent", "../evil", "--root"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid agent"));
    assert!(out.stdout.is_empty(), "stdout belongs to MCP");
    assert!(!dir.exists(), "nothing is created for a refused agent");
}
