//! What Codex keeps under `CODEX_HOME` (default `~/.codex`).

use std::path::PathBuf;

/// `CODEX_HOME`, else `$HOME/.codex`.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// `target_thread_id = "…"` from the automation's
/// `$CODEX_HOME/automations/<automation_id>/automation.toml`; None when the
/// file or the key is missing. The id was checked by the caller.
pub fn automation_thread(automation_id: &ledger::TaskId) -> Option<String> {
    let path = home()?
        .join("automations")
        .join(automation_id.as_str())
        .join("automation.toml");
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "target_thread_id")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|v| !v.is_empty())
    })
}

/// The Codex CLI to run: [`executable`] without a flag (a path to the npm
/// `codex` wrapper or the native binary; on Windows the `.exe`, as no shell
/// is used), else plain `codex`, for the error to name.
pub fn cli() -> PathBuf {
    executable(None).unwrap_or_else(|| PathBuf::from("codex"))
}

/// The Codex executable: `flag`, else `CODENATOR_CODEX`, else `codex` on
/// `PATH`. `None` when none is found.
pub fn executable(flag: Option<&std::path::Path>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("CODENATOR_CODEX").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    which::which("codex").ok()
}

/// `$CODEX_HOME/config.toml`, when it exists.
pub fn config_text() -> Option<String> {
    std::fs::read_to_string(home()?.join("config.toml")).ok()
}

/// How Codex can reach a model, when it can: a login (`auth.json`), an
/// `OPENAI_API_KEY`, or a `model_provider` in `config.toml`.
pub fn provider() -> Option<String> {
    if home().is_some_and(|h| h.join("auth.json").is_file()) {
        return Some("logged in (auth.json)".into());
    }
    if std::env::var_os("OPENAI_API_KEY").is_some_and(|v| !v.is_empty()) {
        return Some("OPENAI_API_KEY is set".into());
    }
    config_text()?.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "model_provider").then(|| format!("model_provider = {}", v.trim()))
    })
}
