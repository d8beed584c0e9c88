//! `codenator admin` as a process, and raw HTTP/1.1 to it.
//!
//! The requests are written by hand on a TCP stream because the tests must
//! choose every byte an attacker could: a foreign `Host` header, any
//! method, paths an HTTP client would normalise. Responses are parsed with
//! `httparse`; the body is read to the end (`Connection: close`), chunked
//! or not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::cli::cli_command;

/// A running `codenator admin` on a free loopback port.
pub struct Admin {
    child: Child,
    /// The URL it printed (`http://127.0.0.1:<port>/`).
    pub url: String,
    pub addr: SocketAddr,
    /// The rest of its stdout, kept open so it never sees a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Admin {
    /// Start `codenator admin --root ROOT --port 0` and wait for its URL.
    pub fn start(root: &Path) -> anyhow::Result<Admin> {
        Admin::start_with(root, &[])
    }

    /// [`Admin::start`] with more arguments.
    pub fn start_with(root: &Path, args: &[&str]) -> anyhow::Result<Admin> {
        let mut child = cli_command()
            .arg("admin")
            .arg("--root")
            .arg(root)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("spawn codenator admin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("admin stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("codenator admin: ") else {
            let _ = child.kill();
            bail!("codenator admin did not print its URL first (printed {line:?})");
        };
        let addr: SocketAddr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .with_context(|| format!("the printed URL {url:?} names no socket address"))?;
        Ok(Admin {
            url: url.to_string(),
            addr,
            child,
            _stdout: stdout,
        })
    }

    /// `host:port` as a browser sends it.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Response> {
        self.request("GET", path, Some(&self.host()))
    }

    /// Any method, any path, any `Host` (None: no Host header at all).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        host: Option<&str>,
    ) -> anyhow::Result<Response> {
        let mut s = self.connect()?;
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if let Some(h) = host {
            req.push_str(&format!("Host: {h}\r\n"));
        }
        if !matches!(method, "GET" | "HEAD") {
            req.push_str("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
        } else {
            req.push_str("\r\n");
        }
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        Response::parse(&raw, method == "HEAD")
    }

    /// Open `/api/events` and read Server-Sent Events from it.
    pub fn events(&self) -> anyhow::Result<Events> {
        let mut s = self.connect()?;
        write!(
            s,
            "GET /api/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.host()
        )?;
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status)?;
        if !status.starts_with("HTTP/1.1 200") {
            bail!("/api/events answered {status:?}");
        }
        let mut chunked = false;
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            if h.trim().is_empty() {
                break;
            }
            chunked |= h
                .to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked");
        }
        Ok(Events {
            r,
            chunked,
            buf: String::new(),
        })
    }

    fn connect(&self) -> anyhow::Result<TcpStream> {
        let s = TcpStream::connect(self.addr)?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        Ok(s)
    }

    /// Is the process still running?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8], head_only: bool) -> anyhow::Result<Response> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(n) = res.parse(raw)? else {
            bail!("incomplete response: {:?}", String::from_utf8_lossy(raw));
        };
        let status = res.code.context("no status")?;
        let headers: Vec<(String, String)> = res
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let rest = &raw[n..];
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
        let body = if head_only {
            Vec::new()
        } else if chunked {
            dechunk(rest)?
        } else {
            rest.to_vec()
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("not JSON ({}): {}", self.status, self.text()))
    }
}

/// A whole chunked body.
fn dechunk(mut rest: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let nl = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size line")?;
        let size_text = std::str::from_utf8(&rest[..nl])?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        rest = &rest[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(rest.get(..size).context("short chunk")?);
        rest = rest.get(size + 2..).context("chunk end")?;
    }
}

/// Server-Sent Events read from an open `/api/events`.
pub struct Events {
    r: BufReader<TcpStream>,
    chunked: bool,
    buf: String,
}

/// One event: its `event:` name and its `data:` lines joined.
#[derive(Debug)]
pub struct Event {
    pub name: String,
    pub data: String,
}

impl Events {
    /// The next event that is not a keep-alive comment, within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> anyhow::Result<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut ev = Event {
                    name: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        ev.name = v.trim().to_string();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if any {
                    return Ok(ev);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("no event within {timeout:?}");
            }
            self.r.get_ref().set_read_timeout(Some(left))?;
            self.read_more()?;
        }
    }

    /// The next event named `name` whose data satisfies `pred`.
    pub fn wait_for(
        &mut self,
        name: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> anyhow::Result<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ev = self
                .next(left)
                .with_context(|| format!("no {name:?} event as expected within {timeout:?}"))?;
            if ev.name == name && pred(&ev.data) {
                return Ok(ev);
            }
        }
    }

    fn read_more(&mut self) -> anyhow::Result<()> {
        if self.chunked {
            let mut size = String::new();
            if self.r.read_line(&mut size)? == 0 {
                bail!("the event stream ended");
            }
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .with_context(|| format!("chunk size {size:?}"))?;
            if n == 0 {
                bail!("the event stream ended");
            }
            let mut chunk = vec![0u8; n + 2];
            self.r.read_exact(&mut chunk)?;
            chunk.truncate(n);
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        } else {
            let mut line = String::new();
            if self.r.read_line(&mut line)? == 0 {
                bail!("the event stream ended");
            }
            self.buf.push_str(&line);
        }
        // SSE allows CRLF line ends; the parser above splits on LF.
        if self.buf.contains('\r') {
            self.buf = self.buf.replace("\r\n", "\n");
        }
        Ok(())
    }
}
