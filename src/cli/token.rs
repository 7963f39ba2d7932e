//! `letsflow token`: mint a JWT for a user of a node that checks HS256 tokens with a shared
//! secret — the node's own (`auth.jwt.secret` / `LETSFLOW_AUTH_JWT_SECRET`), read from the
//! same configuration `letsflow serve` reads. For organisations without an identity
//! provider yet, and for scripts (docker/README.md, examples/three-parties.sh).

use letsflow::api::auth::MIN_SECRET_BYTES;
use letsflow::node::config::{vars, Config, Env, Flags};
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `letsflow token`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    /// The user id (the `sub` claim): the id that processes bind actors to.
    #[arg(long, value_name = "ID")]
    sub: String,
    /// A role of the user, repeatable (e.g. `admin`; `auth.roles` gives roles privileges).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// The user's name (the `name` claim, shown in the user's `info`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// How long the token is valid: seconds, or a period like "8 hours" or "30 days".
    #[arg(long, value_name = "PERIOD", default_value = "1 day")]
    valid: String,
    /// Config file of the node [default: $LETSFLOW_CONFIG, else ./letsflow.{yaml,yml,toml}
    /// when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl TokenArgs {
    /// Prints the token on stdout; exit 1 (with the reason) when the node has no secret to
    /// sign with, 2 for bad input.
    pub(crate) fn run(self) -> ExitCode {
        let seconds = match letsflow::scenario::parse_period(&Value::String(self.valid.clone())) {
            Ok(s) if s >= 1.0 => s as i64,
            _ => {
                return super::bad_input(format!(
                    "invalid --valid '{}': expected seconds or a period like '8 hours'",
                    self.valid
                ))
            }
        };
        // The node's settings, as `serve` reads them; with the memory store, so that minting
        // a token never touches the data folder.
        let env = Env::from_process().with(vars::STORAGE, "memory");
        let flags = Flags {
            config: self.config,
            ..Flags::default()
        };
        let config = match Config::load(&flags, &env) {
            Ok(config) => config,
            Err(e) => return super::bad_input(e),
        };
        let Some(jwt) = &config.auth.jwt else {
            eprintln!(
                "error: this node has no JWT secret to sign with: set {} (auth.jwt.secret); a \
                 development node serves ready tokens at GET /demo-accounts",
                vars::AUTH_JWT_SECRET
            );
            return ExitCode::FAILURE;
        };
        let Some(secret) = &jwt.secret else {
            eprintln!(
                "error: this node checks tokens with a public key (auth.jwt.publicKey): tokens \
                 come from the identity provider that holds its private key"
            );
            return ExitCode::FAILURE;
        };
        if !config.dev && secret.len() < MIN_SECRET_BYTES {
            eprintln!(
                "error: the JWT secret has {} bytes; a production node needs at least \
                 {MIN_SECRET_BYTES} (and refuses to start with this one)",
                secret.len()
            );
            return ExitCode::FAILURE;
        }
        let now = chrono::Utc::now().timestamp();
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(self.sub));
        claims.insert("roles".into(), json!(self.roles));
        if let Some(name) = self.name {
            claims.insert("name".into(), json!(name));
        }
        if let Some(issuer) = &jwt.issuer {
            claims.insert("iss".into(), json!(issuer));
        }
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + seconds));
        let signed = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).and_then(|key| {
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &key,
            )
        });
        match signed {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot sign the token: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
