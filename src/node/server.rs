//! Running a node: open the store, load the scenarios folder, build engine, authentication
//! and the API router, serve HTTP with `axum::serve`, run the timer loop, and stop
//! gracefully on SIGINT/SIGTERM (stop accepting, finish the requests in flight, stop the
//! timer loop, let the committer write what is queued, exit 0).

use super::config::{Config, LogFormat, P2pConfig, StorageKind};
use super::identity::{self, KeyFileError};
use crate::api::auth::{Auth, AuthError};
use crate::api::{self, AppState};
use crate::chain::{NodeId, NodeKey};
use crate::engine::timers;
use crate::engine::Appended;
use crate::engine::{Engine, EngineError};
use crate::net::sync::{Replicator, SyncSettings};
use crate::net::{self, BookEntry, NetError, Network, Peers, SwarmSettings};
use crate::schema::{SchemaError, SchemaRegistry, ValidationError};
use crate::services::Services;
use crate::store::{self, MemoryStore, RedbStore, Store};
use axum::serve::ListenerExt;
use axum::Router;
use std::collections::BTreeSet;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// How long requests in flight may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store cannot be opened (or has a newer format version).
    #[error("cannot open the {kind} store in {}: {source}{}", .path.display(), store_hint(.source))]
    Store {
        /// The backend.
        kind: StorageKind,
        /// The data folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: store::Error,
    },
    /// The local schemas cannot be loaded.
    #[error("schemas folder {}: {source}", .path.display())]
    Schemas {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: SchemaError,
    },
    /// Files of the scenarios folder cannot be loaded; the node does not start.
    #[error("the scenarios folder {} has {} invalid file(s); the node does not start:\n{}", .folder.display(), .problems.len(), Problems(.problems))]
    Scenarios {
        /// The folder.
        folder: PathBuf,
        /// What is wrong, per file.
        problems: Vec<ScenarioProblem>,
    },
    /// The authentication settings are unusable (no JWT key in production, a bad key or
    /// privilege).
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    /// The engine failed while starting (storing scenarios, firing due timers).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The HTTP address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The node key cannot be read or created.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The network cannot start.
    #[error("peer-to-peer: {0}")]
    Net(#[from] NetError),
    /// The HTTP server failed.
    #[error("HTTP server: {0}")]
    Http(#[source] std::io::Error),
    /// A configured service cannot be set up.
    #[error(transparent)]
    Services(#[from] crate::services::StartError),
    /// The async runtime cannot be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

fn store_hint(e: &store::Error) -> &'static str {
    match e {
        store::Error::Redb(inner) if matches!(**inner, ::redb::Error::DatabaseAlreadyOpen) => {
            " (is another node running on this data folder?)"
        }
        _ => "",
    }
}

/// One scenario file that cannot be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioProblem {
    /// The file.
    pub file: PathBuf,
    /// What is wrong (one line per problem).
    pub message: String,
}

struct Problems<'a>(&'a [ScenarioProblem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  {}: {}", p.file.display(), p.message)?;
        }
        Ok(())
    }
}

/// A node, built and ready to serve.
pub struct Node {
    engine: Arc<Engine>,
    state: AppState,
    timer_interval: Duration,
    scenarios: usize,
    key: Arc<NodeKey>,
    peers: Arc<Peers>,
    p2p: P2pConfig,
    appended: Option<tokio::sync::mpsc::Receiver<Appended>>,
    services: Arc<Services>,
}

/// How long deliveries to services in flight may take to finish after a shutdown signal
/// (an unfinished one is delivered again after a restart).
const SERVICES_GRACE: Duration = Duration::from_secs(5);

/// Events committed but not yet handed to the network, at most (beyond, the head exchange
/// delivers them).
const DELIVERY_QUEUE: usize = 4096;

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("settings", &self.state.settings)
            .field("scenarios", &self.scenarios)
            .finish_non_exhaustive()
    }
}

/// Opens the store the configuration names.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServeError> {
    let failed = |source| ServeError::Store {
        kind: config.storage,
        path: config.data.clone(),
        source,
    };
    Ok(match config.storage {
        StorageKind::Redb => Arc::new(RedbStore::open(&config.data).map_err(failed)?),
        #[cfg(feature = "sled")]
        StorageKind::Sled => Arc::new(store::SledStore::open(&config.data).map_err(failed)?),
        #[cfg(not(feature = "sled"))]
        StorageKind::Sled => {
            return Err(failed(store::Error::Io(std::io::Error::other(
                "this build has no sled backend (build with --features sled)",
            ))))
        }
        StorageKind::Memory => Arc::new(MemoryStore::new()),
    })
}

