//! The `codenator` binary: help, and the demo end to end (real server
//! processes on a temporary ledger). Also makes cargo build the binary for
//! the workspace's end-to-end tests.

use std::path::Path;

use test_support::{bin, cli_command, temp_root};

#[test]
fn help_lists_commands() {
    let out = cli_command().arg("--help").output().expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("mcp") && text.contains("demo"), "{text}");
}

/// The harness finds the very binary cargo built for this package.
#[test]
fn the_harness_finds_the_binary_cargo_built() {
    let canon = |p: &Path| std::fs::canonicalize(p).expect("canonicalize");
    assert_eq!(
        canon(&bin("codenator")),
        canon(Path::new(env!("CARGO_BIN_EXE_codenator")))
    );
}

#[test]
fn demo_runs_and_prints_the_board() {
    let tmp = temp_root();
    let dir = tmp.path();
    let out = cli_command()
        .args(["demo", "--root"])
        .arg(dir)
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
    let again = cli_command()
        .args(["demo", "--root"])
        .arg(dir)
        .output()
        .expect("rerun");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("\"integrated\":4"));
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
