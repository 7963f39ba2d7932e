//! The node configuration: one file (YAML or TOML, by extension) plus an environment
//! variable for every setting, with sane defaults so that `letsflow serve` alone starts a
//! working single node in development mode (DESIGN "Configuration").
//!
//! Precedence, per setting: command-line flag > environment variable > config file >
//! default. Everything is checked when the node starts ([`Config::load`]); a message names
//! the setting and where its value came from (`--http`, `LETSFLOW_HTTP`,
//! `letsflow.yaml: http`). Unknown keys in the file are errors naming the key; unknown
//! `LETSFLOW_*` variables are warnings. `docs/config.md` lists every setting.

use crate::api::auth::{AuthConfig, JwtConfig};
use crate::api::ApiSettings;
use crate::engine::GroupCommit;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Config files looked for in the current folder when none is named.
pub const DEFAULT_FILES: [&str; 3] = ["letsflow.yaml", "letsflow.yml", "letsflow.toml"];

/// Where a setting's value came from; shown in error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, like `--http`.
    Flag(&'static str),
    /// An environment variable, like `LETSFLOW_HTTP`.
    Env(&'static str),
    /// A key of the config file, like `auth.jwt.secret`.
    File {
        /// The file.
        path: PathBuf,
        /// The key, dotted.
        key: String,
    },
    /// The built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::Env(var) => write!(f, "{var}"),
            Source::File { path, key } => write!(f, "{}: {key}", path.display()),
            Source::Default => write!(f, "default"),
        }
    }
}

/// Why the configuration cannot be used. Each message names the setting and its source.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read the config file {}: {source}", .path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The config file's extension is not `.yaml`, `.yml`, `.toml` or `.json`.
    #[error("config file {}: unknown format; use .yaml, .yml or .toml", .path.display())]
    FileFormat {
        /// The file.
        path: PathBuf,
    },
    /// The config file is not valid YAML/TOML, or not a map of settings.
    #[error("config file {}: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The config file has a key that is not a setting.
    #[error("config file {}: unknown key '{key}' (known keys{}: {})", .path.display(), in_section(.key), .known.join(", "))]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The unknown key, dotted (`auth.jwt.secrt`).
        key: String,
        /// The keys allowed where it stands.
        known: Vec<&'static str>,
    },
    /// A value that does not fit its setting.
    #[error("invalid {setting} {value} (from {from}): {expected}")]
    Invalid {
        /// The setting, in words (`HTTP address`, `storage`, …).
        setting: &'static str,
        /// The value as given, quoted.
        value: String,
        /// Where it came from.
        from: Source,
        /// What is expected instead.
        expected: String,
    },
    /// A folder that cannot be used.
    #[error("{what} {} (from {from}): {problem}", .path.display())]
    Folder {
        /// `data folder`, `scenarios folder`, `schemas folder`.
        what: &'static str,
        /// The folder.
        path: PathBuf,
        /// Where it came from.
        from: Source,
        /// What is wrong with it.
        problem: String,
    },
    /// The settings do not fit together.
    #[error("{0}")]
    Conflict(String),
    /// A service setting (`services.NAME.…`) cannot be used.
    #[error(transparent)]
    Service(#[from] crate::services::config::ConfigError),
}

fn in_section(key: &str) -> String {
    match key.rfind('.') {
        Some(i) => format!(" of {}", &key[..i]),
        None => String::new(),
    }
}

/// Result with [`ConfigError`].
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// The storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// redb, the default: crash-safe, durable commits.
    Redb,
    /// sled (cargo feature `sled`).
    Sled,
    /// In memory only: everything is lost when the node stops.
    Memory,
}

impl StorageKind {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "redb" => Some(StorageKind::Redb),
            "sled" => Some(StorageKind::Sled),
            "memory" => Some(StorageKind::Memory),
            _ => None,
        }
    }
}

impl fmt::Display for StorageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageKind::Redb => "redb",
            StorageKind::Sled => "sled",
            StorageKind::Memory => "memory",
        })
    }
}

/// The format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// The checked configuration of a node.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    /// The data folder (the store lives here). Default `./data`.
    pub data: PathBuf,
    /// The HTTP listen address. Default `127.0.0.1:8080`.
    pub http: SocketAddr,
    /// The scenarios folder: when set, scenarios come only from it (read-only mode).
    /// Default `./scenarios` when that folder exists.
    pub scenarios: Option<PathBuf>,
    /// The folder of local JSON schemas. Default `./schemas` when that folder exists.
    pub schemas: Option<PathBuf>,
    /// Development mode (demo accounts). Default: on unless a JWT key is configured.
    pub dev: bool,
    /// The storage backend. Default redb.
    pub storage: StorageKind,
    /// The largest request body, in bytes. Default 1 MiB.
    pub body_limit: usize,
    /// The largest YAML request body, in bytes (YAML costs far more to parse than JSON).
    /// Default 128 KiB, and never more than `body_limit`.
    pub yaml_body_limit: usize,
    /// The node's name (shown by `GET /info`). Default `letsflow`.
    pub name: String,
    /// The log filter (`tracing_subscriber::EnvFilter` syntax). Default `info`.
    pub log: String,
    /// The log format. Default text.
    pub log_format: LogFormat,
    /// The timer loop looks at least this often. Default 5 s.
    pub timer_interval: Duration,
    /// Group commit settings.
    pub commit: GroupCommit,
    /// Processes kept loaded in memory at most. Default 10,000.
    pub cache_processes: usize,
    /// Browser origins allowed to call the API (CORS); `*` for any. Default none.
    pub cors_origins: Vec<String>,
    /// Authentication.
    pub auth: AuthConfig,
    /// Peer-to-peer settings.
    pub p2p: P2pConfig,
    /// The services notified by processes (`services:`, `LETSFLOW_SERVICES`). Default none.
    pub services: Vec<crate::services::config::ServiceConfig>,
    /// Things worth a warning that do not stop the node (unknown `LETSFLOW_*` variables).
    pub warnings: Vec<String>,
}

impl Config {
    /// The API settings that follow from this configuration.
    pub fn api_settings(&self) -> ApiSettings {
        ApiSettings {
            name: self.name.clone(),
            dev: self.dev,
            read_only_scenarios: self.scenarios.is_some(),
            body_limit: self.body_limit,
            yaml_body_limit: self.yaml_body_limit,
            cors_origins: self.cors_origins.clone(),
        }
    }
}

/// Peer-to-peer settings (`docs/config.md`, "Peer-to-peer").
#[derive(Debug, Clone, PartialEq)]
pub struct P2pConfig {
    /// Multiaddrs to listen on. Default `/ip4/127.0.0.1/tcp/4001` (a random port when 4001
    /// is taken).
    pub listen: Vec<String>,
    /// Whether `listen` is the default (then a taken port falls back to a random one).
    pub listen_default: bool,
    /// Peers to connect to and keep connected (multiaddrs, with `/p2p/ID` to know who).
    pub connect: Vec<String>,
    /// The address book: name → node id and addresses. Users may write the name wherever
    /// a node is named.
    pub book: Vec<(String, String, Vec<String>)>,
    /// Local network discovery. Default off.
    pub mdns: bool,
    /// Heads are exchanged this often. Default 5 s.
    pub sync_interval: Duration,
    /// How far a received event may be ahead of this node's clock. Default 30 s.
    pub max_clock_skew: Duration,
}

/// The default p2p listen address.
pub const DEFAULT_LISTEN: &str = "/ip4/127.0.0.1/tcp/4001";

/// The command-line flags of `letsflow serve` that override settings.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--data DIR`.
    pub data: Option<PathBuf>,
    /// `--http ADDR`.
    pub http: Option<String>,
    /// `--scenarios DIR` (empty: no folder).
    pub scenarios: Option<PathBuf>,
    /// `--schemas DIR` (empty: no folder).
    pub schemas: Option<PathBuf>,
    /// `--dev`.
    pub dev: bool,
    /// `--listen MULTIADDR` (repeatable).
    pub listen: Vec<String>,
    /// `--peer MULTIADDR` (repeatable).
    pub peers: Vec<String>,
    /// `--mdns`.
    pub mdns: bool,
}

/// Environment variables: name → value. [`Env::from_process`] takes the `LETSFLOW_*` ones
/// of this process; tests build their own.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The `LETSFLOW_*` variables of this process (values that are not UTF-8 are skipped).
    pub fn from_process() -> Self {
        Env(std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with("LETSFLOW_"))
            .collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// These variables with `name` set to `value`.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_string(), value.to_string());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Env(iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect())
    }
}

