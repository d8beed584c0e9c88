//! The pinned Codex CLI (`tools/codex`, `npm ci --prefix tools/codex`) and
//! a throw-away Codex user for it: `HOME`, `CODEX_HOME` with a
//! `config.toml` that points the model provider at [`crate::mock_model`],
//! and an environment that keeps Codex offline.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::mock_model::MockModel;

/// The Codex version `tools/codex/package.json` pins.
pub const CODEX_VERSION: &str = "0.169.0";

/// Proxy variables pointed at a closed loopback port: with plugins enabled
/// Codex syncs a plugin catalogue at startup (HTTPS to github.com,
/// chatgpt.com); through the proxy that fails at once, without DNS, while
/// the mock (loopback, in `NO_PROXY`) is reached directly.
pub const OFFLINE_PROXY_VARS: [&str; 5] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
];

/// The pinned Codex CLI; a missing install fails the test, never skips it.
pub fn codex_bin() -> PathBuf {
    let p = crate::repo_root().join("tools/codex/node_modules/.bin/codex");
    assert!(
        p.is_file(),
        "the Codex CLI is missing at {}: run `npm ci --prefix tools/codex` (it installs the \
         pinned @openai/codex {CODEX_VERSION} from the npm registry) and rerun the tests",
        p.display()
    );
    p
}

/// Fail early, and clearly, unless the pinned Codex is installed.
pub fn require_codex() {
    let out = std::process::Command::new(codex_bin())
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .expect("run codex --version");
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && version.trim() == format!("codex-cli {CODEX_VERSION}"),
        "tools/codex holds {version:?}, not codex-cli {CODEX_VERSION}: run `npm ci --prefix tools/codex`"
    );
}

/// A TOML basic string (JSON's escapes are valid TOML).
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// A scratch Codex user under `dir`: `dir/home` and `dir/codex-home`.
pub struct CodexUser {
    pub home: PathBuf,
    pub codex_home: PathBuf,
}

impl CodexUser {
    pub fn new(dir: &Path) -> CodexUser {
        let u = CodexUser {
            home: dir.join("home"),
            codex_home: dir.join("codex-home"),
        };
        std::fs::create_dir_all(&u.home).expect("mkdir home");
        std::fs::create_dir_all(&u.codex_home).expect("mkdir codex-home");
        u
    }

    /// `config.toml`: the mock as model provider (`gpt-5.5`, a model of
    /// Codex's catalogue), unattended approvals and the workspace-write
    /// sandbox by default, analytics off, then `extra` (more tables).
    pub fn write_config(&self, mock: &MockModel, extra: &str) {
        let config = format!(
            r#"model = "gpt-5.5"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "workspace-write"
check_for_update_on_startup = false

[analytics]
enabled = false

{provider}
{extra}"#,
            provider = mock.provider_toml("mock", "E2E_MOCK_KEY"),
        );
        std::fs::write(self.codex_home.join("config.toml"), config).expect("write config.toml");
    }

    /// The environment of every Codex process of this user (on top of a
    /// cleared one, plus `PATH`).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("HOME".to_string(), self.home.display().to_string()),
            ("CODEX_HOME".into(), self.codex_home.display().to_string()),
            ("E2E_MOCK_KEY".into(), "dummy".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("NO_PROXY".into(), "127.0.0.1,localhost".into()),
            ("no_proxy".into(), "127.0.0.1,localhost".into()),
        ];
        v.extend(
            OFFLINE_PROXY_VARS
                .iter()
                .map(|k| (k.to_string(), "http://127.0.0.1:9".to_string())),
        );
        v
    }

    /// Processes still running with this user's `CODEX_HOME` in their
    /// environment (Codex, its MCP servers): `(pid, command line)`. Linux
    /// only (`/proc`); elsewhere empty.
    pub fn leftover_processes(&self) -> Vec<(u32, String)> {
        let needle = format!("CODEX_HOME={}", self.codex_home.display());
        let mut found = Vec::new();
        let Ok(rd) = std::fs::read_dir("/proc") else {
            return found;
        };
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == std::process::id() {
                continue;
            }
            let Ok(environ) = std::fs::read(e.path().join("environ")) else {
                continue;
            };
            if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
                let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                // A zombie is gone already (only its parent's wait is missing).
                if stat.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')) {
                    continue;
                }
                let cmd = std::fs::read(e.path().join("cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                    .unwrap_or_default();
                found.push((pid, cmd));
            }
        }
        found
    }
}
