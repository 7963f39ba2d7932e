//! `letsflow health`: ask a node's `GET /health` (the container image's HEALTHCHECK, which
//! has no curl). Plain HTTP/1.1 over `std::net`, one request.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `letsflow health`.
#[derive(Debug, clap::Args)]
pub(crate) struct HealthArgs {
    /// The node's address, `http://HOST:PORT` [default: $LETSFLOW_HTTP with an unspecified
    /// host (0.0.0.0, [::]) asked on loopback, else 127.0.0.1:8080].
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    timeout: u64,
}

/// Why the node is not healthy.
#[derive(Debug, thiserror::Error)]
enum HealthError {
    #[error("invalid address '{0}': expected http://HOST:PORT")]
    Address(String),
    #[error("cannot reach {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("GET /health answered '{0}'")]
    Status(String),
}

impl HealthArgs {
    /// Prints `ok` and exits 0 when the node answers 200; else the reason and exit 1.
    pub(crate) fn run(self) -> ExitCode {
        let target = self.url.unwrap_or_else(|| {
            std::env::var("LETSFLOW_HTTP").unwrap_or_else(|_| "127.0.0.1:8080".into())
        });
        match probe(&target, Duration::from_secs(self.timeout.max(1))) {
            Ok(()) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

/// The socket address of `http://HOST:PORT[/…]` or `HOST:PORT`; an unspecified host means
/// this machine.
fn address(target: &str) -> Result<(String, SocketAddr), HealthError> {
    let bad = || HealthError::Address(target.to_string());
    let rest = target.strip_prefix("http://").unwrap_or(target);
    let authority = rest.split('/').next().unwrap_or_default();
    let mut addr = authority
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok((authority.to_string(), addr))
}

fn probe(target: &str, timeout: Duration) -> Result<(), HealthError> {
    let (host, addr) = address(target)?;
    let io = |source| HealthError::Io {
        addr: addr.to_string(),
        source,
    };
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    write!(
        stream,
        "GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(io)?;
    let mut answer = Vec::new();
    stream
        .take(16 * 1024)
        .read_to_end(&mut answer)
        .map_err(io)?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HealthError::Status(status.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let (host, addr) = address("http://0.0.0.0:8080").expect("address");
        assert_eq!(
            (host.as_str(), addr.to_string().as_str()),
            ("0.0.0.0:8080", "127.0.0.1:8080")
        );
        let (_, addr) = address("127.0.0.1:9/health").expect("address");
        assert_eq!(addr.to_string(), "127.0.0.1:9");
        let (_, addr) = address("[::]:80").expect("address");
        assert_eq!(addr.to_string(), "[::1]:80");
        assert!(matches!(address("nonsense"), Err(HealthError::Address(_))));
    }
}