/// The environment variable of each setting.
pub mod vars {
    /// The config file.
    pub const CONFIG: &str = "LETSFLOW_CONFIG";
    /// The data folder.
    pub const DATA: &str = "LETSFLOW_DATA";
    /// The HTTP listen address.
    pub const HTTP: &str = "LETSFLOW_HTTP";
    /// The scenarios folder (empty: none).
    pub const SCENARIOS: &str = "LETSFLOW_SCENARIOS";
    /// The local schemas folder (empty: none).
    pub const SCHEMAS: &str = "LETSFLOW_SCHEMAS";
    /// Development mode (`true`/`false`).
    pub const DEV: &str = "LETSFLOW_DEV";
    /// `redb`, `sled` or `memory`.
    pub const STORAGE: &str = "LETSFLOW_STORAGE";
    /// The largest request body (`1048576`, `512kb`, `2mb`).
    pub const BODY_LIMIT: &str = "LETSFLOW_BODY_LIMIT";
    /// The largest YAML request body (`131072`, `128kb`).
    pub const YAML_BODY_LIMIT: &str = "LETSFLOW_YAML_BODY_LIMIT";
    /// The node name.
    pub const NAME: &str = "LETSFLOW_NAME";
    /// The log filter.
    pub const LOG: &str = "LETSFLOW_LOG";
    /// `text` or `json`.
    pub const LOG_FORMAT: &str = "LETSFLOW_LOG_FORMAT";
    /// The longest sleep of the timer loop (`5`, `30 seconds`, `1m`).
    pub const TIMER_INTERVAL: &str = "LETSFLOW_TIMER_INTERVAL";
    /// Group commit: batches waiting at most.
    pub const COMMIT_QUEUE: &str = "LETSFLOW_COMMIT_QUEUE";
    /// Group commit: batches in one transaction at most.
    pub const COMMIT_MAX_GROUP: &str = "LETSFLOW_COMMIT_MAX_GROUP";
    /// Processes kept loaded in memory at most.
    pub const CACHE_PROCESSES: &str = "LETSFLOW_CACHE_PROCESSES";
    /// Browser origins allowed to call the API, comma-separated.
    pub const CORS_ORIGINS: &str = "LETSFLOW_CORS_ORIGINS";
    /// HS256 secret.
    pub const AUTH_JWT_SECRET: &str = "LETSFLOW_AUTH_JWT_SECRET";
    /// RS256/EdDSA public key: PEM text, or the path of a PEM file.
    pub const AUTH_JWT_PUBLIC_KEY: &str = "LETSFLOW_AUTH_JWT_PUBLIC_KEY";
    /// Required `iss`.
    pub const AUTH_JWT_ISSUER: &str = "LETSFLOW_AUTH_JWT_ISSUER";
    /// JMESPath transform of the claims.
    pub const AUTH_JWT_TRANSFORM: &str = "LETSFLOW_AUTH_JWT_TRANSFORM";
    /// Whether a production node refuses JWTs without `exp` (`true`/`false`).
    pub const AUTH_JWT_REQUIRE_EXPIRY: &str = "LETSFLOW_AUTH_JWT_REQUIRE_EXPIRY";
    /// Role → privileges, as a JSON object.
    pub const AUTH_ROLES: &str = "LETSFLOW_AUTH_ROLES";
    /// Privileges of every user, comma-separated.
    pub const AUTH_DEFAULT_PRIVILEGES: &str = "LETSFLOW_AUTH_DEFAULT_PRIVILEGES";

    /// p2p listen multiaddrs, comma-separated.
    pub const LISTEN: &str = "LETSFLOW_LISTEN";
    /// Peers to connect to (multiaddrs), comma-separated.
    pub const PEER: &str = "LETSFLOW_PEER";
    /// The address book, as a JSON object `{name: {id, addresses}}`.
    pub const PEERS: &str = "LETSFLOW_PEERS";
    /// mDNS discovery on the local network.
    pub const MDNS: &str = "LETSFLOW_MDNS";
    /// How often heads are exchanged with peers.
    pub const SYNC_INTERVAL: &str = "LETSFLOW_SYNC_INTERVAL";
    /// How far a received event may be ahead of this node's clock.
    pub const MAX_CLOCK_SKEW: &str = "LETSFLOW_MAX_CLOCK_SKEW";
    /// `services` (a JSON map of service name to settings).
    pub const SERVICES: &str = "LETSFLOW_SERVICES";

    /// Every variable of the node configuration.
    pub const ALL: [&str; 31] = [
        CONFIG,
        DATA,
        HTTP,
        SCENARIOS,
        SCHEMAS,
        DEV,
        STORAGE,
        BODY_LIMIT,
        YAML_BODY_LIMIT,
        NAME,
        LOG,
        LOG_FORMAT,
        TIMER_INTERVAL,
        COMMIT_QUEUE,
        COMMIT_MAX_GROUP,
        CACHE_PROCESSES,
        CORS_ORIGINS,
        AUTH_JWT_SECRET,
        AUTH_JWT_PUBLIC_KEY,
        AUTH_JWT_ISSUER,
        AUTH_JWT_TRANSFORM,
        AUTH_JWT_REQUIRE_EXPIRY,
        AUTH_ROLES,
        AUTH_DEFAULT_PRIVILEGES,
        LISTEN,
        PEER,
        PEERS,
        MDNS,
        SYNC_INTERVAL,
        MAX_CLOCK_SKEW,
        SERVICES,
    ];

    /// `LETSFLOW_*` variables read by other parts of the program (not warned about).
    pub const OTHERS: [&str; 3] = [
        "LETSFLOW_SCENARIO_PATH",
        "LETSFLOW_SHARED_DIR",
        "LETSFLOW_STORE_CRASH_DIR",
    ];
}

// --- layers ---------------------------------------------------------------------------------

/// A value and where it came from.
#[derive(Debug, Clone)]
struct Sourced<T> {
    value: T,
    source: Source,
}

/// The settings one source gives (flags, environment or file); `None`: not given there.
/// Values stay text where checking them needs to name the source.
#[derive(Debug, Default)]
struct Layer {
    data: Option<Sourced<PathBuf>>,
    http: Option<Sourced<String>>,
    scenarios: Option<Sourced<PathBuf>>,
    schemas: Option<Sourced<PathBuf>>,
    dev: Option<Sourced<String>>,
    storage: Option<Sourced<String>>,
    body_limit: Option<Sourced<String>>,
    yaml_body_limit: Option<Sourced<String>>,
    name: Option<Sourced<String>>,
    log: Option<Sourced<String>>,
    log_format: Option<Sourced<String>>,
    timer_interval: Option<Sourced<Value>>,
    commit_queue: Option<Sourced<String>>,
    commit_max_group: Option<Sourced<String>>,
    cache_processes: Option<Sourced<String>>,
    cors_origins: Option<Sourced<Value>>,
    jwt_secret: Option<Sourced<String>>,
    jwt_public_key: Option<Sourced<String>>,
    jwt_issuer: Option<Sourced<String>>,
    jwt_transform: Option<Sourced<String>>,
    jwt_require_expiry: Option<Sourced<String>>,
    roles: Option<Sourced<Value>>,
    default_privileges: Option<Sourced<Value>>,
    listen: Option<Sourced<Value>>,
    connect: Option<Sourced<Value>>,
    book: Option<Sourced<Value>>,
    mdns: Option<Sourced<String>>,
    sync_interval: Option<Sourced<Value>>,
    clock_skew: Option<Sourced<Value>>,
    services: Option<Sourced<Value>>,
}

impl Layer {
    /// This layer, with the settings it lacks taken from `lower`.
    fn over(self, lower: Layer) -> Layer {
        Layer {
            data: self.data.or(lower.data),
            http: self.http.or(lower.http),
            scenarios: self.scenarios.or(lower.scenarios),
            schemas: self.schemas.or(lower.schemas),
            dev: self.dev.or(lower.dev),
            storage: self.storage.or(lower.storage),
            body_limit: self.body_limit.or(lower.body_limit),
            yaml_body_limit: self.yaml_body_limit.or(lower.yaml_body_limit),
            name: self.name.or(lower.name),
            log: self.log.or(lower.log),
            log_format: self.log_format.or(lower.log_format),
            timer_interval: self.timer_interval.or(lower.timer_interval),
            commit_queue: self.commit_queue.or(lower.commit_queue),
            commit_max_group: self.commit_max_group.or(lower.commit_max_group),
            cache_processes: self.cache_processes.or(lower.cache_processes),
            cors_origins: self.cors_origins.or(lower.cors_origins),
            jwt_secret: self.jwt_secret.or(lower.jwt_secret),
            jwt_public_key: self.jwt_public_key.or(lower.jwt_public_key),
            jwt_issuer: self.jwt_issuer.or(lower.jwt_issuer),
            jwt_transform: self.jwt_transform.or(lower.jwt_transform),
            jwt_require_expiry: self.jwt_require_expiry.or(lower.jwt_require_expiry),
            roles: self.roles.or(lower.roles),
            default_privileges: self.default_privileges.or(lower.default_privileges),
            listen: self.listen.or(lower.listen),
            connect: self.connect.or(lower.connect),
            book: self.book.or(lower.book),
            mdns: self.mdns.or(lower.mdns),
            sync_interval: self.sync_interval.or(lower.sync_interval),
            clock_skew: self.clock_skew.or(lower.clock_skew),
            services: self.services.or(lower.services),
        }
    }
}

