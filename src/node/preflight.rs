//! `letsflow serve --check`: everything the node checks before it starts, without starting
//! anything — no store is opened, no port bound, no key created.
//!
//! The configuration itself is checked by [`Config::load`]; this adds the checks of the
//! start-up that need no store: the local schemas load, every file of the scenarios folder
//! is a valid scenario (loaded into an engine over an in-memory store), the authentication
//! settings are usable (key formats, the length of a production HS256 secret, privileges),
//! and the node key file, when there is one, can be read.

use super::config::{Config, StorageKind};
use super::identity;
use super::server::{load_scenarios, open_registry, ServeError};
use crate::api::auth::Auth;
use crate::chain::NodeId;
use crate::engine::Engine;
use crate::store::MemoryStore;
use std::fmt;
use std::sync::Arc;

/// What a node with this configuration would start with.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The node name.
    pub name: String,
    /// The node id, when the key file exists (a new key is made at first start otherwise).
    pub node: Option<NodeId>,
    /// Scenarios in the scenarios folder (`None`: no folder, scenarios come through the API).
    pub scenarios: Option<usize>,
    config: Config,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let file = c
            .file
            .as_ref()
            .map_or("none".to_string(), |p| p.display().to_string());
        writeln!(f, "the configuration is valid (config file: {file})")?;
        let key = c.data.join(identity::KEY_FILE);
        match (&self.node, c.storage) {
            (_, StorageKind::Memory) => writeln!(
                f,
                "  node:      {} (memory storage: a new key at every start)",
                self.name
            )?,
            (Some(id), _) => writeln!(f, "  node:      {}, id {id} ({})", self.name, key.display())?,
            (None, _) => writeln!(
                f,
                "  node:      {}, no key yet: {} is created at first start (or by `letsflow keygen`)",
                self.name,
                key.display()
            )?,
        }
        let mode = match (&c.auth.jwt, c.dev) {
            (_, true) => "development (demo accounts at /demo-accounts)".to_string(),
            (Some(jwt), false) => {
                let mut keys = Vec::new();
                if jwt.secret.is_some() {
                    keys.push("HS256 secret");
                }
                if jwt.public_key.is_some() {
                    keys.push("public key");
                }
                format!("production (JWTs checked with the {})", keys.join(" and "))
            }
            (None, false) => "production".to_string(),
        };
        writeln!(f, "  mode:      {mode}")?;
        writeln!(f, "  http:      {}", c.http)?;
        writeln!(f, "  data:      {} ({})", c.data.display(), c.storage)?;
        match (&c.scenarios, self.scenarios) {
            (Some(folder), Some(n)) => writeln!(
                f,
                "  scenarios: {n} from {} (read-only mode)",
                folder.display()
            )?,
            _ => writeln!(f, "  scenarios: added through the API")?,
        }
        writeln!(f, "  p2p:       listen {}", c.p2p.listen.join(", "))?;
        for (name, id, addresses) in &c.p2p.book {
            writeln!(f, "  peer:      {name} = {id} at {}", list(addresses))?;
        }
        for address in &c.p2p.connect {
            writeln!(f, "  peer:      {address}")?;
        }
        if c.p2p.mdns {
            writeln!(f, "  peers:     discovered on the local network (mDNS)")?;
        }
        for warning in &c.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "no address (it dials in)".to_string()
    } else {
        items.join(", ")
    }
}

/// Checks what the start-up of a node with `config` would check, short of opening the
/// store and binding the addresses.
pub fn check(config: &Config) -> Result<Summary, ServeError> {
    let registry = open_registry(config)?;
    let scratch = Arc::new(MemoryStore::new());
    let engine = Engine::new(scratch.clone(), registry);
    let scenarios = match &config.scenarios {
        Some(folder) => Some(load_scenarios(&engine, folder)?.len()),
        None => None,
    };
    Auth::new(config.auth.clone(), config.dev, scratch)?;
    let node = match config.storage {
        StorageKind::Memory => None,
        _ => identity::load(&config.data)?.map(|key| key.id()),
    };
    Ok(Summary {
        name: config.name.clone(),
        node,
        scenarios,
        config: config.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::config::{Env, Flags};

    fn config(dir: &std::path::Path, env: &[(&str, &str)]) -> Config {
        let data = dir.join("data");
        let mut all: Vec<(&str, &str)> = vec![
            ("LETSFLOW_DATA", data.to_str().expect("utf-8")),
            ("LETSFLOW_SCENARIOS", ""),
            ("LETSFLOW_SCHEMAS", ""),
        ];
        all.extend_from_slice(env);
        let env: Env = all.into_iter().collect();
        Config::load_in(&Flags::default(), &env, dir).expect("config")
    }

    #[test]
    fn a_short_production_secret_is_refused_and_nothing_is_created() {
        let dir = tempfile::tempdir().expect("temp dir");
        let short = config(dir.path(), &[("LETSFLOW_AUTH_JWT_SECRET", "too-short")]);
        let e = check(&short).expect_err("refused");
        assert!(matches!(e, ServeError::Auth(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "authentication: invalid auth.jwt.secret: an HS256 secret needs at least 32 bytes \
             in production mode; this one has 9"
        );
        let good = config(dir.path(), &[("LETSFLOW_AUTH_JWT_SECRET", &"k".repeat(32))]);
        let summary = check(&good).expect("valid");
        assert_eq!(summary.node, None);
        assert_eq!(summary.scenarios, None);
        assert!(!good.data.join(identity::KEY_FILE).exists(), "no key made");
        let text = summary.to_string();
        assert!(
            text.contains("  mode:      production (JWTs checked with the HS256 secret)\n"),
            "{text}"
        );
    }

    #[test]
    fn the_key_file_and_the_scenarios_are_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let scenarios = dir.path().join("scenarios");
        std::fs::create_dir_all(&scenarios).expect("mkdir");
        std::fs::write(
            scenarios.join("a.yaml"),
            "actors:\n  user: {}\nactions:\n  go:\n    actor: user\nstates:\n  initial:\n    on: go\n    goto: (done)\n",
        )
        .expect("write");
        let base = config(
            dir.path(),
            &[("LETSFLOW_SCENARIOS", scenarios.to_str().expect("utf-8"))],
        );
        let (key, _) = identity::load_or_create(&base.data).expect("key");
        let summary = check(&base).expect("valid");
        assert_eq!(summary.node, Some(key.id()));
        assert_eq!(summary.scenarios, Some(1));
        assert!(summary.to_string().contains(&format!("id {}", key.id())));

        std::fs::write(scenarios.join("b.yaml"), "states: [\n").expect("write");
        let e = check(&base).expect_err("invalid scenario file");
        assert!(matches!(e, ServeError::Scenarios { .. }), "{e:?}");
        std::fs::remove_file(scenarios.join("b.yaml")).expect("rm");

        std::fs::write(base.data.join(identity::KEY_FILE), "nonsense").expect("write");
        let e = check(&base).expect_err("bad key file");
        assert!(matches!(e, ServeError::Key(_)), "{e:?}");
    }
}
