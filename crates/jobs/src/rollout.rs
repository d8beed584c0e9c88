//! How full a job's context window is, read from Codex's own session
//! record: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`,
//! whose `event_msg` lines of type `token_count` carry
//! `info.last_token_usage` (what the last model request put in the window)
//! and `info.model_context_window` (the window Codex works with). The exec
//! event stream has the usage but not the window; no model table is
//! guessed here: a window Codex did not record stays unknown.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The context figures of the session's last `token_count` with usage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `last_token_usage.total_tokens`: tokens in the window now.
    pub used: u64,
    /// `model_context_window`, when Codex recorded one.
    pub window: Option<u64>,
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    info: Option<Info>,
}

#[derive(Deserialize)]
struct Info {
    last_token_usage: Usage,
    #[serde(default)]
    model_context_window: Option<u64>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    total_tokens: u64,
}

/// The rollout file of `thread_id` under `codex_home`: the newest day
/// folders are looked at first, so a job that just ran is found at once.
pub fn find(codex_home: &Path, thread_id: &str) -> Option<PathBuf> {
    if thread_id.is_empty()
        || !thread_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return None;
    }
    let suffix = format!("-{thread_id}.jsonl");
    let sorted_dirs = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    };
    for year in sorted_dirs(&codex_home.join("sessions")) {
        for month in sorted_dirs(&year) {
            for day in sorted_dirs(&month) {
                let found = std::fs::read_dir(&day)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .find(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.starts_with("rollout-") && n.ends_with(&suffix))
                    });
                if let Some(e) = found {
                    return Some(e.path());
                }
            }
        }
    }
    None
}

/// The last context figures in a rollout file (`None` when it has none).
pub fn read(file: &Path) -> Option<Context> {
    let f = std::fs::File::open(file).ok()?;
    let mut last = None;
    for line in BufReader::new(f).lines() {
        let Ok(line) = line else { break };
        if !line.contains("\"token_count\"") {
            continue;
        }
        let Ok(l) = serde_json::from_str::<Line>(&line) else {
            continue;
        };
        if l.kind != "event_msg" {
            continue;
        }
        if let Some(Payload {
            kind,
            info: Some(info),
        }) = l.payload
            && kind == "token_count"
        {
            last = Some(Context {
                used: info.last_token_usage.total_tokens,
                window: info.model_context_window.filter(|w| *w > 0),
            });
        }
    }
    last
}

/// The context figures of a thread's session, when its record is found.
pub fn context(codex_home: &Path, thread_id: &str) -> Option<Context> {
    read(&find(codex_home, thread_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_last_token_count_of_the_thread() {
        let home = std::env::temp_dir().join(format!("jobs-rollout-{}", std::process::id()));
        let day = home.join("sessions/2026/12/02");
        std::fs::create_dir_all(&day).expect("mkdir");
        let lines = [
            r#"{"timestamp":"t","type":"session_meta","payload":{"id":"01a2"}}"#,
            r#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":null}}"#,
            r#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"total_tokens":110},"last_token_usage":{"input_tokens":100,"output_tokens":10,"total_tokens":110},"model_context_window":258400}}}"#,
            r#"{"timestamp":"t","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"total_tokens":330},"last_token_usage":{"total_tokens":220},"model_context_window":258400}}}"#,
            r#"{"timestamp":"t","type":"event_msg","payload":{"type":"agent_message","message":"token_count"}}"#,
        ];
        std::fs::write(
            day.join("rollout-2026-12-02T01-41-35-01a2.jsonl"),
            lines.join("\n"),
        )
        .expect("write");
        std::fs::write(
            day.join("rollout-2026-12-02T01-41-35-01a3.jsonl"),
            r#"{"type":"event_msg","payload":{"type":"token_count","info":{"last_token_usage":{"total_tokens":5}}}}"#,
        )
        .expect("write");
        assert_eq!(
            context(&home, "01a2"),
            Some(Context {
                used: 220,
                window: Some(258_400)
            })
        );
        // No window recorded: unknown, not zero.
        assert_eq!(
            context(&home, "01a3"),
            Some(Context {
                used: 5,
                window: None
            })
        );
        assert_eq!(context(&home, "01a4"), None);
        assert_eq!(context(&home, "../x"), None);
        let _ = std::fs::remove_dir_all(&home);
    }
}
