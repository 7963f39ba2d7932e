//! `provider: zeromq` (the pure-Rust `zeromq` crate): a PUSH socket (fire and forget) or a
//! REQ socket talking to the service's REP socket (the reply is the response). A message
//! has two frames: the message id (stable across retries, so a receiver can deduplicate)
//! and the message as JSON. A reply's last frame is the response: JSON, else text; an empty
//! reply is no response.
//!
//! One socket per service, connected on first use. A REQ socket that timed out waiting for
//! its reply is in the middle of an exchange: it is dropped and a new one connected.

use super::config::{ZeroMqConfig, ZeroMqKind};
use super::{Answer, Delivered, DeliveryError, Outgoing};
use serde_json::Value;
use tokio::sync::Mutex;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

enum Connected {
    Push(zeromq::PushSocket),
    Req(zeromq::ReqSocket),
}

/// A ZeroMQ service: its settings and its socket (one exchange at a time).
pub(super) struct ZeroMq {
    config: ZeroMqConfig,
    socket: Mutex<Option<Connected>>,
}

impl std::fmt::Debug for ZeroMq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZeroMq")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ZeroMq {
    pub(super) fn new(config: ZeroMqConfig) -> Self {
        ZeroMq {
            config,
            socket: Mutex::new(None),
        }
    }

    pub(super) async fn send(&self, out: &Outgoing<'_>) -> Result<Delivered, DeliveryError> {
        let body =
            serde_json::to_vec(out.message).map_err(|e| DeliveryError::Setup(e.to_string()))?;
        let mut message = ZmqMessage::from(out.id.as_bytes().to_vec());
        message.push_back(body.into());
        let mut guard = self.socket.lock().await;
        let timeout = self.config.timeout;
        let result = tokio::time::timeout(timeout, self.exchange(&mut guard, message)).await;
        match result {
            Ok(Ok(answer)) => Ok(Delivered {
                answer,
                status: None,
            }),
            Ok(Err(e)) => {
                *guard = None;
                Err(e)
            }
            Err(_) => {
                // A REQ socket waiting for a reply cannot send again: start afresh.
                *guard = None;
                Err(DeliveryError::Timeout(timeout))
            }
        }
    }

    async fn exchange(
        &self,
        socket: &mut Option<Connected>,
        message: ZmqMessage,
    ) -> Result<Answer, DeliveryError> {
        let failed = |e: zeromq::ZmqError| DeliveryError::Connect(e.to_string());
        if socket.is_none() {
            *socket = Some(match self.config.kind {
                ZeroMqKind::Push => {
                    let mut s = zeromq::PushSocket::new();
                    s.connect(&self.config.address).await.map_err(failed)?;
                    Connected::Push(s)
                }
                ZeroMqKind::Reply => {
                    let mut s = zeromq::ReqSocket::new();
                    s.connect(&self.config.address).await.map_err(failed)?;
                    Connected::Req(s)
                }
            });
        }
        match socket {
            Some(Connected::Push(s)) => {
                s.send(message).await.map_err(failed)?;
                Ok(Answer::Nothing)
            }
            Some(Connected::Req(s)) => {
                s.send(message).await.map_err(failed)?;
                let reply = s.recv().await.map_err(failed)?;
                let last = reply.into_vec().pop().unwrap_or_default();
                if last.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Answer::Nothing);
                }
                Ok(Answer::Response(match serde_json::from_slice(&last) {
                    Ok(value) => value,
                    Err(_) => Value::String(String::from_utf8(last.to_vec()).map_err(|_| {
                        DeliveryError::BadAnswer("the reply is neither JSON nor UTF-8 text".into())
                    })?),
                }))
            }
            None => Err(DeliveryError::Setup("no socket".into())),
        }
    }
}
