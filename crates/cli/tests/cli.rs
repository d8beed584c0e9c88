//! The `codenator` binary: help, and the demo end to end (real server
//! processes on a temporary ledger). Also makes cargo build the binary for
//! the workspace's end-to-end tests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use test_support::{bin, cli_command, repo_root, temp_root};

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

/// The README's build command is `cargo build --release`: it must build both
/// binaries, so the workspace's default members hold their packages (without
/// `default-members` cargo builds only the root package, which has only tests).
#[test]
fn cargo_build_builds_both_binaries() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata JSON");
    let defaults = meta["workspace_default_members"]
        .as_array()
        .expect("workspace_default_members");
    for name in ["codenator", "codenator-mcp"] {
        let owner = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["targets"].as_array().into_iter().flatten().any(|t| {
                    t["name"] == name
                        && t["kind"]
                            .as_array()
                            .is_some_and(|k| k.contains(&"bin".into()))
                })
            })
            .unwrap_or_else(|| panic!("no package builds the {name} binary"));
        assert!(
            defaults.contains(&owner["id"]),
            "`cargo build` does not build {name}: {} is not a default member ({defaults:?})",
            owner["name"]
        );
    }
}
