//! The tool surface Codex sees, checked in: every tool's name, description,
//! input and output schemas and annotations, as `tools/list` answers them
//! from the real `codenator-mcp` binary over stdio (rmcp's client).
//!
//! A change to a request or response type, a doc comment or an annotation
//! changes this list; the test fails until the snapshot is regenerated on
//! purpose. The output schemas the server embeds (`schemas/output.json`,
//! generated ahead of time for a fast start) are checked against the types
//! the same way:
//!
//! ```sh
//! UPDATE_SNAPSHOTS=1 cargo test -p codenator-mcp --test tools_list
//! ```
//!
//! When an answer type changed, run it twice: the first run rewrites
//! `schemas/output.json`, the second builds the server with it and rewrites
//! the tool list.

use std::collections::BTreeMap;
use std::path::PathBuf;

use rmcp::{ServiceExt, transport::TokioChildProcess};
use serde_json::{Value, json};

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tools_list.json")
}

async fn tools_list() -> anyhow::Result<Value> {
    let root = tempfile::tempdir()?;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_codenator-mcp"));
    cmd.arg("--root")
        .arg(root.path())
        .arg("--agent")
        .arg("coordinator")
        .env("RUST_LOG", "error");
    let client = ().serve(TokioChildProcess::new(cmd)?).await?;
    let tools = client.list_all_tools().await?;
    client.cancel().await?;
    let mut list: Vec<Value> = tools
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "description": t.description,
                "annotations": t.annotations,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
            })
        })
        .collect();
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(Value::Array(list))
}

/// The embedded output schemas are the ones the answer types generate.
#[test]
fn embedded_output_schemas_match_the_types() -> anyhow::Result<()> {
    let generated: BTreeMap<&str, Value> = codenator_mcp::schemas::generated()
        .into_iter()
        .map(|(tool, s)| (tool, Value::Object((*s).clone())))
        .collect();
    let text = serde_json::to_string_pretty(&generated)? + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/output.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text)?;
        return Ok(());
    }
    let embedded: BTreeMap<String, Value> = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    for (tool, schema) in &generated {
        assert_eq!(
            embedded.get(*tool),
            Some(schema),
            "the embedded output schema of {tool} is not its type's; run \
             `UPDATE_SNAPSHOTS=1 cargo test -p codenator-mcp --test tools_list` and commit schemas/output.json"
        );
    }
    assert_eq!(
        embedded.len(),
        generated.len(),
        "schemas/output.json lists a tool that does not exist"
    );
    Ok(())
}

#[tokio::test]
async fn tools_list_matches_the_snapshot() -> anyhow::Result<()> {
    let got = tools_list().await?;
    for t in got.as_array().into_iter().flatten() {
        let name = &t["name"];
        assert_eq!(
            t["outputSchema"]["type"],
            json!("object"),
            "{name}: every tool publishes an object output schema"
        );
        assert!(t["annotations"].is_object(), "{name}: annotated");
        assert!(
            t["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{name}: described"
        );
    }
    let text = serde_json::to_string_pretty(&got)? + "\n";
    let path = snapshot_path();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text)?;
        return Ok(());
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != text {
        let diff_at = want
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(text.lines().count()));
        panic!(
            "tools/list changed (first difference at line {}): {:?} became {:?}.\n\
             If the change is intended, run `UPDATE_SNAPSHOTS=1 cargo test -p codenator-mcp --test tools_list` \
             and commit tests/snapshots/tools_list.json.",
            diff_at + 1,
            want.lines().nth(diff_at).unwrap_or("<end>"),
            text.lines().nth(diff_at).unwrap_or("<end>"),
        );
    }
    Ok(())
}
