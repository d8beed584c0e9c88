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

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"binary-test","version":"0"}}}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
const LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;

/// The answer with this id among the JSON lines of `out`, if there is one.
fn answer(out: &str, id: u64) -> Option<serde_json::Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["id"] == id)
}

/// stdin and stdout that are not pipes (files here, a terminal for a
/// person) go through tokio's stdio instead of the runtime's pipes: the
/// server still answers, and stops at the end of its input.
#[test]
fn stdio_that_is_not_a_pipe() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("root");
    let exe = env!("CARGO_BIN_EXE_codenator-mcp");
    let args = |c: &mut Command| {
        c.args(["--agent", "coordinator", "--root"]).arg(&root);
    };

    // stdin a file: initialize is answered before the rest is read.
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, format!("{INITIALIZE}\n{INITIALIZED}\n")).expect("input");
    let mut c = Command::new(exe);
    args(&mut c);
    let out = c
        .stdin(std::fs::File::open(&input).expect("open input"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let init = answer(&stdout, 1).expect("initialize answered");
    assert_eq!(
        init["result"]["serverInfo"]["name"], "auralis-codenator",
        "{init}"
    );

    // stdin a pipe, stdout a file: the tool list arrives in the file.
    let output = dir.path().join("out.jsonl");
    let mut c = Command::new(exe);
    args(&mut c);
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&output).expect("create output"))
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{INITIALIZE}\n{INITIALIZED}\n{LIST}").expect("write requests");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let list = loop {
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        if let Some(v) = answer(&text, 2) {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no tools/list answer in {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    drop(stdin);
    assert!(child.wait().expect("wait").success());
    let tools = list["result"]["tools"].as_array().expect("tools");
    assert!(
        tools.iter().any(|t| t["name"] == "read_inbox"),
        "read_inbox listed: {list}"
    );
}
