//! API keys: `lfl_…` bearer tokens with their own privileges and optional process
//! restrictions.
//!
//! # Token format
//!
//! `lfl_` + 30 random base62 characters + a 6-character base62 checksum — 40 characters in
//! all, e.g. `lfl_AvHttUP1APJOvETCC4vDMF5Vvw71P629aWIj`. The base62 alphabet is
//! `0-9A-Za-z`. The checksum is the CRC-32 (IEEE, as zlib computes it) of the 30 random
//! characters, written in base62 and left-padded with `0` to 6 characters; this is the format of
//! the reference engine's keys. The checksum lets the node refuse a mistyped or truncated
//! token without a store lookup; it is no security measure.
//!
//! The token is shown once, when the key is issued. The store keeps only its SHA-256
//! (lowercase hex), by which the key is found again.

use super::privileges;
use super::{AuthError, User};
use crate::process::Timestamp;
use crate::store::{ApiKey, KeyIssuer};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What every API key token starts with.
pub const API_KEY_PREFIX: &str = "lfl_";

const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// The length of a token: prefix, random part and checksum.
pub const API_KEY_LEN: usize = API_KEY_PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// How long a key lives when the request names no expiration.
pub const DEFAULT_EXPIRATION_DAYS: u32 = 30;
/// The longest `expirationDays` accepted (100 years).
pub const MAX_EXPIRATION_DAYS: u32 = 36_500;

/// The longest chain of keys issuing keys (a key issued by a key issued by …).
pub const MAX_KEY_CHAIN: usize = 8;

/// What an authenticated API key brings along: its id, who issued it, when it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOrigin {
    /// The key id.
    pub id: String,
    /// Who issued it (`None` for a key stored before issuers were recorded).
    pub issuer: Option<KeyIssuer>,
    /// When it expires.
    pub expiration: Option<Timestamp>,
    /// How many keys are above it in the chain that issued it (0 for a key a user issued).
    pub depth: usize,
    /// The service the key is bound to: it acts as actor `service:NAME` only.
    pub service: Option<String>,
}

/// `lastUsed` is rewritten at most this often (seconds), so that a busy key doesn't cost a
/// durable store write on every request.
pub(super) const LAST_USED_RESOLUTION_SECS: f64 = 60.0;

/// A request to issue an API key (`POST /apikey`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRequest {
    /// A name to recognize the key by.
    #[serde(default)]
    pub name: Option<String>,
    /// The privileges of the key (see [`privileges::PRIVILEGES`]); at least one.
    pub privileges: Vec<String>,
    /// The processes the key may be used for; none means all.
    #[serde(default)]
    pub processes: Option<ProcessRestrictions>,
    /// Days until the key expires (default [`DEFAULT_EXPIRATION_DAYS`]); ignored when
    /// `expiration` is given.
    #[serde(default)]
    pub expiration_days: Option<u32>,
    /// When the key expires.
    #[serde(default)]
    pub expiration: Option<Timestamp>,
    /// Binds the key to a service: it acts as actor `service:NAME` (issuing one takes
    /// `process:super`; a key issued by a service key is bound to the same service).
    #[serde(default)]
    pub service: Option<String>,
}

/// One process restriction: a field that is given must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessRestriction {
    /// The scenario id the process must run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The actors (keys of the scenario's `actors`) the key may act as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actors: Option<Vec<String>>,
    /// The actions the key may perform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
}

/// The process restrictions of a key: one `{scenario, actors, actions}` object, or a list of
/// them (the reference engine's form) of which one must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProcessRestrictions {
    /// One restriction.
    One(ProcessRestriction),
    /// Any of these.
    Any(Vec<ProcessRestriction>),
}

impl ProcessRestrictions {
    /// The restrictions as a list.
    pub fn as_slice(&self) -> &[ProcessRestriction] {
        match self {
            ProcessRestrictions::One(r) => std::slice::from_ref(r),
            ProcessRestrictions::Any(list) => list,
        }
    }

    /// Whether a process of `scenario` may be used, acting as `actor` performing `action`.
    /// `None` for `actor` or `action` leaves that part unchecked.
    pub fn allows(&self, scenario: &str, actor: Option<&str>, action: Option<&str>) -> bool {
        let within = |list: &Option<Vec<String>>, item: Option<&str>| match (list, item) {
            (Some(list), Some(item)) => list.iter().any(|x| x == item),
            _ => true,
        };
        self.as_slice().iter().any(|r| {
            r.scenario.as_deref().is_none_or(|s| s == scenario)
                && within(&r.actors, actor)
                && within(&r.actions, action)
        })
    }
}

/// A new random token.
pub(super) fn generate_token() -> String {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect();
    let checksum = checksum(&random);
    format!("{API_KEY_PREFIX}{random}{checksum}")
}

