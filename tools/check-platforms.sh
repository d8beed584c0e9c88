#!/bin/sh
# Compile-check the workspace, tests included, for Windows and macOS from a
# Linux machine (no linking, no test run). Not part of CI: it needs the two
# targets, which rustup downloads. See the README's "Platforms".
set -eu
cd "$(dirname "$0")/.."
rustup target add x86_64-pc-windows-gnu x86_64-apple-darwin
CARGO_TARGET_DIR=target/check-windows cargo check --target x86_64-pc-windows-gnu --workspace --all-targets
CARGO_TARGET_DIR=target/check-macos cargo check --target x86_64-apple-darwin --workspace --all-targets
