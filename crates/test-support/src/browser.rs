//! Headless Chromium (Debian's `chromium`) driven over the DevTools
//! protocol, for tests of pages the binaries serve.
//!
//! A minimal CDP client on tungstenite: a command is one JSON message with
//! an id, its answer the message with that id; events in between are kept
//! where a test wants them (uncaught exceptions, console errors, every
//! network request). Chromium is found at `$CHROMIUM`, else
//! `/usr/bin/chromium`; a missing browser fails the test with a message
//! saying how to install it, never a silent pass.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// The window the pages are laid out in (a laptop screen).
pub const WINDOW: (u32, u32) = (1440, 900);

/// How long one protocol command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where Chromium is: `$CHROMIUM`, else `/usr/bin/chromium`.
pub fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// One headless Chromium with one page, killed on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
    /// Uncaught exceptions and console errors on the page.
    pub errors: Vec<String>,
    /// Every URL the page requested.
    pub requests: Vec<String>,
}

impl Browser {
    /// Start Chromium headless (as root too: `--no-sandbox`), with a fresh
    /// profile and no background networking, and open one page.
    pub fn launch() -> anyhow::Result<Browser> {
        let exe = chromium_path();
        if !exe.is_file() {
            bail!(
                "Chromium is missing at {} (set CHROMIUM to its path): the dashboard's browser \
                 tests need it. Install it with `apt-get install -y chromium`, as the README's \
                 test command does.",
                exe.display()
            );
        }
        let profile = crate::paths::temp_dir("codenator-chromium-");
        let log = std::fs::File::create(profile.path().join("chromium.log"))?;
        let child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-port=0",
                &format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", exe.display()))?;
        let mut b = Browser::attach(child, profile).context("connect to Chromium's DevTools")?;
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Network.enable",
            "Log.enable",
        ] {
            b.call(domain, json!({}))?;
        }
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": WINDOW.0, "height": WINDOW.1, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(b)
    }

    /// Wait for Chromium to write its DevTools port, connect, and attach to
    /// a new page.
    fn attach(mut child: Child, profile: tempfile::TempDir) -> anyhow::Result<Browser> {
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                    break (p.trim().parse::<u16>()?, path.trim().to_string());
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                bail!(
                    "Chromium exited ({status}) before it listened: {}",
                    log_tail(profile.path())
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "Chromium wrote no DevTools port within 30 s: {}",
                    log_tail(profile.path())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .map_err(|e| anyhow::anyhow!("DevTools websocket handshake: {e}"))?;
        let mut b = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 0,
            _profile: profile,
            errors: Vec::new(),
            requests: Vec::new(),
        };
        let target = b.call("Target.createTarget", json!({"url": "about:blank"}))?;
        let target_id = target["targetId"].as_str().context("targetId")?.to_string();
        let attached = b.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        )?;
        b.session = attached["sessionId"]
            .as_str()
            .context("sessionId")?
            .to_string();
        Ok(b)
    }

    /// Send one command (to the page once attached) and return its result.
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .with_context(|| format!("send {method}"))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                bail!("{method}: no answer within {COMMAND_TIMEOUT:?}");
            }
            let m = self
                .ws
                .read()
                .with_context(|| format!("read the answer to {method}"))?;
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str())?;
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    bail!("{method} failed: {e}");
                }
                return Ok(v["result"].clone());
            }
            self.note_event(&v);
        }
    }

    fn note_event(&mut self, v: &Value) {
        let p = &v["params"];
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let d = &p["exceptionDetails"];
                self.errors.push(format!(
                    "uncaught: {} {}",
                    d["text"].as_str().unwrap_or(""),
                    d["exception"]["description"].as_str().unwrap_or("")
                ));
            }
            Some("Runtime.consoleAPICalled") if p["type"] == "error" => {
                self.errors.push(format!("console.error: {}", p["args"]));
            }
            Some("Log.entryAdded") if p["entry"]["level"] == "error" => {
                self.errors.push(format!(
                    "log: {} {}",
                    p["entry"]["text"].as_str().unwrap_or(""),
                    p["entry"]["url"].as_str().unwrap_or("")
                ));
            }
            Some("Network.requestWillBeSent") => {
                if let Some(u) = p["request"]["url"].as_str() {
                    self.requests.push(u.to_string());
                }
            }
            _ => {}
        }
    }

    /// Load `url` and wait until the document has loaded.
    pub fn navigate(&mut self, url: &str) -> anyhow::Result<()> {
        let r = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(e) = r["errorText"].as_str() {
            bail!("navigating to {url}: {e}");
        }
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        )?;
        Ok(())
    }

    /// Evaluate a JavaScript expression in the page (promises awaited) and
    /// return its value.
    pub fn eval(&mut self, expr: &str) -> anyhow::Result<Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        )?;
        if let Some(d) = r.get("exceptionDetails") {
            bail!("{expr} threw: {d}");
        }
        Ok(r["result"]["value"].clone())
    }

    /// Evaluate `expr` until it is truthy (and return that value), or fail
    /// after `timeout`.
    pub fn wait_for(&mut self, expr: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(expr)?;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("still not true after {timeout:?}: {expr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Click the element `selector` names with real mouse events at its
    /// centre.
    pub fn click(&mut self, selector: &str) -> anyhow::Result<()> {
        let sel = serde_json::to_string(selector)?;
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
             e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
             return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ))?;
        let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
            bail!("nothing to click at {selector}");
        };
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )?;
        }
        Ok(())
    }

    /// Focus `selector` and type `text` into it (real input events).
    pub fn type_into(&mut self, selector: &str, text: &str) -> anyhow::Result<()> {
        self.click(selector)?;
        self.call("Input.insertText", json!({"text": text}))?;
        Ok(())
    }

    /// Save the viewport as a PNG.
    pub fn screenshot(&mut self, path: &Path) -> anyhow::Result<()> {
        self.capture(path, json!({"format": "png"}))
    }

    /// Save the whole page, as tall as it is, as a PNG.
    pub fn screenshot_full(&mut self, path: &Path) -> anyhow::Result<()> {
        let height = self
            .eval("document.documentElement.scrollHeight")?
            .as_f64()
            .context("page height")?;
        self.capture(
            path,
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": WINDOW.0, "height": height, "scale": 1}}),
        )
    }

    fn capture(&mut self, path: &Path, params: Value) -> anyhow::Result<()> {
        let r = self.call("Page.captureScreenshot", params)?;
        let data = r["data"].as_str().context("screenshot data")?;
        let png = base64::engine::general_purpose::STANDARD.decode(data)?;
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of Chromium's log, for a failure message.
fn log_tail(profile: &Path) -> String {
    let log = std::fs::read_to_string(profile.join("chromium.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