fn flag_layer(flags: &Flags) -> Layer {
    fn at<T>(flag: &'static str) -> impl Fn(T) -> Sourced<T> {
        move |value| Sourced {
            value,
            source: Source::Flag(flag),
        }
    }
    Layer {
        data: flags.data.clone().map(at("--data")),
        http: flags.http.clone().map(at("--http")),
        scenarios: flags.scenarios.clone().map(at("--scenarios")),
        schemas: flags.schemas.clone().map(at("--schemas")),
        dev: flags.dev.then(|| "true".to_string()).map(at("--dev")),
        listen: (!flags.listen.is_empty())
            .then(|| Value::from(flags.listen.clone()))
            .map(at("--listen")),
        connect: (!flags.peers.is_empty())
            .then(|| Value::from(flags.peers.clone()))
            .map(at("--peer")),
        mdns: flags.mdns.then(|| "true".to_string()).map(at("--mdns")),
        ..Layer::default()
    }
}

fn env_layer(env: &Env) -> Layer {
    let text = |var: &'static str| {
        env.get(var).map(|value| Sourced {
            value: value.to_string(),
            source: Source::Env(var),
        })
    };
    let path = |var: &'static str| {
        text(var).map(|s| Sourced {
            value: PathBuf::from(s.value),
            source: s.source,
        })
    };
    let json = |var: &'static str, parse: fn(&str) -> Value| {
        text(var).map(|s| Sourced {
            value: parse(&s.value),
            source: s.source,
        })
    };
    Layer {
        data: path(vars::DATA),
        http: text(vars::HTTP),
        scenarios: path(vars::SCENARIOS),
        schemas: path(vars::SCHEMAS),
        dev: text(vars::DEV),
        storage: text(vars::STORAGE),
        body_limit: text(vars::BODY_LIMIT),
        yaml_body_limit: text(vars::YAML_BODY_LIMIT),
        name: text(vars::NAME),
        log: text(vars::LOG),
        log_format: text(vars::LOG_FORMAT),
        timer_interval: json(vars::TIMER_INTERVAL, |s| Value::String(s.to_string())),
        commit_queue: text(vars::COMMIT_QUEUE),
        commit_max_group: text(vars::COMMIT_MAX_GROUP),
        cache_processes: text(vars::CACHE_PROCESSES),
        jwt_secret: text(vars::AUTH_JWT_SECRET),
        jwt_public_key: text(vars::AUTH_JWT_PUBLIC_KEY),
        jwt_issuer: text(vars::AUTH_JWT_ISSUER),
        jwt_transform: text(vars::AUTH_JWT_TRANSFORM),
        jwt_require_expiry: text(vars::AUTH_JWT_REQUIRE_EXPIRY),
        // Not JSON: kept as text so that the check below names it.
        roles: json(vars::AUTH_ROLES, |s| {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
        }),
        default_privileges: json(vars::AUTH_DEFAULT_PRIVILEGES, comma_list),
        cors_origins: json(vars::CORS_ORIGINS, comma_list),
        listen: json(vars::LISTEN, comma_list),
        connect: json(vars::PEER, comma_list),
        book: json(vars::PEERS, |s| {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
        }),
        mdns: text(vars::MDNS),
        sync_interval: json(vars::SYNC_INTERVAL, |s| Value::String(s.to_string())),
        clock_skew: json(vars::MAX_CLOCK_SKEW, |s| Value::String(s.to_string())),
        // Not JSON: kept as text so that the check below names it.
        services: json(vars::SERVICES, |s| {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string()))
        }),
    }
}

/// `a, b` → `["a", "b"]`.
fn comma_list(text: &str) -> Value {
    Value::Array(
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_string()))
            .collect(),
    )
}

/// One map of the config file, whose keys are taken one by one; what is left over is unknown.
struct Section<'a> {
    path: &'a Path,
    /// The dotted key of this map (empty at the top).
    prefix: String,
    map: Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Section<'a> {
    fn new(path: &'a Path, prefix: String, value: Value) -> Result<Self> {
        let map = match value {
            Value::Object(map) => map,
            // An empty file.
            Value::Null => Map::new(),
            other => {
                let what = if prefix.is_empty() {
                    "the file".to_string()
                } else {
                    format!("'{prefix}'")
                };
                return Err(ConfigError::Syntax {
                    path: path.to_path_buf(),
                    message: format!("{what} must be a map of settings, not {}", kind(&other)),
                });
            }
        };
        Ok(Section {
            path,
            prefix,
            map,
            known: Vec::new(),
        })
    }

    fn dotted(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn source(&self, key: &str) -> Source {
        Source::File {
            path: self.path.to_path_buf(),
            key: self.dotted(key),
        }
    }

    /// The value of `key` (`null` counts as not given).
    fn value(&mut self, key: &'static str) -> Option<Sourced<Value>> {
        self.known.push(key);
        match self.map.remove(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Sourced {
                value,
                source: self.source(key),
            }),
        }
    }

    /// A scalar given as text (numbers and booleans are taken as their text).
    fn text(&mut self, key: &'static str) -> Result<Option<Sourced<String>>> {
        let Some(Sourced { value, source }) = self.value(key) else {
            return Ok(None);
        };
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(ConfigError::Invalid {
                    setting: "value",
                    value: kind(&other).to_string(),
                    from: source,
                    expected: "expected text, a number or true/false".into(),
                })
            }
        };
        Ok(Some(Sourced { value, source }))
    }

    fn path_value(&mut self, key: &'static str) -> Result<Option<Sourced<PathBuf>>> {
        Ok(self.text(key)?.map(|s| Sourced {
            value: PathBuf::from(s.value),
            source: s.source,
        }))
    }

    fn section(&mut self, key: &'static str) -> Result<Option<Section<'a>>> {
        match self.value(key) {
            None => Ok(None),
            Some(s) => Section::new(self.path, self.dotted(key), s.value).map(Some),
        }
    }

    /// Fails on the first key that was not taken.
    fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(ConfigError::UnknownKey {
                path: self.path.to_path_buf(),
                key: self.dotted(key),
                known: self.known,
            }),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Reads the config file into a layer.
fn file_layer(path: &Path) -> Result<Layer> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let syntax = |message: String| ConfigError::Syntax {
        path: path.to_path_buf(),
        message,
    };
    let doc: Value = match ext.as_deref() {
        Some("yaml" | "yml" | "json") => {
            // Through YAML's own value, which refuses a duplicate key (naming it) where a
            // JSON map would keep the last one silently.
            let yaml: yaml_serde::Value =
                yaml_serde::from_str(&text).map_err(|e| syntax(e.to_string()))?;
            serde_json::to_value(yaml).map_err(|e| syntax(e.to_string()))?
        }
        Some("toml") => {
            let table: toml::Table = toml::from_str(&text).map_err(|e| syntax(e.to_string()))?;
            serde_json::to_value(table).map_err(|e| syntax(e.to_string()))?
        }
        _ => {
            return Err(ConfigError::FileFormat {
                path: path.to_path_buf(),
            })
        }
    };
    let mut top = Section::new(path, String::new(), doc)?;
    let mut layer = Layer {
        data: top.path_value("data")?,
        http: top.text("http")?,
        scenarios: top.path_value("scenarios")?,
        schemas: top.path_value("schemas")?,
        dev: top.text("dev")?,
        storage: top.text("storage")?,
        body_limit: top.text("bodyLimit")?,
        yaml_body_limit: top.text("yamlBodyLimit")?,
        name: top.text("name")?,
        log: top.text("log")?,
        log_format: top.text("logFormat")?,
        timer_interval: top.value("timerInterval"),
        cache_processes: top.text("cacheProcesses")?,
        cors_origins: top.value("corsOrigins"),
        book: top.value("peers"),
        services: top.value("services"),
        ..Layer::default()
    };
    if let Some(mut p2p) = top.section("p2p")? {
        layer.listen = p2p.value("listen");
        layer.connect = p2p.value("connect");
        layer.mdns = p2p.text("mdns")?;
        layer.sync_interval = p2p.value("syncInterval");
        layer.clock_skew = p2p.value("maxClockSkew");
        p2p.finish()?;
    }
    if let Some(mut commit) = top.section("commit")? {
        layer.commit_queue = commit.text("queue")?;
        layer.commit_max_group = commit.text("maxGroup")?;
        commit.finish()?;
    }
    if let Some(mut auth) = top.section("auth")? {
        if let Some(mut jwt) = auth.section("jwt")? {
            layer.jwt_secret = jwt.text("secret")?;
            layer.jwt_public_key = jwt.text("publicKey")?;
            layer.jwt_issuer = jwt.text("issuer")?;
            layer.jwt_transform = jwt.text("transform")?;
            layer.jwt_require_expiry = jwt.text("requireExpiry")?;
            jwt.finish()?;
        }
        layer.roles = auth.value("roles");
        layer.default_privileges = auth.value("defaultPrivileges");
        auth.finish()?;
    }
    top.finish()?;
    Ok(layer)
}

