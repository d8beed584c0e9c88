//! How messages travel: one JSON object per line over a child's stdio (the
//! app-server's default), or one per WebSocket text frame to a server that
//! already listens (`ws://HOST:PORT`, or `unix://PATH` for its control
//! socket, which speaks WebSocket too).

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::Error;

pub enum Transport {
    Stdio {
        stdin: Option<ChildStdin>,
        stdout: Lines<BufReader<ChildStdout>>,
    },
    Tcp(
        Box<
            tokio_tungstenite::WebSocketStream<
                tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
            >,
        >,
    ),
    #[cfg(unix)]
    Unix(Box<tokio_tungstenite::WebSocketStream<tokio::net::UnixStream>>),
}

impl Transport {
    pub fn stdio(stdin: ChildStdin, stdout: ChildStdout) -> Transport {
        Transport::Stdio {
            stdin: Some(stdin),
            stdout: BufReader::new(stdout).lines(),
        }
    }

    /// Connect to a listening app-server: `ws://HOST:PORT` or `unix://PATH`.
    pub async fn connect(url: &str) -> Result<Transport, Error> {
        if let Some(path) = url.strip_prefix("unix://") {
            #[cfg(unix)]
            {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| Error::Connect(format!("{url}: {e}")))?;
                let (ws, _) = tokio_tungstenite::client_async("ws://localhost/", stream)
                    .await
                    .map_err(|e| Error::Connect(format!("{url}: {e}")))?;
                return Ok(Transport::Unix(Box::new(ws)));
            }
            #[cfg(not(unix))]
            {
                let _ = path;
                return Err(Error::Connect(format!(
                    "{url}: unix:// sockets are not supported on this platform"
                )));
            }
        }
        if !url.starts_with("ws://") {
            return Err(Error::Connect(format!(
                "{url}: the URL must be ws://HOST:PORT or unix://PATH"
            )));
        }
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| Error::Connect(format!("{url}: {e}")))?;
        Ok(Transport::Tcp(Box::new(ws)))
    }

    pub async fn send(&mut self, text: String) -> Result<(), Error> {
        let closed = |e: &dyn std::fmt::Display| Error::Closed(format!("cannot send: {e}"));
        match self {
            Transport::Stdio { stdin, .. } => {
                let Some(w) = stdin.as_mut() else {
                    return Err(Error::Closed("stdin already closed".into()));
                };
                w.write_all(text.as_bytes()).await.map_err(|e| closed(&e))?;
                w.write_all(b"\n").await.map_err(|e| closed(&e))?;
                w.flush().await.map_err(|e| closed(&e))
            }
            Transport::Tcp(ws) => ws.send(Frame::text(text)).await.map_err(|e| closed(&e)),
            #[cfg(unix)]
            Transport::Unix(ws) => ws.send(Frame::text(text)).await.map_err(|e| closed(&e)),
        }
    }

    /// The next message, or `None` when the other side closed.
    pub async fn recv(&mut self) -> Result<Option<String>, Error> {
        async fn frame<S>(ws: &mut S) -> Result<Option<String>, Error>
        where
            S: futures_util::Stream<Item = Result<Frame, tokio_tungstenite::tungstenite::Error>>
                + Unpin,
        {
            loop {
                match ws.next().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(Error::Closed(format!("websocket: {e}"))),
                    Some(Ok(Frame::Text(t))) => return Ok(Some(t.as_str().to_owned())),
                    Some(Ok(Frame::Binary(b))) => {
                        return Ok(Some(String::from_utf8_lossy(&b).into_owned()));
                    }
                    Some(Ok(Frame::Close(_))) => return Ok(None),
                    // Pings are answered by tungstenite itself.
                    Some(Ok(_)) => continue,
                }
            }
        }
        match self {
            Transport::Stdio { stdout, .. } => stdout
                .next_line()
                .await
                .map_err(|e| Error::Closed(format!("cannot read: {e}"))),
            Transport::Tcp(ws) => frame(ws.as_mut()).await,
            #[cfg(unix)]
            Transport::Unix(ws) => frame(ws.as_mut()).await,
        }
    }

    /// End the conversation: close stdin (the app-server exits on EOF, which
    /// releases its thread locks) or close the WebSocket.
    pub async fn close(&mut self) {
        match self {
            Transport::Stdio { stdin, .. } => {
                stdin.take();
            }
            Transport::Tcp(ws) => {
                let _ = SinkExt::close(ws.as_mut()).await;
            }
            #[cfg(unix)]
            Transport::Unix(ws) => {
                let _ = SinkExt::close(ws.as_mut()).await;
            }
        }
    }
}
