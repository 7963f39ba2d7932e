//! The libp2p swarm and the one task that owns it (STYLE 7). Everything else talks to it
//! through a [`Client`]: commands over a bounded channel, answers over oneshot channels.
//! Inbound requests go out of the loop to the [`Inbound`] channel with their response
//! channel, and come back as [`Command::Respond`].

use super::codec::SyncCodec;
use super::peers::Peers;
use super::protocol::{Request, Response, PROTOCOL};
use crate::chain::{NodeId, NodeKey};
use crate::engine::timers::now;
use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{behaviour::toggle::Toggle, NetworkBehaviour, SwarmEvent};
use libp2p::{
    identify, kad, mdns, noise, ping, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// What can go wrong in the network layer.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The swarm could not be built or cannot listen.
    #[error("libp2p: {0}")]
    Transport(String),
    /// A listen or peer address is not a multiaddr.
    #[error("'{0}' is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/4001)")]
    Address(String),
    /// A request failed (no connection, timeout, the peer closed the stream, …).
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer.
        peer: NodeId,
        /// Why.
        reason: String,
    },
    /// The network loop has stopped.
    #[error("the network loop has stopped")]
    Stopped,
}

/// The behaviours of a node.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    sync: request_response::Behaviour<SyncCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

/// How to run the swarm.
#[derive(Debug, Clone)]
pub struct SwarmSettings {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start and whenever they are not connected (with `/p2p/ID`, or
    /// addresses of address book entries).
    pub peers: Vec<(Option<PeerId>, Multiaddr)>,
    /// Local network discovery.
    pub mdns: bool,
    /// How long a request may take.
    pub request_timeout: Duration,
}

/// A request that arrived, to be answered with [`Client::respond`].
pub struct Inbound {
    /// Who sent it.
    pub peer: NodeId,
    /// What it asks.
    pub request: Request,
    /// Where the answer goes.
    pub channel: ResponseChannel<Response>,
}

/// Commands to the network loop.
pub(crate) enum Command {
    Request {
        peer: NodeId,
        request: Request,
        reply: oneshot::Sender<Result<Response, NetError>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    Connected {
        reply: oneshot::Sender<Vec<NodeId>>,
    },
}

/// A handle on the network loop.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
}

impl Client {
    /// Sends `request` to `peer` and waits for the answer.
    pub async fn request(&self, peer: NodeId, request: Request) -> Result<Response, NetError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| NetError::Stopped)?;
        answer.await.map_err(|_| NetError::Stopped)?
    }

    /// Answers an inbound request.
    pub async fn respond(&self, channel: ResponseChannel<Response>, response: Response) {
        // Ignored: when the loop has stopped the peer gets no answer either way.
        let _ = self
            .commands
            .send(Command::Respond { channel, response })
            .await;
    }

    /// The peers with an open connection.
    pub async fn connected(&self) -> Vec<NodeId> {
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .send(Command::Connected { reply })
            .await
            .is_err()
        {
            return vec![];
        }
        answer.await.unwrap_or_default()
    }
}

/// The libp2p key of a node key (the same ed25519 key).
pub fn keypair(key: &NodeKey) -> Result<libp2p::identity::Keypair, NetError> {
    libp2p::identity::Keypair::ed25519_from_bytes(key.secret_bytes())
        .map_err(|e| NetError::Transport(e.to_string()))
}

/// The peer id of a node id.
pub fn peer_id(node: &NodeId) -> PeerId {
    // A node id is always an ed25519 key, so its peer id bytes always parse.
    PeerId::from_bytes(&node.peer_id_bytes()).unwrap_or_else(|_| PeerId::random())
}

/// The node id of a peer id (`None` for a peer without an ed25519 key).
pub fn node_id(peer: &PeerId) -> Option<NodeId> {
    NodeId::from_peer_id_bytes(&peer.to_bytes()).ok()
}

