//! Where things are: the binaries, the checkout, temporary roots, the store
//! inside a root; copying and listing directory trees.

use std::path::{Path, PathBuf};

/// The store directory inside a ledger root (the reference's name).
pub const STORE_DIR: &str = ".auralis-codextrator";

/// Path of a workspace binary (`codenator`, `codenator-mcp`,
/// `codextrator`); see the crate documentation for how it is found.
pub fn bin(name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> directory");
    let p = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.is_file(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build --workspace` \
         first) so the binaries are built",
        p.display()
    );
    p
}

/// The repository root (the checkout holding `Cargo.toml`, `tests/`,
/// `tools/codex/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/test-support lives two levels below the repository root")
        .to_path_buf()
}

/// A reference-written fixture store under `tests/fixtures/`
/// (`reference-v1`, `reference-v2`; see `tests/fixtures/README.md`).
pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(name)
}

/// A temporary ledger root, removed on drop.
pub fn temp_root() -> tempfile::TempDir {
    temp_dir("codenator-test-")
}

/// A temporary directory whose name starts with `prefix`, removed on drop.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

/// The store inside a ledger root.
pub fn store_dir(root: &Path) -> PathBuf {
    root.join(STORE_DIR)
}

/// The message ledger of the store inside a ledger root.
pub fn ledger_file(root: &Path) -> PathBuf {
    store_dir(root).join("messages/ledger.jsonl")
}

/// Copy a directory tree (a fixture into a temporary root).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dest = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &dest)?;
        } else {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

/// Relative paths of every file and directory under `dir`, sorted (empty
/// when `dir` does not exist).
pub fn walk(dir: &Path) -> Vec<String> {
    walk_inner(dir, true)
}

/// Relative paths of every file under `dir` (directories left out), sorted
/// (empty when `dir` does not exist).
pub fn walk_files(dir: &Path) -> Vec<String> {
    walk_inner(dir, false)
}

fn walk_inner(dir: &Path, with_dirs: bool) -> Vec<String> {
    fn go(base: &Path, dir: &Path, with_dirs: bool, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let is_dir = p.is_dir();
            if (with_dirs || !is_dir)
                && let Ok(rel) = p.strip_prefix(base)
            {
                out.push(rel.to_string_lossy().into_owned());
            }
            if is_dir {
                go(base, &p, with_dirs, out);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, with_dirs, &mut out);
    out.sort();
    out
}
