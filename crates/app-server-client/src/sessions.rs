//! Codex's session (rollout) files, read for thread discovery:
//! `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`, one
//! JSON record per line, the first a `session_meta` with the thread id, its
//! cwd and its source (`vscode` for app-server and Desktop threads, `exec`,
//! `cli`; an object for subagents). Only the head of each file is read:
//! what a session was told to be comes in its first user message.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// How much of a file's head is read.
const HEAD_LINES: usize = 240;
const HEAD_BYTES: u64 = 8 << 20;
/// User texts kept per session.
const USER_TEXTS: usize = 4;

/// One session file's thread, as its head describes it.
#[derive(Clone, Debug)]
pub struct SessionThread {
    pub thread_id: String,
    pub file: PathBuf,
    pub modified: SystemTime,
    /// `vscode`, `exec`, `cli`, ...
    pub source: String,
    pub cwd: Option<String>,
    pub started_at: Option<String>,
    /// The first user messages, without Codex's own context blocks
    /// (`<environment_context>`, ...).
    pub user_texts: Vec<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Meta {
    id: String,
    #[serde(default)]
    cwd: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    source: Option<Source>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Source {
    Named(String),
    /// Subagents and other structured sources.
    Structured(IgnoredAny),
}

#[derive(Deserialize)]
struct ResponseItem {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    content: Vec<Content>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    text: Option<String>,
}

/// The newest `limit` session files under `dir` (by modification time,
/// newest first), each read as far as its head; files that are not
/// sessions, or sessions of a structured source (subagents), are skipped.
pub fn scan(dir: &Path, limit: usize) -> Vec<SessionThread> {
    let mut files = Vec::new();
    collect(dir, &mut files, 0);
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    files.truncate(limit);
    files
        .into_iter()
        .filter_map(|(f, modified)| read_head(&f, modified))
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, SystemTime)>, depth: usize) {
    if depth > 6 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            collect(&p, out, depth + 1);
        } else if ft.is_file() && p.extension().is_some_and(|x| x == "jsonl") {
            let modified = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            out.push((p, modified));
        }
    }
}

fn read_head(file: &Path, modified: SystemTime) -> Option<SessionThread> {
    let f = std::fs::File::open(file).ok()?;
    let reader = BufReader::new(f.take(HEAD_BYTES));
    let mut session: Option<SessionThread> = None;
    for line in reader.lines().take(HEAD_LINES) {
        let Ok(line) = line else { break };
        let Ok(rec) = serde_json::from_str::<Record>(&line) else {
            continue;
        };
        let Some(payload) = rec.payload else { continue };
        match (rec.kind.as_str(), session.as_mut()) {
            ("session_meta", None) => {
                let meta: Meta = serde_json::from_str(payload.get()).ok()?;
                let source = match meta.source {
                    Some(Source::Named(s)) => s,
                    Some(Source::Structured(_)) => return None,
                    None => String::new(),
                };
                session = Some(SessionThread {
                    thread_id: meta.id,
                    file: file.to_path_buf(),
                    modified,
                    source,
                    cwd: meta.cwd,
                    started_at: meta.timestamp,
                    user_texts: Vec::new(),
                });
            }
            ("response_item", Some(s)) => {
                let Ok(item) = serde_json::from_str::<ResponseItem>(payload.get()) else {
                    continue;
                };
                if item.kind != "message" || item.role.as_deref() != Some("user") {
                    continue;
                }
                let text: String = item
                    .content
                    .iter()
                    .filter_map(|c| c.text.as_deref())
                    .filter(|t| !t.trim_start().starts_with('<'))
                    .collect::<Vec<_>>()
                    .join("\n");
                if !text.trim().is_empty() {
                    s.user_texts.push(text);
                    if s.user_texts.len() >= USER_TEXTS {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    session
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, lines: &[&str]) {
        std::fs::create_dir_all(dir).expect("mkdir");
        std::fs::write(dir.join(name), lines.join("\n")).expect("write");
    }

    #[test]
    fn reads_thread_source_cwd_and_user_texts() {
        let d = tempfile::tempdir().expect("tempdir");
        let day = d.path().join("2026/12/02");
        write(
            &day,
            "rollout-a-T1.jsonl",
            &[
                r#"{"type":"session_meta","payload":{"id":"T1","cwd":"/w/one","source":"vscode","timestamp":"2026-12-02T01:00:00Z"}}"#,
                r#"{"type":"response_item","payload":{"type":"message","role":"developer","content":[{"type":"input_text","text":"rules"}]}}"#,
                r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>x</environment_context>"}]}}"#,
                r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"You are slot worker-1. Work in: /w/one"}]}}"#,
                "not json",
            ],
        );
        write(
            &day,
            "rollout-b-T2.jsonl",
            &[r#"{"type":"session_meta","payload":{"id":"T2","source":{"subagent":"x"}}}"#],
        );
        write(&day, "notes.txt", &["x"]);
        let found = scan(d.path(), 10);
        assert_eq!(found.len(), 1, "{found:?}");
        let s = &found[0];
        assert_eq!(s.thread_id, "T1");
        assert_eq!(s.source, "vscode");
        assert_eq!(s.cwd.as_deref(), Some("/w/one"));
        assert_eq!(
            s.user_texts,
            vec!["You are slot worker-1. Work in: /w/one".to_string()]
        );
    }
}