/// The built swarm and the channels to it; [`Network::run`] drives it.
pub struct Network {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    inbound: mpsc::Sender<Inbound>,
    peers: Arc<Peers>,
    settings: SwarmSettings,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, NetError>>>,
    /// Peers a connection was opened to, so that events are counted once per peer.
    open: HashSet<PeerId>,
}

impl Network {
    /// Builds the swarm of `key`, listening on `settings.listen`. Returns it with a client
    /// and the channel of inbound requests.
    pub fn build(
        key: &NodeKey,
        settings: SwarmSettings,
        peers: Arc<Peers>,
    ) -> Result<(Network, Client, mpsc::Receiver<Inbound>), NetError> {
        let transport = |e: &dyn std::fmt::Display| NetError::Transport(e.to_string());
        let local = keypair(key)?;
        let mdns_on = settings.mdns;
        let timeout = settings.request_timeout;
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(local)
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .map_err(|e| transport(&e))?
            // `/dns4/…` and `/dns/…` peer addresses (e.g. service names in a container network).
            .with_dns()
            .map_err(|e| transport(&e))?
            .with_behaviour(|key| {
                let me = key.public().to_peer_id();
                let sync = request_response::Behaviour::with_codec(
                    SyncCodec,
                    [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                    request_response::Config::default().with_request_timeout(timeout),
                );
                let identify = identify::Behaviour::new(identify::Config::new(
                    "/letsflow/1.0.0".into(),
                    key.public(),
                ));
                let mut kad = kad::Behaviour::with_config(
                    me,
                    kad::store::MemoryStore::new(me),
                    kad::Config::new(StreamProtocol::new("/letsflow/kad/1.0.0")),
                );
                kad.set_mode(Some(kad::Mode::Server));
                let mdns = if mdns_on {
                    Some(mdns::tokio::Behaviour::new(mdns::Config::default(), me)?)
                } else {
                    None
                };
                Ok(Behaviour {
                    sync,
                    identify,
                    ping: ping::Behaviour::default(),
                    kad,
                    mdns: Toggle::from(mdns),
                })
            })
            .map_err(|e| transport(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        for address in &settings.listen {
            swarm
                .listen_on(address.clone())
                .map_err(|e| NetError::Transport(format!("cannot listen on {address}: {e}")))?;
        }
        for (peer, address) in &settings.peers {
            if let Some(peer) = peer {
                swarm.add_peer_address(*peer, address.clone());
                swarm.behaviour_mut().kad.add_address(peer, address.clone());
            }
        }
        let (commands_tx, commands) = mpsc::channel(1024);
        let (inbound, inbound_rx) = mpsc::channel(1024);
        let network = Network {
            swarm,
            commands,
            inbound,
            peers,
            settings,
            pending: HashMap::new(),
            open: HashSet::new(),
        };
        Ok((
            network,
            Client {
                commands: commands_tx,
            },
            inbound_rx,
        ))
    }

    /// Runs the swarm until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        self.dial_configured();
        let mut redial = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                command = self.commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.event(event),
                _ = redial.tick() => self.dial_configured(),
            }
        }
        tracing::info!("network stopped");
    }

    /// Dials the configured peers that are not connected.
    fn dial_configured(&mut self) {
        for (peer, address) in self.settings.peers.clone() {
            if peer.is_some_and(|p| self.swarm.is_connected(&p)) {
                continue;
            }
            if let Err(error) = self.swarm.dial(address.clone()) {
                tracing::debug!(%address, %error, "dial failed");
            }
        }
    }

