//! The `codenator` binary: help, and the demo end to end (real server
//! processes on a temporary ledger). Also makes cargo build the binary for
//! the workspace's end-to-end tests.

use std::process::Command;

#[test]
fn help_lists_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_codenator"))
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mcp") && text.contains("demo"), "{text}");
}

#[test]
fn demo_runs_and_prints_the_board() {
    let dir = std::env::temp_dir().join(format!("codenator-demo-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_codenator"))
        .args(["demo", "--root"])
        .arg(&dir)
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Auralis Codenator Focus Board"), "{stdout}");
    assert!(
        stdout.contains("claimed=false"),
        "the dependent task must wait: {stdout}"
    );
    assert!(stdout.contains("integration receipts:"), "{stdout}");
    // Two integrations, one task active again after its dependency landed.
    assert!(stdout.contains("\"integrated\":2"), "{stdout}");
    // A second run adds to the same ledger.
    let again = Command::new(env!("CARGO_BIN_EXE_codenator"))
        .args(["demo", "--root"])
        .arg(&dir)
        .output()
        .expect("rerun");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("\"integrated\":4"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's run command is `cargo run --release -p codenator -- demo`:
/// with two binaries in the package (`codextrator` is the legacy alias),
/// cargo needs `default-run` to know which one to run.
#[test]
fn cargo_run_picks_the_codenator_binary() {
    let manifest = include_str!("../Cargo.toml");
    assert!(
        manifest.contains("default-run = \"codenator\""),
        "{manifest}"
    );
}