/// The local schemas of the configured schemas folder.
pub fn open_registry(config: &Config) -> Result<SchemaRegistry, ServeError> {
    let mut registry = SchemaRegistry::new();
    if let Some(dir) = &config.schemas {
        registry
            .load_dir(dir)
            .map_err(|source| ServeError::Schemas {
                path: dir.clone(),
                source,
            })?;
    }
    Ok(registry)
}

/// Loads every scenario file (`*.yaml`, `*.yml`, `*.json`) of `folder` into the engine, in
/// name order, and disables stored scenarios that are not in the folder (scenarios come only
/// from the folder; running processes of a disabled scenario keep working). All invalid
/// files are reported together. Returns the ids of the folder's scenarios.
pub fn load_scenarios(engine: &Engine, folder: &Path) -> Result<BTreeSet<String>, ServeError> {
    let failed = |message: String| ServeError::Scenarios {
        folder: folder.to_path_buf(),
        problems: vec![ScenarioProblem {
            file: folder.to_path_buf(),
            message,
        }],
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| failed(format!("cannot read the folder: {e}")))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && crate::scenario::Format::from_path(path).is_some())
        .collect();
    files.sort();

    let now = timers::now();
    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for file in files {
        let raw = match crate::scenario::load_file(&file) {
            Ok(raw) => raw,
            Err(e) => {
                // The load error names the file itself; keep the message without it.
                let message = match e {
                    crate::scenario::LoadError::InFile { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                problems.push(ScenarioProblem { file, message });
                continue;
            }
        };
        match engine.add_scenario(&raw, now) {
            Ok((id, created)) => {
                tracing::info!(file = %file.display(), %id, new = created, "scenario loaded");
                ids.insert(id);
            }
            Err(EngineError::InvalidScenario(errors)) => {
                let message = errors
                    .iter()
                    .map(ValidationError::located)
                    .collect::<Vec<_>>()
                    .join("; ");
                problems.push(ScenarioProblem { file, message });
            }
            Err(e @ (EngineError::Scenario(_) | EngineError::Process(_))) => {
                problems.push(ScenarioProblem {
                    file,
                    message: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !problems.is_empty() {
        return Err(ServeError::Scenarios {
            folder: folder.to_path_buf(),
            problems,
        });
    }
    for record in engine.scenarios()? {
        if !record.disabled && !ids.contains(&record.id) {
            engine.disable_scenario(&record.id)?;
            tracing::info!(id = %record.id, "scenario not in the folder: disabled");
        }
    }
    Ok(ids)
}

impl Node {
    /// Builds a node from its configuration: opens the store, loads the local schemas and
    /// the scenarios folder, starts the engine (with group commit) and authentication.
    pub fn build(config: &Config) -> Result<Node, ServeError> {
        let store = open_store(config)?;
        let registry = open_registry(config)?;
        let key = Arc::new(match config.storage {
            // A memory store keeps nothing, so neither does its identity.
            StorageKind::Memory => identity::generate(),
            _ => identity::load_or_create(&config.data)?.0,
        });
        let (delivery, appended) = tokio::sync::mpsc::channel(DELIVERY_QUEUE);
        let engine = Arc::new(
            Engine::with_group_commit(store.clone(), registry, config.commit)?
                .with_cache_capacity(config.cache_processes)
                .with_key(key.clone())
                .with_delivery(delivery),
        );
        let book = config
            .p2p
            .book
            .iter()
            .filter_map(|(name, id, addresses)| {
                Some(BookEntry {
                    name: name.clone(),
                    id: id.parse::<NodeId>().ok()?,
                    addresses: addresses.clone(),
                })
            })
            .collect();
        let peers = Arc::new(Peers::new(key.id(), &config.name, book));
        let scenarios = match &config.scenarios {
            Some(folder) => load_scenarios(&engine, folder)?.len(),
            None => 0,
        };
        let services = Arc::new(Services::new(engine.clone(), &config.services)?);
        let auth = Auth::new(config.auth.clone(), config.dev, store)?;
        let state = AppState {
            engine: engine.clone(),
            auth: Arc::new(auth),
            settings: Arc::new(config.api_settings()),
            network: Some(peers.clone()),
        };
        Ok(Node {
            engine,
            state,
            timer_interval: config.timer_interval,
            scenarios,
            key,
            peers,
            p2p: config.p2p.clone(),
            appended: Some(appended),
            services,
        })
    }

    /// Builds the swarm (listening) and returns the tasks that run it and the replication,
    /// until `stop` turns true.
    fn start_network(
        &mut self,
        stop: &watch::Receiver<bool>,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, ServeError> {
        let parse = |list: &[String]| -> Result<Vec<_>, NetError> {
            list.iter()
                .map(|a| net::swarm::parse_peer_address(a))
                .collect()
        };
        let mut connect = parse(&self.p2p.connect)?;
        for entry in self.peers.book() {
            for address in &entry.addresses {
                let (_, address) = net::swarm::parse_peer_address(address)?;
                connect.push((Some(net::swarm::peer_id(&entry.id)), address));
            }
        }
        let mut settings = SwarmSettings {
            listen: parse(&self.p2p.listen)?
                .into_iter()
                .map(|(_, a)| a)
                .collect(),
            peers: connect,
            mdns: self.p2p.mdns,
            request_timeout: Duration::from_secs(30),
        };
        let built = match Network::build(&self.key, settings.clone(), self.peers.clone()) {
            Err(NetError::Transport(reason)) if self.p2p.listen_default => {
                // The default port is taken (another node on this machine): any port will do
                // for a node nobody was told the address of.
                tracing::warn!(%reason, "default p2p address not available; listening on a random port");
                settings.listen = vec!["/ip4/127.0.0.1/tcp/0"
                    .parse()
                    .map_err(|_| NetError::Address("/ip4/127.0.0.1/tcp/0".into()))?];
                Network::build(&self.key, settings, self.peers.clone())?
            }
            other => other?,
        };
        let (network, client, inbound) = built;
        let replicator = Replicator::new(
            self.engine.clone(),
            client,
            self.peers.clone(),
            self.key.clone(),
            SyncSettings {
                interval: self.p2p.sync_interval,
                max_skew_ms: self.p2p.max_clock_skew.as_millis() as i64,
                ..SyncSettings::default()
            },
        );
        let mut tasks = vec![tokio::spawn(network.run(stop.clone()))];
        if let Some(appended) = self.appended.take() {
            tasks.push(tokio::spawn(replicator.run(
                appended,
                inbound,
                stop.clone(),
            )));
        }
        Ok(tasks)
    }

    /// This node's id.
    pub fn node_id(&self) -> NodeId {
        self.key.id()
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The API state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The HTTP routes: the API (with `GET /health`).
    pub fn router(&self) -> Router {
        api::router(self.state.clone())
    }

    /// Serves HTTP on `listener` and runs the timer loop until `shutdown` completes; then
    /// stops accepting, lets the requests in flight finish (for at most
    /// [`SHUTDOWN_GRACE`]), and stops the timer loop.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let (stop_timers, timers_stopped) = watch::channel(false);
        let network = self.start_network(&timers_stopped)?;
        let services_task = tokio::spawn(
            self.services
                .clone()
                .run(timers_stopped.clone(), SERVICES_GRACE),
        );
        let timer_task = tokio::spawn(timers::run(
            self.engine.clone(),
            self.timer_interval,
            timers_stopped,
        ));
        let signalled = Arc::new(Notify::new());
        let notify = signalled.clone();
        // Small JSON answers: send them at once rather than wait for the client's ACK
        // (Nagle's algorithm would add up to 40 ms to an answer written in two pieces).
        let listener = listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections, finishing requests in flight");
            notify.notify_one();
        });
        let served = tokio::select! {
            result = server.into_future() => result.map_err(ServeError::Http),
            () = async {
                signalled.notified().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still in flight after the grace period; stopping anyway");
                Ok(())
            }
        };
        // Ignored: the timer loop may have stopped already.
        let _ = stop_timers.send(true);
        if let Err(e) = timer_task.await {
            tracing::error!(error = %e, "the timer loop failed");
        }
        if let Err(e) = services_task.await {
            tracing::error!(error = %e, "the services loop failed");
        }
        for task in network {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a network task failed");
            }
        }
        served
    }
}

/// Sets up logging: `config.log` as the filter, text or JSON lines on stderr. Does nothing
/// when logging is already set up (a node started inside another program).
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // Ignored: a subscriber set up before (by an embedding program) stays.
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}

/// Runs a node with `config` until SIGINT/SIGTERM: sets up logging, builds the node, binds
/// the HTTP address, prints `letsflow listening on http://ADDR` on stdout, and serves.
pub fn run(config: Config) -> Result<(), ServeError> {
    init_logging(&config);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("letsflow")
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let node = tokio::task::block_in_place(|| Node::build(&config))?;
        let listener = TcpListener::bind(config.http)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.http,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: config.http,
            source,
        })?;
        tracing::info!(
            %addr,
            node = %node.node_id(),
            name = %config.name,
            dev = config.dev,
            storage = %config.storage,
            data = %config.data.display(),
            scenarios = node.scenarios,
            services = ?node.services.names(),
            read_only = config.scenarios.is_some(),
            "node started"
        );
        if config.dev {
            tracing::warn!("development mode: demo accounts are served at /demo-accounts; do not use in production");
        }
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // Ignored: a closed stdout must not stop the node.
            let _ = writeln!(out, "letsflow listening on http://{addr}").and_then(|()| out.flush());
        }
        node.serve(listener, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::config::{Env, Flags};
    use serde_json::{json, Value};

    const GOOD: &str = "actors:\n  user: {}\nactions:\n  go:\n    actor: user\nstates:\n  initial:\n    on: go\n    goto: (done)\n";

    fn engine() -> Engine {
        Engine::new(Arc::new(MemoryStore::new()), SchemaRegistry::new())
    }

    #[test]
    fn invalid_scenario_files_are_all_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a-good.yaml"), GOOD).expect("write");
        std::fs::write(dir.path().join("b-syntax.yaml"), "states: [\n").expect("write");
        std::fs::write(
            dir.path().join("c-invalid.json"),
            r#"{"states": {"initial": {"on": "go", "goto": "nowhere"}}}"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("notes.txt"), "not a scenario").expect("write");
        let err = load_scenarios(&engine(), dir.path()).expect_err("invalid files");
        let ServeError::Scenarios { problems, .. } = &err else {
            panic!("{err:?}");
        };
        let files: Vec<_> = problems
            .iter()
            .map(|p| p.file.file_name().and_then(|f| f.to_str()).unwrap_or(""))
            .collect();
        assert_eq!(files, ["b-syntax.yaml", "c-invalid.json"]);
        assert!(
            problems[0].message.starts_with("invalid YAML at line 2"),
            "{}",
            problems[0].message
        );
        let text = err.to_string();
        assert!(
            text.contains("has 2 invalid file(s); the node does not start:\n  "),
            "{text}"
        );
        assert!(text.contains("c-invalid.json: /"), "{text}");
    }

    #[test]
    fn only_the_folder_scenarios_stay_enabled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = engine();
        let old = crate::scenario::yaml::from_yaml(&GOOD.replace("(done)", "(old)")).expect("yaml");
        let (old_id, _) = engine.add_scenario(&old, timers::now()).expect("add");
        std::fs::write(dir.path().join("good.yml"), GOOD).expect("write");
        let ids = load_scenarios(&engine, dir.path()).expect("load");
        assert_eq!(ids.len(), 1);
        let records = engine.store().scenarios().expect("scenarios");
        for record in records {
            assert_eq!(record.disabled, record.id == old_id, "{}", record.id);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serves_until_shutdown_then_stops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let env: Env = [
            ("LETSFLOW_DATA", dir.path().to_str().expect("utf-8")),
            ("LETSFLOW_HTTP", "127.0.0.1:0"),
            ("LETSFLOW_SCENARIOS", ""),
            ("LETSFLOW_SCHEMAS", ""),
        ]
        .into_iter()
        .collect();
        let config = Config::load(&Flags::default(), &env).expect("config");
        let node = Node::build(&config).expect("node");
        let listener = TcpListener::bind(config.http).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(node.serve(listener, async move {
            let _ = stopped.await;
        }));
        let body: Value = reqwest::get(format!("http://{addr}/health"))
            .await
            .expect("health")
            .json()
            .await
            .expect("json");
        assert_eq!(body, json!({"status": "ok"}));
        stop.send(()).expect("stop");
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("stops")
            .expect("task")
            .expect("serve");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }
}