    /// A configured peer given by address only is known by its id once dialed, so that it
    /// is not dialed again while connected.
    fn learn_configured(&mut self, peer: PeerId, address: &Multiaddr) {
        let bare = |a: &Multiaddr| {
            a.iter()
                .filter(|p| !matches!(p, libp2p::multiaddr::Protocol::P2p(_)))
                .collect::<Multiaddr>()
        };
        let dialed = bare(address);
        for (id, configured) in &mut self.settings.peers {
            if id.is_none() && bare(configured) == dialed {
                *id = Some(peer);
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer_id(&peer), request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                // Fails only when the peer closed the stream; nothing to do then.
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response);
            }
            Command::Connected { reply } => {
                let peers = self.swarm.connected_peers().filter_map(node_id).collect();
                let _ = reply.send(peers);
            }
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "p2p listening");
                self.peers.add_listening(address.to_string());
            }
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                if let Some(node) = node_id(&peer_id) {
                    if self.open.insert(peer_id) {
                        tracing::info!(peer = %node, "peer connected");
                    }
                    self.peers.set_connected(node, true, now());
                    if endpoint.is_dialer() {
                        let address = endpoint.get_remote_address().clone();
                        self.learn_configured(peer_id, &address);
                        self.peers.add_address(node, address.to_string());
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.open.remove(&peer_id);
                if let Some(node) = node_id(&peer_id) {
                    tracing::info!(peer = %node, "peer disconnected");
                    self.peers.set_connected(node, false, now());
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for address in info.listen_addrs {
                    if is_dialable(&address) {
                        self.swarm
                            .behaviour_mut()
                            .kad
                            .add_address(&peer_id, address.clone());
                        self.swarm.add_peer_address(peer_id, address);
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, address) in found {
                    self.swarm.add_peer_address(peer, address.clone());
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer, address.clone());
                    let _ = self.swarm.dial(address);
                }
            }
            _ => {}
        }
    }

    fn sync_event(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let Some(node) = node_id(&peer) else {
                    return;
                };
                self.peers.seen(node, now());
                let inbound = Inbound {
                    peer: node,
                    request,
                    channel,
                };
                if let Err(mpsc::error::TrySendError::Full(inbound)) =
                    self.inbound.try_send(inbound)
                {
                    // Too much work queued: the peer hears so and tries again later.
                    let _ = self.swarm.behaviour_mut().sync.send_response(
                        inbound.channel,
                        Response::Refused {
                            reason: "busy: too many requests queued".into(),
                        },
                    );
                }
            }
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(NetError::Request {
                        peer: node_id(&peer).unwrap_or_else(|| self.peers.me()),
                        reason: error.to_string(),
                    }));
                }
            }
            Event::InboundFailure { peer, error, .. } => {
                // Unreadable requests arrive as requests (see the codec); what is left are
                // streams that broke off or timed out.
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            Event::ResponseSent { .. } => {}
        }
    }
}

/// Whether an address another node reports is worth dialing (not a wildcard).
fn is_dialable(address: &Multiaddr) -> bool {
    use libp2p::multiaddr::Protocol;
    !address.iter().any(|p| match p {
        Protocol::Ip4(ip) => ip.is_unspecified(),
        Protocol::Ip6(ip) => ip.is_unspecified(),
        _ => false,
    })
}

/// Parses a multiaddr, with the peer id of a trailing `/p2p/ID` if present.
pub fn parse_peer_address(text: &str) -> Result<(Option<PeerId>, Multiaddr), NetError> {
    use libp2p::multiaddr::Protocol;
    let address: Multiaddr = text.parse().map_err(|_| NetError::Address(text.into()))?;
    let peer = address.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    });
    Ok((peer, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_id_is_the_libp2p_peer_id() {
        let key = NodeKey::from_bytes(&[1; 32]);
        let libp2p = keypair(&key).expect("keypair").public().to_peer_id();
        assert_eq!(libp2p.to_string(), key.id().to_string());
        assert_eq!(peer_id(&key.id()), libp2p);
        assert_eq!(node_id(&libp2p), Some(key.id()));
        let (peer, address) =
            parse_peer_address(&format!("/ip4/127.0.0.1/tcp/4001/p2p/{libp2p}")).expect("address");
        assert_eq!(peer, Some(libp2p));
        assert_eq!(
            address.to_string(),
            format!("/ip4/127.0.0.1/tcp/4001/p2p/{libp2p}")
        );
        assert!(matches!(
            parse_peer_address("127.0.0.1:4001"),
            Err(NetError::Address(_))
        ));
    }
}