// --- checks ---------------------------------------------------------------------------------

fn invalid(setting: &'static str, value: &str, source: &Source, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        setting,
        value: format!("'{value}'"),
        from: source.clone(),
        expected: expected.to_string(),
    }
}

fn parse_bool(s: &Sourced<String>, setting: &'static str) -> Result<bool> {
    match s.value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            setting,
            &s.value,
            &s.source,
            "expected true or false",
        )),
    }
}

fn parse_address(s: &Sourced<String>) -> Result<SocketAddr> {
    let text = s.value.trim();
    let expected = "expected HOST:PORT, like 127.0.0.1:8080 or [::1]:8080";
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // A host name (`localhost:8080`): needs a port, and must resolve.
    if !text.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
    }) {
        return Err(invalid("HTTP address", text, &s.source, expected));
    }
    match text.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| invalid("HTTP address", text, &s.source, "the host has no address")),
        Err(e) => Err(invalid(
            "HTTP address",
            text,
            &s.source,
            &format!("{expected} ({e})"),
        )),
    }
}

/// A size in bytes: a number, optionally followed by a unit (`b`, `kb`, `mb`, `gb`; 1024-based).
fn parse_size(s: &Sourced<String>, setting: &'static str) -> Result<usize> {
    let text = s.value.trim().to_ascii_lowercase();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let factor: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0 && factor > 0)
        .and_then(|n| n.checked_mul(factor))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            invalid(
                setting,
                &s.value,
                &s.source,
                "expected a size in bytes above 0, like 1048576, 512kb or 2mb",
            )
        })
}

fn parse_count(s: &Sourced<String>, setting: &'static str) -> Result<usize> {
    s.value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| {
            invalid(
                setting,
                &s.value,
                &s.source,
                "expected a whole number from 1 to 1000000",
            )
        })
}

fn parse_interval(s: &Sourced<Value>) -> Result<Duration> {
    let text = match &s.value {
        Value::String(t) => t.clone(),
        other => other.to_string(),
    };
    crate::scenario::parse_period(&s.value)
        .ok()
        .filter(|secs| *secs > 0.0 && *secs <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            invalid(
                "timer interval",
                &text,
                &s.source,
                "expected a period above 0 and at most an hour, like 5, '30 seconds' or '1 minute'",
            )
        })
}

fn parse_roles(s: &Sourced<Value>) -> Result<BTreeMap<String, Vec<String>>> {
    let expected = "expected a map of role to a list of privileges, like {\"admin\": [\"*\"]}";
    let Value::Object(map) = &s.value else {
        return Err(invalid("roles", &shown(&s.value), &s.source, expected));
    };
    map.iter()
        .map(|(role, privileges)| {
            string_list(privileges)
                .map(|p| (role.clone(), p))
                .ok_or_else(|| invalid("roles", &shown(&s.value), &s.source, expected))
        })
        .collect()
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// A list of browser origins (`scheme://host[:port]`, no path) or `*`; in a file also one
/// comma-separated string.
fn parse_origins(s: &Sourced<Value>) -> Result<Vec<String>> {
    let list = match &s.value {
        Value::String(text) => string_list(&comma_list(text)),
        other => string_list(other),
    };
    let wrong = |value: &str| {
        invalid(
            "CORS origin",
            value,
            &s.source,
            "expected * or origins like https://app.example or http://localhost:3000",
        )
    };
    let list = list.ok_or_else(|| wrong(&shown(&s.value)))?;
    for origin in &list {
        let valid = origin == "*"
            || origin.split_once("://").is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https")
                    && !host.is_empty()
                    && !host.contains(['/', ' ', '?', '#'])
            });
        if !valid {
            return Err(wrong(origin));
        }
    }
    Ok(list)
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A public key given as PEM text, or the path of a PEM file.
fn read_public_key(s: &Sourced<String>) -> Result<String> {
    if s.value.trim_start().starts_with("-----BEGIN") {
        return Ok(s.value.clone());
    }
    std::fs::read_to_string(&s.value).map_err(|e| {
        invalid(
            "JWT public key",
            &s.value,
            &s.source,
            &format!("expected PEM text or a readable PEM file ({e})"),
        )
    })
}

/// Checks that `path` is a readable folder.
fn readable_folder(what: &'static str, s: &Sourced<PathBuf>) -> Result<PathBuf> {
    let fail = |problem: String| ConfigError::Folder {
        what,
        path: s.value.clone(),
        from: s.source.clone(),
        problem,
    };
    let meta = std::fs::metadata(&s.value).map_err(|e| fail(format!("cannot read it: {e}")))?;
    if !meta.is_dir() {
        return Err(fail("not a folder".into()));
    }
    std::fs::read_dir(&s.value).map_err(|e| fail(format!("cannot read it: {e}")))?;
    Ok(s.value.clone())
}

/// Creates the data folder if needed and checks that it can be written.
fn writable_folder(s: &Sourced<PathBuf>) -> Result<PathBuf> {
    let fail = |problem: String| ConfigError::Folder {
        what: "data folder",
        path: s.value.clone(),
        from: s.source.clone(),
        problem,
    };
    if s.value.exists() && !s.value.is_dir() {
        return Err(fail("not a folder".into()));
    }
    std::fs::create_dir_all(&s.value).map_err(|e| fail(format!("cannot create it: {e}")))?;
    let probe = s.value.join(".letsflow-write-check");
    std::fs::write(&probe, b"").map_err(|e| fail(format!("cannot write in it: {e}")))?;
    // The probe is only a check; failing to remove it changes nothing.
    let _ = std::fs::remove_file(&probe);
    Ok(s.value.clone())
}

/// An optional folder: given (empty text means none) or `default` when it exists.
fn optional_folder(
    what: &'static str,
    given: Option<Sourced<PathBuf>>,
    default: PathBuf,
) -> Result<Option<PathBuf>> {
    match given {
        Some(s) if s.value.as_os_str().is_empty() => Ok(None),
        Some(s) => readable_folder(what, &s).map(Some),
        None => Ok(default.is_dir().then_some(default)),
    }
}

impl Config {
    /// Loads the configuration: `flags` over `env` over the config file (`--config`,
    /// `LETSFLOW_CONFIG`, else the first of [`DEFAULT_FILES`] that exists) over the defaults,
    /// and checks it. Relative paths are relative to the current folder. Creates the data
    /// folder when missing.
    pub fn load(flags: &Flags, env: &Env) -> Result<Config> {
        Self::load_in(flags, env, Path::new("."))
    }

    /// [`Config::load`] with the defaults (`data`, `scenarios`, `schemas`, the config files)
    /// looked for in `base` instead of the current folder.
    pub fn load_in(flags: &Flags, env: &Env, base: &Path) -> Result<Config> {
        let file = flags
            .config
            .clone()
            .or_else(|| env.get(vars::CONFIG).map(PathBuf::from))
            .or_else(|| {
                DEFAULT_FILES
                    .iter()
                    .map(|name| base.join(name))
                    .find(|p| p.is_file())
            });
        let from_file = match &file {
            Some(path) => file_layer(path)?,
            None => Layer::default(),
        };
        let layer = flag_layer(flags).over(env_layer(env)).over(from_file);
        let mut config = Self::resolve(layer, base)?;
        config.file = file;
        config.warnings = env
            .0
            .keys()
            .filter(|k| {
                k.starts_with("LETSFLOW_")
                    && !vars::ALL.contains(&k.as_str())
                    && !vars::OTHERS.contains(&k.as_str())
            })
            .map(|k| format!("unknown environment variable {k} (ignored)"))
            .collect();
        Ok(config)
    }

