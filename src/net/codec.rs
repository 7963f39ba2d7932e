//! The codec of the sync protocol: JSON over a libp2p stream, with size limits. A request
//! that is too large or not our JSON is not dropped silently (libp2p reports no event for a
//! request it could not read): it becomes [`Request::Oversized`] or [`Request::Unreadable`],
//! which the node refuses and counts against the sender like any bad request.

use super::protocol::{Request, Response, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use futures::prelude::*;
use libp2p::StreamProtocol;
use std::io;

/// JSON with [`MAX_REQUEST_BYTES`] / [`MAX_RESPONSE_BYTES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        io.take(MAX_REQUEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .await?;
        if bytes.len() as u64 > MAX_REQUEST_BYTES {
            return Ok(Request::Oversized {
                limit: MAX_REQUEST_BYTES,
            });
        }
        Ok(
            serde_json::from_slice(&bytes).unwrap_or_else(|e| Request::Unreadable {
                reason: e.to_string(),
            }),
        )
    }

    async fn read_response<T>(&mut self, _: &Self::Protocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        io.take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut bytes)
            .await?;
        if bytes.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("answer over {MAX_RESPONSE_BYTES} bytes"),
            ));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    async fn write_request<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        request: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&serde_json::to_vec(&request)?).await
    }

    async fn write_response<T>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        response: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&serde_json::to_vec(&response)?).await
    }
}