/// Whether `token` has the shape of an API key and a matching checksum.
pub(super) fn has_valid_checksum(token: &str) -> bool {
    let Some(body) = token.strip_prefix(API_KEY_PREFIX) else {
        return false;
    };
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    checksum(random) == sum
}

/// SHA-256 of the token, lowercase hex: what the store keeps.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// CRC-32 of `random` in base62, left-padded with `0` to [`CHECKSUM_LEN`] characters.
fn checksum(random: &str) -> String {
    let mut n = crc32(random.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so nothing is left over.
    digits.iter().map(|&b| char::from(b)).collect()
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib and `buffer-crc32` compute it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Checks a request against its issuer and builds the key (without storing it). Returns the
/// key and its token.
pub(super) fn new_key(
    by: &User,
    req: ApiKeyRequest,
    now: Timestamp,
) -> Result<(ApiKey, String), AuthError> {
    if !by.can("apikey:issue") {
        return Err(AuthError::Forbidden(
            "issuing API keys requires the 'apikey:issue' privilege".into(),
        ));
    }
    if req.privileges.is_empty() {
        return Err(AuthError::InvalidRequest(
            "an API key needs at least one privilege".into(),
        ));
    }
    if let Some(p) = req.privileges.iter().find(|p| !privileges::is_known(p)) {
        return Err(AuthError::InvalidRequest(format!(
            "unknown privilege '{p}' (known: {})",
            privileges::PRIVILEGES.join(", ")
        )));
    }
    if let Some(p) = req.privileges.iter().find(|p| !by.can(p)) {
        return Err(AuthError::Forbidden(format!(
            "cannot grant the privilege '{p}', which the issuer does not have"
        )));
    }
    let privileges = privileges::union([&req.privileges]);

    // A person does not speak for a service: only a holder of `process:super` binds a key
    // to one; a key bound to a service passes it on.
    let inherited = by.key.as_ref().and_then(|k| k.service.clone());
    let service = match (req.service.map(|s| s.trim().to_string()), inherited) {
        (Some(asked), Some(own)) if asked != own => {
            return Err(AuthError::Forbidden(format!(
                "a key bound to service '{own}' can only issue keys for that service"
            )))
        }
        (_, Some(own)) => Some(own),
        (Some(asked), None) => {
            if asked.is_empty() || asked.contains(char::is_whitespace) || asked.contains(':') {
                return Err(AuthError::InvalidRequest(format!(
                    "'{asked}' is not a service name (one word, without 'service:')"
                )));
            }
            if !by.can("process:super") {
                return Err(AuthError::Forbidden(
                    "binding an API key to a service requires the 'process:super' privilege".into(),
                ));
            }
            Some(asked)
        }
        (None, None) => None,
    };

    // An empty list of restrictions is no restriction.
    let requested = match req.processes {
        Some(ProcessRestrictions::Any(list)) if list.is_empty() => Value::Null,
        Some(r) => serde_json::to_value(r).map_err(AuthError::Encode)?,
        None => Value::Null,
    };
    // A restricted issuer (an API key) passes its restrictions on.
    let processes = match &by.restrictions {
        Some(own) if requested.is_null() => own.clone(),
        Some(own) if &requested != own => return Err(AuthError::Forbidden(
            "an API key with process restrictions can only issue keys with the same restrictions"
                .into(),
        )),
        _ => requested,
    };

    let expiration = match (req.expiration, req.expiration_days) {
        (Some(at), _) if at <= now => {
            return Err(AuthError::InvalidRequest(
                "expiration must be in the future".into(),
            ))
        }
        (Some(at), _) => at,
        (None, days) => {
            let days = days.unwrap_or(DEFAULT_EXPIRATION_DAYS);
            if !(1..=MAX_EXPIRATION_DAYS).contains(&days) {
                return Err(AuthError::InvalidRequest(format!(
                    "expirationDays must be between 1 and {MAX_EXPIRATION_DAYS}"
                )));
            }
            now.plus_seconds(f64::from(days) * 86_400.0)
        }
    };

    // A key issued by a key never outlives it, and acts for the same user.
    let (issuer, expiration) = match &by.key {
        None => (
            KeyIssuer {
                user: by.id.clone(),
                roles: by.roles.clone(),
                key: None,
            },
            expiration,
        ),
        Some(origin) => {
            if origin.depth + 1 > MAX_KEY_CHAIN {
                return Err(AuthError::Forbidden(format!(
                    "API keys can be issued through at most {MAX_KEY_CHAIN} keys"
                )));
            }
            let root = origin.issuer.clone().unwrap_or_default();
            let capped = match origin.expiration {
                Some(parent) if parent < expiration => parent,
                _ => expiration,
            };
            (
                KeyIssuer {
                    key: Some(origin.id.clone()),
                    ..root
                },
                capped,
            )
        }
    };

    let token = generate_token();
    let key = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        name: req
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
        hash: token_hash(&token),
        privileges,
        processes,
        expiration: Some(expiration),
        last_used: None,
        revoked: false,
        issued: now,
        issuer: Some(issuer),
        service,
    };
    Ok((key, token))
}

/// The caller an API key authenticates: the key's privileges and restrictions, and
/// `info: {apiKey: <key id>, name?}`. A key acts on behalf of its issuer: it has the
/// issuer's user id and roles (as they were when the key was issued), so it sees and acts
/// only where they could. A key holding `process:super` (which only an issuer who had it
/// could grant) acts for an application instead: no user id or roles, every process its
/// restrictions allow, as any actor they allow.
pub(super) fn user_of(key: &ApiKey, depth: usize) -> User {
    let mut info = Map::new();
    info.insert("apiKey".into(), Value::String(key.id.clone()));
    if let Some(name) = &key.name {
        info.insert("name".into(), Value::String(name.clone()));
    }
    let application = privileges::grants(&key.privileges, "process:super");
    // A key bound to a service is an application too: it acts as the service, for nobody.
    let (id, roles) = match (&key.issuer, application || key.service.is_some()) {
        (Some(issuer), false) => (issuer.user.clone(), issuer.roles.clone()),
        _ => (None, Vec::new()),
    };
    User {
        id,
        roles,
        info,
        privileges: key.privileges.clone(),
        restrictions: (!key.processes.is_null()).then(|| key.processes.clone()),
        key: Some(KeyOrigin {
            id: key.id.clone(),
            issuer: key.issuer.clone(),
            expiration: key.expiration,
            depth,
            service: key.service.clone(),
        }),
    }
}

/// The JSON of a key as the API shows it: the stored record without the token's hash.
pub fn api_key_json(key: &ApiKey) -> Value {
    let mut v = serde_json::to_value(key).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("hash");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn checksum_is_six_base62_digits() {
        // CRC-32 of "123456789" is 0xCBF43926 = 3421780262, "3jZRME" in base62.
        assert_eq!(checksum("123456789"), "3jZRME");
        assert_eq!(checksum("").len(), 6);
        assert_eq!(checksum(""), "000000");
    }

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let a = generate_token();
        let b = generate_token();
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert_eq!(t.len(), API_KEY_LEN);
            assert!(t.starts_with("lfl_"));
            assert!(t[4..].bytes().all(|c| c.is_ascii_alphanumeric()));
            assert!(has_valid_checksum(t));
        }
    }

    #[test]
    fn a_token_made_by_an_independent_implementation_verifies() {
        // The documented example, made with Python's zlib.crc32 and the same base62 alphabet.
        assert!(has_valid_checksum(
            "lfl_AvHttUP1APJOvETCC4vDMF5Vvw71P629aWIj"
        ));
    }

    #[test]
    fn a_typo_breaks_the_checksum() {
        let t = generate_token();
        let i = 10;
        let c = t.as_bytes()[i];
        let typo = if c == b'a' { 'b' } else { 'a' };
        let mistyped = format!("{}{}{}", &t[..i], typo, &t[i + 1..]);
        assert!(!has_valid_checksum(&mistyped));
        assert!(!has_valid_checksum(&t[..t.len() - 1]));
        assert!(!has_valid_checksum(&format!("{t}x")));
        assert!(!has_valid_checksum(&t.replace("lfl_", "lfk_")));
        assert!(!has_valid_checksum("lfl_"));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn request_is_camel_case_and_restrictions_take_one_or_many() {
        let req: ApiKeyRequest = serde_json::from_value(json!({
            "name": "ci", "privileges": ["process:start"], "expirationDays": 7,
            "processes": {"scenario": "s1", "actions": ["go"]}
        }))
        .expect("request");
        assert_eq!(req.expiration_days, Some(7));
        let one = req.processes.expect("processes");
        assert!(one.allows("s1", Some("anyone"), Some("go")));
        assert!(!one.allows("s1", None, Some("stop")));
        assert!(!one.allows("s2", None, None));

        let many: ProcessRestrictions = serde_json::from_value(json!([
            {"scenario": "s1", "actors": ["client"]},
            {"scenario": "s2"}
        ]))
        .expect("list");
        assert!(many.allows("s1", Some("client"), Some("x")));
        assert!(!many.allows("s1", Some("seller"), None));
        assert!(many.allows("s2", Some("seller"), None));

        assert!(serde_json::from_value::<ProcessRestrictions>(json!({"scenarios": "x"})).is_err());
    }
}
