//! `codenator health`: can jobs run here? Each failing check names the
//! command that fixes it; the exit code is 1 only when jobs cannot run (no
//! Codex, no model provider).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Serialize;

use super::{Common, Env, print_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Codex executable (default: $CODENATOR_CODEX, then `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    pub codex: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    /// Jobs cannot run while this fails.
    required: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn check(name: &'static str, required: bool, r: Result<String, (String, String)>) -> Check {
    match r {
        Ok(detail) => Check {
            name,
            ok: true,
            required,
            detail,
            fix: None,
        },
        Err((detail, fix)) => Check {
            name,
            ok: false,
            required,
            detail,
            fix: Some(fix),
        },
    }
}

fn codex_version(codex: Option<PathBuf>) -> Result<String, (String, String)> {
    let install = "npm install -g @openai/codex (or pass --codex PATH / set CODENATOR_CODEX)";
    let Some(path) = codex else {
        return Err(("no codex on PATH".into(), install.into()));
    };
    let out = Command::new(&path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            (
                format!("cannot run {}: {e}", path.display()),
                install.into(),
            )
        })?;
    if !out.status.success() {
        return Err((
            format!("{} --version failed ({})", path.display(), out.status),
            install.into(),
        ));
    }
    Ok(format!(
        "{} ({})",
        String::from_utf8_lossy(&out.stdout).trim(),
        path.display()
    ))
}

pub fn run(env: &Env, a: &Args) -> anyhow::Result<u8> {
    let config = host::codex::config_text().unwrap_or_default();
    let registered = |needle: &str| config.contains(needle);
    let checks = vec![
        check(
            "codex",
            true,
            codex_version(host::codex::executable(a.codex.as_deref())),
        ),
        check(
            "model provider",
            true,
            host::codex::provider().ok_or_else(|| {
                (
                    "no login, no OPENAI_API_KEY and no model_provider in config.toml".into(),
                    "codex login".into(),
                )
            }),
        ),
        check(
            "mcp server",
            false,
            if registered("[mcp_servers.codenator]") || registered("codenator@") {
                Ok("codenator is registered with Codex".into())
            } else {
                Err((
                    "codenator is not in Codex's config.toml".into(),
                    "codex mcp add codenator -- codenator mcp".into(),
                ))
            },
        ),
        check(
            "plugin",
            false,
            if registered("codenator@") {
                Ok("the codenator plugin is installed".into())
            } else {
                Err((
                    "the codenator plugin is not installed".into(),
                    "codex plugin marketplace add <this repository>, then install codenator".into(),
                ))
            },
        ),
        check(
            "tmux",
            false,
            host::tmux()
                .map(|t| format!("for `job start --tmux`: {}", t.display()))
                .ok_or_else(|| {
                    (
                        "no tmux on PATH: `job start --tmux` cannot run (jobs without it can)"
                            .into(),
                        host::TMUX_INSTALL.into(),
                    )
                }),
        ),
        check(
            "ledger",
            false,
            env.store_without_import()
                .and_then(|s| Ok(s.read().map(|_| s.root().display().to_string())?))
                .map_err(|e| (format!("{e:#}"), "codenator init --root <dir>".into())),
        ),
    ];
    let can_run = checks.iter().all(|c| c.ok || !c.required);
    if a.json {
        print_json(&serde_json::json!({ "can_run_jobs": can_run, "checks": checks }))?;
    } else {
        for c in &checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            say!("{mark} {}: {}", c.name, c.detail);
            if let Some(f) = &c.fix {
                say!("     fix: {f}");
            }
        }
        say!(
            "{}",
            if can_run {
                "jobs can run"
            } else {
                "jobs cannot run"
            }
        );
    }
    Ok(if can_run { 0 } else { 1 })
}