    fn resolve(layer: Layer, base: &Path) -> Result<Config> {
        let p2p = resolve_p2p(&layer)?;
        let services = match &layer.services {
            None => Vec::new(),
            Some(s) => {
                let origin = match &s.source {
                    Source::File { path, .. } => path.display().to_string(),
                    other => other.to_string(),
                };
                crate::services::config::parse_services(&s.value, &origin)?
            }
        };
        let storage = match &layer.storage {
            None => StorageKind::Redb,
            Some(s) => StorageKind::parse(&s.value).ok_or_else(|| {
                invalid(
                    "storage",
                    &s.value,
                    &s.source,
                    "expected redb, sled or memory",
                )
            })?,
        };
        if storage == StorageKind::Sled && !cfg!(feature = "sled") {
            let source = layer
                .storage
                .as_ref()
                .map_or(Source::Default, |s| s.source.clone());
            return Err(invalid(
                "storage",
                "sled",
                &source,
                "this build has no sled backend (build with --features sled)",
            ));
        }
        let data = layer.data.unwrap_or(Sourced {
            value: base.join("data"),
            source: Source::Default,
        });
        // The memory store writes nothing, so its data folder is not needed.
        let data = if storage == StorageKind::Memory {
            data.value
        } else {
            writable_folder(&data)?
        };
        let http = match &layer.http {
            Some(s) => parse_address(s)?,
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        let scenarios =
            optional_folder("scenarios folder", layer.scenarios, base.join("scenarios"))?;
        let schemas = optional_folder("schemas folder", layer.schemas, base.join("schemas"))?;
        let body_limit = match &layer.body_limit {
            Some(s) => parse_size(s, "body limit")?,
            None => 1024 * 1024,
        };
        let yaml_body_limit = match &layer.yaml_body_limit {
            Some(s) => parse_size(s, "YAML body limit")?,
            None => crate::api::DEFAULT_YAML_BODY_LIMIT,
        }
        .min(body_limit);
        let name = layer
            .name
            .map_or_else(|| "letsflow".to_string(), |s| s.value);
        let log = layer.log.map_or(Ok("info".to_string()), |s| {
            tracing_subscriber::EnvFilter::try_new(&s.value)
                .map(|_| s.value.clone())
                .map_err(|e| invalid("log filter", &s.value, &s.source, &e.to_string()))
        })?;
        let log_format = match &layer.log_format {
            None => LogFormat::Text,
            Some(s) => match s.value.trim().to_ascii_lowercase().as_str() {
                "text" | "pretty" | "" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => {
                    return Err(invalid(
                        "log format",
                        &s.value,
                        &s.source,
                        "expected text or json",
                    ))
                }
            },
        };
        let timer_interval = match &layer.timer_interval {
            Some(s) => parse_interval(s)?,
            None => Duration::from_secs(5),
        };
        let defaults = GroupCommit::default();
        let commit = GroupCommit {
            queue: match &layer.commit_queue {
                Some(s) => parse_count(s, "commit queue")?,
                None => defaults.queue,
            },
            max_group: match &layer.commit_max_group {
                Some(s) => parse_count(s, "commit group size")?,
                None => defaults.max_group,
            },
        };
        let cache_processes = match &layer.cache_processes {
            Some(s) => parse_count(s, "process cache size")?,
            None => crate::engine::DEFAULT_CACHE_CAPACITY,
        };
        let cors_origins = match &layer.cors_origins {
            Some(s) => parse_origins(s)?,
            None => Vec::new(),
        };

        let mut auth = AuthConfig::default();
        let public_key = layer
            .jwt_public_key
            .as_ref()
            .map(read_public_key)
            .transpose()?;
        // An empty secret is a mistake (an unset variable, a blank line), never "no secret":
        // taking it for none would quietly start a development node.
        if let Some(s) = layer
            .jwt_secret
            .as_ref()
            .filter(|s| s.value.trim().is_empty())
        {
            return Err(invalid(
                "JWT secret",
                &s.value,
                &s.source,
                "expected a secret of at least 32 bytes; an empty one is refused (leave the setting \
                 out for a development node)",
            ));
        }
        let secret = layer.jwt_secret.map(|s| s.value);
        let require_expiry = layer
            .jwt_require_expiry
            .as_ref()
            .map(|s| parse_bool(s, "JWT requireExpiry"))
            .transpose()?
            .unwrap_or(true);
        if secret.is_some() || public_key.is_some() {
            auth.jwt = Some(JwtConfig {
                secret,
                public_key,
                issuer: layer.jwt_issuer.map(|s| s.value),
                transform: layer.jwt_transform.map(|s| s.value),
                require_expiry,
            });
        } else if let Some(s) = layer.jwt_issuer.or(layer.jwt_transform) {
            return Err(ConfigError::Conflict(format!(
                "{} is set, but no JWT secret or public key is (set {} or {})",
                s.source,
                vars::AUTH_JWT_SECRET,
                vars::AUTH_JWT_PUBLIC_KEY
            )));
        }
        if let Some(s) = &layer.roles {
            auth.roles = parse_roles(s)?;
        }
        if let Some(s) = &layer.default_privileges {
            auth.default_privileges = string_list(&s.value).ok_or_else(|| {
                invalid(
                    "default privileges",
                    &shown(&s.value),
                    &s.source,
                    "expected a list of privileges, like [\"process:start\", \"process:step\"]",
                )
            })?;
        }

        let dev = match &layer.dev {
            Some(s) => parse_bool(s, "development mode")?,
            // Development mode unless the node can verify real users, and only on a loopback
            // address: reachable from other machines, a node with its public demo secret
            // would let anyone in.
            None => auth.jwt.is_none() && http.ip().is_loopback(),
        };
        if !dev && auth.jwt.is_none() && layer.dev.is_none() {
            return Err(ConfigError::Conflict(format!(
                "the HTTP address {http} is not a loopback address, so the node does not start \
                 in development mode: set {} or {} (auth.jwt.secret / auth.jwt.publicKey in the \
                 config file) to authenticate users, or pass --dev (LETSFLOW_DEV=true) to run a \
                 development node there anyway",
                vars::AUTH_JWT_SECRET,
                vars::AUTH_JWT_PUBLIC_KEY
            )));
        }
        if !dev && auth.jwt.is_none() {
            return Err(ConfigError::Conflict(format!(
                "production mode (dev off, from {}) needs a JWT secret or public key to \
                 authenticate users: set {} or {} (auth.jwt.secret / auth.jwt.publicKey in \
                 the config file), or turn development mode on",
                layer.dev.map_or(Source::Default, |s| s.source),
                vars::AUTH_JWT_SECRET,
                vars::AUTH_JWT_PUBLIC_KEY
            )));
        }

        Ok(Config {
            file: None,
            data,
            http,
            scenarios,
            schemas,
            dev,
            storage,
            body_limit,
            yaml_body_limit,
            name,
            log,
            log_format,
            timer_interval,
            commit,
            cache_processes,
            cors_origins,
            auth,
            p2p,
            services,
            warnings: Vec::new(),
        })
    }
}

/// The peer-to-peer settings of `layer`, checked.
fn resolve_p2p(layer: &Layer) -> Result<P2pConfig> {
    let addresses = |s: &Option<Sourced<Value>>, what: &'static str| -> Result<Vec<String>> {
        let Some(s) = s else { return Ok(Vec::new()) };
        let list = match &s.value {
            Value::String(text) => comma_list(text),
            other => other.clone(),
        };
        let list = string_list(&list).ok_or_else(|| {
            invalid(
                what,
                &shown(&s.value),
                &s.source,
                "expected a list of multiaddrs",
            )
        })?;
        for address in &list {
            crate::net::swarm::parse_peer_address(address)
                .map_err(|e| invalid(what, address, &s.source, &e.to_string()))?;
        }
        Ok(list)
    };
    let listen = addresses(&layer.listen, "p2p listen address")?;
    let connect = addresses(&layer.connect, "peer address")?;
    let mut book = Vec::new();
    if let Some(s) = &layer.book {
        let expected = "expected {name: {id: NODE_ID, addresses: [MULTIADDR, …]}}";
        let Value::Object(entries) = &s.value else {
            return Err(invalid(
                "address book",
                &shown(&s.value),
                &s.source,
                expected,
            ));
        };
        for (name, entry) in entries {
            let id = entry
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("address book entry", name, &s.source, expected))?;
            id.parse::<crate::chain::NodeId>()
                .map_err(|e| invalid("address book entry", name, &s.source, &e.to_string()))?;
            let list = entry
                .get("addresses")
                .cloned()
                .unwrap_or(Value::Array(vec![]));
            let list = string_list(&list)
                .ok_or_else(|| invalid("address book entry", name, &s.source, expected))?;
            for address in &list {
                crate::net::swarm::parse_peer_address(address)
                    .map_err(|e| invalid("address book entry", name, &s.source, &e.to_string()))?;
            }
            book.push((name.clone(), id.to_string(), list));
        }
    }
    let mdns = match &layer.mdns {
        Some(s) => parse_bool(s, "mDNS")?,
        None => false,
    };
    let sync_interval = match &layer.sync_interval {
        Some(s) => parse_interval(s)?,
        None => Duration::from_secs(5),
    };
    let max_clock_skew = match &layer.clock_skew {
        Some(s) => parse_interval(s)?,
        None => Duration::from_secs(30),
    };
    Ok(P2pConfig {
        listen_default: listen.is_empty(),
        listen: if listen.is_empty() {
            vec![DEFAULT_LISTEN.to_string()]
        } else {
            listen
        },
        connect,
        book,
        mdns,
        sync_interval,
        max_clock_skew,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder to load in, with files written into it.
    struct Place(tempfile::TempDir);

    impl Place {
        fn new() -> Self {
            Place(tempfile::tempdir().expect("temp dir"))
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.path().join(name)
        }
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.path(name);
            std::fs::write(&path, text).expect("write");
            path
        }
        fn folder(&self, name: &str) -> PathBuf {
            let path = self.path(name);
            std::fs::create_dir_all(&path).expect("mkdir");
            path
        }
        fn load(&self, flags: &Flags, env: &[(&str, &str)]) -> Result<Config> {
            let env: Env = env.iter().copied().collect();
            Config::load_in(flags, &env, self.0.path())
        }
        fn error(&self, flags: &Flags, env: &[(&str, &str)]) -> (ConfigError, String) {
            let e = self.load(flags, env).expect_err("an error");
            let text = e.to_string();
            (e, text)
        }
    }

    fn flags() -> Flags {
        Flags::default()
    }

    #[test]
    fn defaults_start_a_development_node() {
        let place = Place::new();
        let config = place.load(&flags(), &[]).expect("config");
        assert_eq!(config.data, place.path("data"));
        assert!(config.data.is_dir(), "the data folder is created");
        assert_eq!(config.http, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(config.scenarios, None, "no ./scenarios folder");
        assert_eq!(config.schemas, None);
        assert!(config.dev);
        assert_eq!(config.storage, StorageKind::Redb);
        assert_eq!(config.body_limit, 1024 * 1024);
        assert_eq!(config.name, "letsflow");
        assert_eq!(config.log, "info");
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.timer_interval, Duration::from_secs(5));
        assert_eq!(config.commit, GroupCommit::default());
        assert!(config.auth.jwt.is_none());
        assert_eq!(config.file, None);
        let settings = config.api_settings();
        assert!(settings.dev && !settings.read_only_scenarios);

        // ./scenarios and ./schemas are used when they exist; scenarios make it read-only.
        let scenarios = place.folder("scenarios");
        let schemas = place.folder("schemas");
        let config = place.load(&flags(), &[]).expect("config");
        assert_eq!(config.scenarios, Some(scenarios));
        assert_eq!(config.schemas, Some(schemas));
        assert!(config.api_settings().read_only_scenarios);
        // An empty value turns the folder off.
        let config = place
            .load(&flags(), &[("LETSFLOW_SCENARIOS", "")])
            .expect("config");
        assert_eq!(config.scenarios, None);
    }

    #[test]
    fn flag_over_env_over_file_over_default() {
        let place = Place::new();
        let file = place.write(
            "node.yaml",
            "http: 127.0.0.1:1001\nname: from-file\nstorage: memory\nbodyLimit: 1000\n",
        );
        let with_file = Flags {
            config: Some(file.clone()),
            ..flags()
        };
        let env = [
            ("LETSFLOW_HTTP", "127.0.0.1:1002"),
            ("LETSFLOW_NAME", "from-env"),
        ];
        let with_flag = Flags {
            http: Some("127.0.0.1:1003".into()),
            ..with_file.clone()
        };

        let config = place.load(&with_flag, &env).expect("config");
        assert_eq!(config.http.port(), 1003, "flag wins");
        assert_eq!(config.name, "from-env", "env over file");
        assert_eq!(config.storage, StorageKind::Memory, "file over default");
        assert_eq!(config.body_limit, 1000);
        assert_eq!(config.file, Some(file.clone()));

        let config = place.load(&with_file, &env).expect("config");
        assert_eq!(config.http.port(), 1002, "env over file");
        let config = place.load(&with_file, &[]).expect("config");
        assert_eq!(config.http.port(), 1001, "file over default");
        assert_eq!(config.name, "from-file");
        let config = place.load(&flags(), &[]).expect("config");
        assert_eq!(config.http.port(), 8080, "default");

        // The config file can come from the environment, or ./letsflow.yaml.
        let config = place
            .load(
                &flags(),
                &[("LETSFLOW_CONFIG", file.to_str().expect("utf-8"))],
            )
            .expect("config");
        assert_eq!(config.http.port(), 1001);
        let default_file = place.write("letsflow.yaml", "http: 127.0.0.1:1004\n");
        let config = place.load(&flags(), &[]).expect("config");
        assert_eq!(config.http.port(), 1004);
        assert_eq!(config.file, Some(default_file));

        // --dev over LETSFLOW_DEV=false.
        let dev = Flags {
            dev: true,
            ..flags()
        };
        let config = place
            .load(&dev, &[("LETSFLOW_DEV", "false")])
            .expect("config");
        assert!(config.dev);
    }

    #[test]
    fn every_setting_from_the_environment() {
        let place = Place::new();
        let data = place.path("elsewhere");
        let scenarios = place.folder("sc");
        let schemas = place.folder("sch");
        let env = [
            ("LETSFLOW_DATA", data.to_str().expect("utf-8")),
            ("LETSFLOW_HTTP", "0.0.0.0:9000"),
            ("LETSFLOW_SCENARIOS", scenarios.to_str().expect("utf-8")),
            ("LETSFLOW_SCHEMAS", schemas.to_str().expect("utf-8")),
            ("LETSFLOW_DEV", "false"),
            ("LETSFLOW_STORAGE", "memory"),
            ("LETSFLOW_BODY_LIMIT", "2mb"),
            ("LETSFLOW_YAML_BODY_LIMIT", "64kb"),
            ("LETSFLOW_NAME", "acme"),
            ("LETSFLOW_LOG", "letsflow=debug,info"),
            ("LETSFLOW_LOG_FORMAT", "json"),
            ("LETSFLOW_TIMER_INTERVAL", "30 seconds"),
            ("LETSFLOW_COMMIT_QUEUE", "10"),
            ("LETSFLOW_COMMIT_MAX_GROUP", "5"),
            ("LETSFLOW_CACHE_PROCESSES", "500"),
            (
                "LETSFLOW_CORS_ORIGINS",
                "https://app.example, http://localhost:3000",
            ),
            ("LETSFLOW_AUTH_JWT_SECRET", "s3cret"),
            ("LETSFLOW_AUTH_JWT_ISSUER", "https://id.example"),
            ("LETSFLOW_AUTH_JWT_TRANSFORM", "{id: sub}"),
            ("LETSFLOW_AUTH_JWT_REQUIRE_EXPIRY", "false"),
            (
                "LETSFLOW_AUTH_ROLES",
                r#"{"admin": ["*"], "ops": ["process:super"]}"#,
            ),
            (
                "LETSFLOW_AUTH_DEFAULT_PRIVILEGES",
                "process:start, process:step",
            ),
        ];
        let config = place.load(&flags(), &env).expect("config");
        assert_eq!(config.data, data);
        assert_eq!(config.http, SocketAddr::from(([0, 0, 0, 0], 9000)));
        assert_eq!(config.scenarios, Some(scenarios));
        assert_eq!(config.schemas, Some(schemas));
        assert!(!config.dev);
        assert_eq!(config.storage, StorageKind::Memory);
        assert_eq!(config.body_limit, 2 * 1024 * 1024);
        assert_eq!(config.yaml_body_limit, 64 * 1024);
        assert_eq!(config.name, "acme");
        assert_eq!(config.log, "letsflow=debug,info");
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.timer_interval, Duration::from_secs(30));
        assert_eq!(
            config.commit,
            GroupCommit {
                queue: 10,
                max_group: 5
            }
        );
        assert_eq!(config.cache_processes, 500);
        assert_eq!(
            config.cors_origins,
            ["https://app.example", "http://localhost:3000"]
        );
        let jwt = config.auth.jwt.expect("jwt");
        assert_eq!(jwt.secret.as_deref(), Some("s3cret"));
        assert_eq!(jwt.issuer.as_deref(), Some("https://id.example"));
        assert_eq!(jwt.transform.as_deref(), Some("{id: sub}"));
        assert!(!jwt.require_expiry);
        assert_eq!(config.auth.roles["ops"], ["process:super"]);
        assert_eq!(
            config.auth.default_privileges,
            ["process:start", "process:step"]
        );
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn yaml_and_toml_files_say_the_same() {
        let place = Place::new();
        let yaml = place.write(
            "a.yaml",
            "http: 127.0.0.1:7000\nstorage: memory\ntimerInterval: 2\ncacheProcesses: 64\ncorsOrigins: ['*']\ncommit:\n  maxGroup: 8\n\
             auth:\n  jwt:\n    secret: x\n  roles:\n    admin: ['*']\n  defaultPrivileges: [process:step]\n",
        );
        let toml = place.write(
            "a.toml",
            "http = \"127.0.0.1:7000\"\nstorage = \"memory\"\ntimerInterval = 2\ncacheProcesses = 64\ncorsOrigins = \"*\"\n[commit]\nmaxGroup = 8\n\
             [auth]\ndefaultPrivileges = [\"process:step\"]\n[auth.jwt]\nsecret = \"x\"\n[auth.roles]\nadmin = [\"*\"]\n",
        );
        let load = |file: PathBuf| {
            let flags = Flags {
                config: Some(file),
                ..flags()
            };
            place.load(&flags, &[]).expect("config")
        };
        let (a, b) = (load(yaml), load(toml));
        for c in [&a, &b] {
            assert_eq!(c.http.port(), 7000);
            assert_eq!(c.timer_interval, Duration::from_secs(2));
            assert_eq!(c.commit.max_group, 8);
            assert_eq!(c.cache_processes, 64);
            assert_eq!(c.cors_origins, ["*"]);
            assert!(!c.dev, "a JWT secret turns development mode off by default");
            assert_eq!(c.auth.roles["admin"], ["*"]);
            assert_eq!(c.auth.default_privileges, ["process:step"]);
        }
    }

    fn with_file(place: &Place, name: &str, text: &str) -> Flags {
        Flags {
            config: Some(place.write(name, text)),
            ..flags()
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_named() {
        let place = Place::new();
        let (e, text) = place.error(&with_file(&place, "c.yaml", "htp: 1\n"), &[]);
        assert!(matches!(&e, ConfigError::UnknownKey { key, .. } if key == "htp"));
        assert!(
            text.ends_with("c.yaml: unknown key 'htp' (known keys: data, http, scenarios, \
                 schemas, dev, storage, bodyLimit, yamlBodyLimit, name, log, logFormat, timerInterval, cacheProcesses, corsOrigins, peers, services, p2p, commit, auth)"),
            "{text}"
        );
        let (e, text) = place.error(
            &with_file(&place, "c.toml", "[auth.jwt]\nsecrt = \"x\"\n"),
            &[],
        );
        assert!(matches!(&e, ConfigError::UnknownKey { key, .. } if key == "auth.jwt.secrt"));
        assert!(
            text.ends_with(
                "c.toml: unknown key 'auth.jwt.secrt' (known keys of auth.jwt: secret, \
                 publicKey, issuer, transform, requireExpiry)"
            ),
            "{text}"
        );
    }

    #[test]
    fn duplicate_keys_in_the_file_are_errors_naming_the_key() {
        let place = Place::new();
        let (e, text) = place.error(
            &with_file(
                &place,
                "c.yaml",
                "http: 127.0.0.1:1\nname: a\nhttp: 127.0.0.1:2\n",
            ),
            &[],
        );
        assert!(matches!(e, ConfigError::Syntax { .. }));
        assert!(
            text.ends_with("c.yaml: duplicate entry with key \"http\""),
            "{text}"
        );
        let (_, text) = place.error(
            &with_file(
                &place,
                "c.yaml",
                "auth:\n  jwt:\n    secret: a\n    secret: b\n",
            ),
            &[],
        );
        assert!(
            text.ends_with(
                "c.yaml: auth.jwt: duplicate entry with key \"secret\" at line 3 column 5"
            ),
            "{text}"
        );
        let (_, text) = place.error(
            &with_file(&place, "c.toml", "name = \"a\"\nname = \"b\"\n"),
            &[],
        );
        assert!(
            text.contains("duplicate key") && text.contains("name"),
            "{text}"
        );
    }

    #[test]
    fn bad_files_are_named() {
        let place = Place::new();
        let (e, text) = place.error(&with_file(&place, "c.ini", "a=1"), &[]);
        assert!(matches!(e, ConfigError::FileFormat { .. }));
        assert!(
            text.ends_with("c.ini: unknown format; use .yaml, .yml or .toml"),
            "{text}"
        );

        let (e, text) = place.error(&with_file(&place, "c.yaml", "http: [\n"), &[]);
        assert!(matches!(e, ConfigError::Syntax { .. }));
        assert!(
            text.starts_with("config file ") && text.contains("c.yaml: "),
            "{text}"
        );

        let (e, text) = place.error(&with_file(&place, "list.yaml", "- a\n"), &[]);
        assert!(matches!(e, ConfigError::Syntax { .. }));
        assert!(
            text.ends_with("the file must be a map of settings, not a list"),
            "{text}"
        );

        let (e, text) = place.error(&with_file(&place, "c.yaml", "auth: true\n"), &[]);
        assert!(matches!(e, ConfigError::Syntax { .. }));
        assert!(
            text.ends_with("'auth' must be a map of settings, not a boolean"),
            "{text}"
        );

        let missing = Flags {
            config: Some(place.path("missing.yaml")),
            ..flags()
        };
        let (e, text) = place.error(&missing, &[]);
        assert!(matches!(e, ConfigError::ReadFile { .. }));
        assert!(text.starts_with("cannot read the config file ") && text.contains("missing.yaml"));
    }

    #[test]
    fn bad_addresses_are_refused() {
        let place = Place::new();
        for bad in [
            "nonsense",
            "127.0.0.1",
            "127.0.0.1:99999",
            ":8080",
            "host:port",
        ] {
            let (e, text) = place.error(&flags(), &[("LETSFLOW_HTTP", bad)]);
            assert!(
                matches!(
                    &e,
                    ConfigError::Invalid {
                        setting: "HTTP address",
                        from: Source::Env("LETSFLOW_HTTP"),
                        ..
                    }
                ),
                "{bad}: {e:?}"
            );
            assert!(
                text.starts_with(&format!(
                    "invalid HTTP address '{bad}' (from LETSFLOW_HTTP): expected HOST:PORT"
                )),
                "{text}"
            );
        }
        let flag = Flags {
            http: Some("x".into()),
            ..flags()
        };
        let (_, text) = place.error(&flag, &[]);
        assert!(
            text.starts_with("invalid HTTP address 'x' (from --http)"),
            "{text}"
        );
        let (_, text) = place.error(&with_file(&place, "c.yaml", "http: 80\n"), &[]);
        assert!(text.contains("invalid HTTP address '80' (from "), "{text}");
        assert!(text.contains("c.yaml: http)"), "{text}");
        // Host names resolve; port 0 picks a free port.
        let config = place
            .load(&flags(), &[("LETSFLOW_HTTP", "localhost:0")])
            .expect("config");
        assert!(config.http.ip().is_loopback());
    }

    #[test]
    fn unusable_folders_are_refused() {
        let place = Place::new();
        let missing = place.path("nope");
        let flag = Flags {
            scenarios: Some(missing.clone()),
            ..flags()
        };
        let (e, text) = place.error(&flag, &[]);
        assert!(matches!(
            &e,
            ConfigError::Folder {
                what: "scenarios folder",
                from: Source::Flag("--scenarios"),
                ..
            }
        ));
        assert_eq!(
            text,
            format!(
                "scenarios folder {} (from --scenarios): cannot read it: No such file or directory (os error 2)",
                missing.display()
            )
        );
        let file = place.write("plain", "");
        let (_, text) = place.error(
            &flags(),
            &[("LETSFLOW_SCHEMAS", file.to_str().expect("utf-8"))],
        );
        assert_eq!(
            text,
            format!(
                "schemas folder {} (from LETSFLOW_SCHEMAS): not a folder",
                file.display()
            )
        );
        let (e, text) = place.error(
            &flags(),
            &[("LETSFLOW_DATA", file.to_str().expect("utf-8"))],
        );
        assert!(matches!(
            &e,
            ConfigError::Folder {
                what: "data folder",
                ..
            }
        ));
        assert_eq!(
            text,
            format!(
                "data folder {} (from LETSFLOW_DATA): not a folder",
                file.display()
            )
        );
        let below_file = file.join("data");
        let (_, text) = place.error(
            &flags(),
            &[("LETSFLOW_DATA", below_file.to_str().expect("utf-8"))],
        );
        assert!(
            text.contains("(from LETSFLOW_DATA): cannot create it: "),
            "{text}"
        );
        // The memory store needs no data folder.
        place
            .load(
                &flags(),
                &[
                    ("LETSFLOW_DATA", file.to_str().expect("utf-8")),
                    ("LETSFLOW_STORAGE", "memory"),
                ],
            )
            .expect("memory storage");
    }

    #[test]
    fn bad_values_are_named_with_their_source() {
        let place = Place::new();
        let cases: [(&str, &str, &str); 13] = [
            ("LETSFLOW_STORAGE", "postgres", "invalid storage 'postgres' (from LETSFLOW_STORAGE): expected redb, sled or memory"),
            ("LETSFLOW_DEV", "maybe", "invalid development mode 'maybe' (from LETSFLOW_DEV): expected true or false"),
            ("LETSFLOW_BODY_LIMIT", "0", "invalid body limit '0' (from LETSFLOW_BODY_LIMIT): expected a size in bytes above 0, like 1048576, 512kb or 2mb"),
            ("LETSFLOW_BODY_LIMIT", "3 parsecs", "invalid body limit '3 parsecs' (from LETSFLOW_BODY_LIMIT)"),
            ("LETSFLOW_LOG", "[", "invalid log filter '[' (from LETSFLOW_LOG): "),
            ("LETSFLOW_LOG_FORMAT", "xml", "invalid log format 'xml' (from LETSFLOW_LOG_FORMAT): expected text or json"),
            ("LETSFLOW_TIMER_INTERVAL", "0", "invalid timer interval '0' (from LETSFLOW_TIMER_INTERVAL): expected a period above 0"),
            ("LETSFLOW_COMMIT_QUEUE", "-1", "invalid commit queue '-1' (from LETSFLOW_COMMIT_QUEUE): expected a whole number from 1 to 1000000"),
            ("LETSFLOW_COMMIT_MAX_GROUP", "many", "invalid commit group size 'many' (from LETSFLOW_COMMIT_MAX_GROUP)"),
            ("LETSFLOW_CORS_ORIGINS", "https://app.example/path", "invalid CORS origin 'https://app.example/path' (from LETSFLOW_CORS_ORIGINS): expected * or origins like https://app.example or http://localhost:3000"),
            ("LETSFLOW_CACHE_PROCESSES", "0", "invalid process cache size '0' (from LETSFLOW_CACHE_PROCESSES): expected a whole number from 1 to 1000000"),
            ("LETSFLOW_AUTH_ROLES", "admin", "invalid roles 'admin' (from LETSFLOW_AUTH_ROLES): expected a map of role to a list of privileges"),
            ("LETSFLOW_AUTH_JWT_PUBLIC_KEY", "/no/such/key.pem", "invalid JWT public key '/no/such/key.pem' (from LETSFLOW_AUTH_JWT_PUBLIC_KEY): expected PEM text or a readable PEM file"),
        ];
        for (var, value, message) in cases {
            let (e, text) = place.error(&flags(), &[(var, value)]);
            assert!(matches!(e, ConfigError::Invalid { .. }), "{var}: {e:?}");
            assert!(text.starts_with(message), "{var}: {text}");
        }
        let (_, text) = place.error(
            &with_file(&place, "c.yaml", "auth:\n  defaultPrivileges: all\n"),
            &[],
        );
        assert!(
            text.starts_with("invalid default privileges 'all' (from "),
            "{text}"
        );
        let (_, text) = place.error(&with_file(&place, "c.yaml", "name: [a]\n"), &[]);
        assert!(text.starts_with("invalid value a list (from "), "{text}");
        assert!(text.contains("c.yaml: name): expected text"), "{text}");
    }

    #[test]
    fn settings_that_do_not_fit_together() {
        let place = Place::new();
        let (e, text) = place.error(&flags(), &[("LETSFLOW_DEV", "false")]);
        assert!(matches!(e, ConfigError::Conflict(_)));
        assert!(
            text.starts_with(
                "production mode (dev off, from LETSFLOW_DEV) needs a JWT secret or public key"
            ),
            "{text}"
        );
        let (_, text) = place.error(&flags(), &[("LETSFLOW_AUTH_JWT_ISSUER", "me")]);
        assert_eq!(
            text,
            "LETSFLOW_AUTH_JWT_ISSUER is set, but no JWT secret or public key is (set \
             LETSFLOW_AUTH_JWT_SECRET or LETSFLOW_AUTH_JWT_PUBLIC_KEY)"
        );
        // A JWT key makes production the default; development can still be asked for.
        let secret = [("LETSFLOW_AUTH_JWT_SECRET", "x")];
        assert!(!place.load(&flags(), &secret).expect("config").dev);
        let dev = Flags {
            dev: true,
            ..flags()
        };
        assert!(place.load(&dev, &secret).expect("config").dev);
    }

    #[test]
    fn development_mode_needs_loopback_or_asking_and_empty_secrets_are_refused() {
        let place = Place::new();
        let (e, text) = place.error(&flags_http("0.0.0.0:8080"), &[]);
        assert!(matches!(e, ConfigError::Conflict(_)));
        assert!(
            text.starts_with(
                "the HTTP address 0.0.0.0:8080 is not a loopback address, so the node does not \
                 start in development mode: set LETSFLOW_AUTH_JWT_SECRET or"
            ),
            "{text}"
        );
        let asked = Flags {
            dev: true,
            ..flags_http("0.0.0.0:8080")
        };
        assert!(place.load(&asked, &[]).expect("config").dev);
        assert!(
            place
                .load(&flags_http("[::1]:8080"), &[])
                .expect("config")
                .dev
        );

        for (flags, env) in [
            (flags(), vec![("LETSFLOW_AUTH_JWT_SECRET", "")]),
            (flags(), vec![("LETSFLOW_AUTH_JWT_SECRET", " \t")]),
            (
                with_file(&place, "c.yaml", "auth:\n  jwt:\n    secret: ''\n"),
                vec![],
            ),
        ] {
            let (e, text) = place.error(&flags, &env);
            assert!(
                matches!(
                    e,
                    ConfigError::Invalid {
                        setting: "JWT secret",
                        ..
                    }
                ),
                "{text}"
            );
        }
        let (_, text) = place.error(&flags(), &[("LETSFLOW_AUTH_JWT_SECRET", "")]);
        assert_eq!(
            text,
            "invalid JWT secret '' (from LETSFLOW_AUTH_JWT_SECRET): expected a secret of at \
             least 32 bytes; an empty one is refused (leave the setting out for a development \
             node)"
        );
        // The YAML limit never exceeds the body limit; expiry is required by default.
        let config = place
            .load(
                &flags(),
                &[
                    ("LETSFLOW_BODY_LIMIT", "16kb"),
                    ("LETSFLOW_AUTH_JWT_SECRET", "x"),
                ],
            )
            .expect("config");
        assert_eq!(config.yaml_body_limit, 16 * 1024);
        assert!(config.auth.jwt.expect("jwt").require_expiry);
    }

    fn flags_http(http: &str) -> Flags {
        Flags {
            http: Some(http.into()),
            ..flags()
        }
    }

    #[test]
    fn public_keys_come_as_text_or_as_a_file() {
        let place = Place::new();
        let pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        let file = place.write("key.pem", pem);
        for value in [pem, file.to_str().expect("utf-8")] {
            let config = place
                .load(&flags(), &[("LETSFLOW_AUTH_JWT_PUBLIC_KEY", value)])
                .expect("config");
            let jwt = config.auth.jwt.expect("jwt");
            assert_eq!(jwt.public_key.as_deref(), Some(pem));
        }
    }

    #[test]
    fn unknown_variables_are_warned_about() {
        let place = Place::new();
        let config = place
            .load(
                &flags(),
                &[("LETSFLOW_HTTPS", "x"), ("LETSFLOW_SCENARIO_PATH", "y")],
            )
            .expect("config");
        assert_eq!(
            config.warnings,
            ["unknown environment variable LETSFLOW_HTTPS (ignored)"]
        );
    }
}
