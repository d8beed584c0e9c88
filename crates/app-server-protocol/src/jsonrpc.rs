//! JSON-RPC envelopes as Codex's app-server speaks them: no `"jsonrpc"`
//! field, integer or string ids, `params` always present on requests (a
//! request without it is refused with "missing field `params`", even when
//! every parameter is optional).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::notification::ServerNotification;
use crate::server_request::ServerRequest;

/// A request id: Codex numbers its own requests from 0; ids are echoed
/// back unchanged, whatever their type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Int(i64),
    Str(String),
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Int(i) => write!(f, "{i}"),
            RequestId::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// A request the client sends.
#[derive(Debug, Serialize)]
pub struct Request<'a, P: Serialize> {
    pub id: RequestId,
    pub method: &'a str,
    pub params: &'a P,
}

/// A notification the client sends (`initialized`).
#[derive(Debug, Serialize)]
pub struct Notification<'a> {
    pub method: &'a str,
}

/// The client's answer to a server request: a result or an error.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Reply<'a, R: Serialize> {
    Result {
        id: &'a RequestId,
        result: &'a R,
    },
    Error {
        id: &'a RequestId,
        error: &'a RpcError,
    },
}

/// A JSON-RPC error, in an answer or a reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    /// JSON-RPC "method not found".
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Codex's "invalid request" (also used for refusals such as a thread
    /// held by another writer).
    pub const INVALID_REQUEST: i64 = -32600;
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// The fields any incoming message may have; sorted by [`Message::parse`].
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Option<RequestId>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Box<RawValue>>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// One message from the server.
#[derive(Debug)]
pub enum Message {
    /// The answer to one of our requests. The result stays raw JSON text
    /// until the caller, who knows the request, decodes it
    /// ([`decode_result`]).
    Response {
        id: RequestId,
        result: Result<Box<RawValue>, RpcError>,
    },
    /// A request the client must answer (approvals, elicitations, ...).
    Request {
        id: RequestId,
        request: ServerRequest,
    },
    Notification(ServerNotification),
}

/// Why a line is not a message.
#[derive(Debug)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

impl Message {
    /// Sort one line (or frame) into a response, a request or a
    /// notification. A request or notification whose params do not have the
    /// expected shape is still returned (as the `Unknown` kind, with the
    /// reason), so a request always gets an answer.
    pub fn parse(text: &str) -> Result<Message, ParseError> {
        let env: Envelope =
            serde_json::from_str(text).map_err(|e| ParseError(format!("not JSON-RPC: {e}")))?;
        match (env.id, env.method) {
            (Some(id), Some(method)) => Ok(Message::Request {
                request: ServerRequest::parse(&method, env.params.as_deref()),
                id,
            }),
            (None, Some(method)) => Ok(Message::Notification(ServerNotification::parse(
                &method,
                env.params.as_deref(),
            ))),
            (Some(id), None) => {
                let result = match (env.result, env.error) {
                    (_, Some(error)) => Err(error),
                    (Some(r), None) => Ok(r),
                    (None, None) => Err(RpcError {
                        code: 0,
                        message: "a response with neither result nor error".into(),
                    }),
                };
                Ok(Message::Response { id, result })
            }
            (None, None) => Err(ParseError(
                "a message with neither id nor method".to_string(),
            )),
        }
    }
}

/// Decode a response's result into the type of the request it answers.
pub fn decode_result<R: serde::de::DeserializeOwned>(raw: &RawValue) -> Result<R, ParseError> {
    serde_json::from_str(raw.get()).map_err(|e| ParseError(format!("unexpected result: {e}")))
}

/// Decode params of a known method; `None` params read as `{}`.
pub(crate) fn decode_params<P: serde::de::DeserializeOwned>(
    params: Option<&RawValue>,
) -> Result<P, String> {
    let text = params.map(RawValue::get).unwrap_or("{}");
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Incoming messages named by their method (server requests,
/// notifications): a known method's params decode into its variant; an
/// unknown method, or params that do not decode, keep the method name.
pub(crate) trait ByMethod: Sized {
    /// The catch-all variant (`unreadable`: why known params did not decode).
    fn unknown(method: &str, unreadable: Option<String>) -> Self;

    /// `variant` of the decoded params, else [`ByMethod::unknown`] saying why.
    fn typed<P: serde::de::DeserializeOwned>(
        method: &str,
        params: Option<&RawValue>,
        variant: impl FnOnce(P) -> Self,
    ) -> Self {
        match decode_params(params) {
            Ok(p) => variant(p),
            Err(e) => Self::unknown(method, Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_responses_requests_and_notifications() {
        let m = Message::parse(r#"{"id":1,"result":{"x":1}}"#).expect("parse");
        assert!(matches!(
            m,
            Message::Response {
                id: RequestId::Int(1),
                result: Ok(_)
            }
        ));
        let m =
            Message::parse(r#"{"id":"a","error":{"code":-32600,"message":"no"}}"#).expect("parse");
        assert!(matches!(
            m,
            Message::Response {
                result: Err(RpcError { code: -32600, .. }),
                ..
            }
        ));
        let m = Message::parse(r#"{"id":0,"method":"attestation/generate","params":{}}"#)
            .expect("parse");
        assert!(matches!(
            m,
            Message::Request {
                request: ServerRequest::Attestation,
                ..
            }
        ));
        let m = Message::parse(r#"{"method":"thread/queue/changed","params":{"threadId":"t"}}"#)
            .expect("parse");
        assert!(matches!(
            m,
            Message::Notification(ServerNotification::Other { .. })
        ));
        assert!(Message::parse("{}").is_err());
        assert!(Message::parse("not json").is_err());
    }

    #[test]
    fn replies_echo_the_id() {
        let id = RequestId::Str("r-1".into());
        let error = RpcError {
            code: -32601,
            message: "no".into(),
        };
        let reply: Reply<'_, ()> = Reply::Error {
            id: &id,
            error: &error,
        };
        let text = serde_json::to_string(&reply).expect("json");
        assert_eq!(
            text,
            r#"{"id":"r-1","error":{"code":-32601,"message":"no"}}"#
        );
    }
}
