//! JWT bearer tokens: signature verification, time and issuer checks, and the mapping of the
//! claims to a user identity.
//!
//! The key is chosen by the `alg` of the token's header: an HMAC algorithm (`HS256`, …) is
//! verified with `auth.jwt.secret`, any other one with `auth.jwt.publicKey` when that key is of
//! the algorithm's family (RSA for `RS256`/`PS256`/…, Ed25519 for `EdDSA`, P-256/P-384 for
//! `ES256`/`ES384`). A token is never verified with a key of another family, so a public key
//! can't be abused as an HMAC secret.
//!
//! `exp` and `nbf` are checked against the time the caller passes (no leeway): a token is
//! expired once that time, in whole seconds, reaches `exp`, as the reference engine's JWT
//! library decides. A token without `exp` does not expire.

use super::AuthError;
use crate::expr::jmespath::{Env, Expression, Runtime};
use crate::process::Timestamp;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

/// Who a verified token says the caller is.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Identity {
    pub(super) id: String,
    pub(super) roles: Vec<String>,
    pub(super) info: Map<String, Value>,
}

/// Claims that are about the token rather than the user; they are left out of `info`.
const TOKEN_CLAIMS: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// Verifies JWTs (and signs the demo accounts' tokens in development mode).
pub(super) struct JwtVerifier {
    /// HMAC key (`auth.jwt.secret`, or the development secret).
    secret: Option<DecodingKey>,
    /// The same secret for signing demo tokens.
    signing: Option<EncodingKey>,
    /// RSA, EC or Ed25519 public key (`auth.jwt.publicKey`).
    public_key: Option<DecodingKey>,
    issuer: Option<String>,
    transform: Option<Expression>,
    /// Refuse tokens without `exp` (production default; see [`JwtVerifier::require_expiry`]).
    require_expiry: bool,
}

impl JwtVerifier {
    /// Prepares the keys. `secret` and `public_key` are PEM / text as configured; empty strings
    /// count as not configured. Fails with [`AuthError::Config`] naming the setting.
    pub(super) fn new(
        secret: Option<&str>,
        public_key: Option<&str>,
        issuer: Option<&str>,
        transform: Option<&str>,
    ) -> Result<Self, AuthError> {
        let (secret, signing) = match secret {
            Some(s) => (
                Some(
                    DecodingKey::from_secret(s.as_bytes())
                        .map_err(|e| config("auth.jwt.secret", e))?,
                ),
                Some(
                    EncodingKey::from_secret(s.as_bytes())
                        .map_err(|e| config("auth.jwt.secret", e))?,
                ),
            ),
            None => (None, None),
        };
        let public_key = public_key.map(load_public_key).transpose()?;
        let transform = transform
            .map(|t| Expression::parse(t).map_err(|e| config("auth.jwt.transform", e)))
            .transpose()?;
        Ok(JwtVerifier {
            secret,
            signing,
            public_key,
            issuer: issuer.map(str::to_string),
            transform,
            require_expiry: false,
        })
    }

    /// Whether a token without `exp` is refused: a token that never expires is a key that
    /// cannot be taken back.
    pub(super) fn require_expiry(mut self, required: bool) -> Self {
        self.require_expiry = required;
        self
    }

    /// Verifies a token and maps its claims to an identity.
    pub(super) fn verify(&self, token: &str, now: Timestamp) -> Result<Identity, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::InvalidToken("malformed JWT".into()))?;
        let not_accepted = || {
            AuthError::InvalidToken(format!(
                "{:?} tokens are not accepted by this node",
                header.alg
            ))
        };
        let family = family_of(header.alg).ok_or_else(not_accepted)?;
        let key = match family {
            AlgorithmFamily::Hmac => self.secret.as_ref(),
            _ => self.public_key.as_ref().filter(|k| k.family() == family),
        }
        .ok_or_else(not_accepted)?;

        let mut validation = Validation::new_for_family(family);
        // Times are checked below against `now`, not the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        validation.leeway = 0;

        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation).map_err(
            |e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::InvalidSignature,
                ErrorKind::InvalidAlgorithm => {
                    AuthError::InvalidToken("algorithm not accepted".into())
                }
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => AuthError::InvalidToken("malformed JWT".into()),
                _ => AuthError::InvalidToken(e.to_string()),
            },
        )?;
        let claims = data.claims;

        let now_secs = now.0.timestamp() as f64;
        match time_claim(&claims, "exp")? {
            Some(exp) if now_secs >= exp => return Err(AuthError::TokenExpired),
            None if self.require_expiry => {
                return Err(AuthError::InvalidToken(
                    "the token has no expiry ('exp'), which this node requires".into(),
                ))
            }
            _ => {}
        }
        if let Some(nbf) = time_claim(&claims, "nbf")? {
            if now_secs < nbf {
                return Err(AuthError::TokenNotYetValid);
            }
        }
        if let Some(issuer) = &self.issuer {
            if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
                return Err(AuthError::WrongIssuer);
            }
        }

        match &self.transform {
            Some(expr) => {
                let out = expr
                    .search(&Value::Object(claims), &Env::new(Runtime::global()))
                    .map_err(|e| AuthError::InvalidToken(format!("auth.jwt.transform: {e}")))?;
                transformed_identity(out)
            }
            None => claims_identity(claims),
        }
    }

    /// Signs `claims` as an HS256 token with the secret (development mode's demo accounts).
    pub(super) fn sign(&self, claims: &Map<String, Value>) -> Result<String, AuthError> {
        let key = self.signing.as_ref().ok_or(AuthError::NoSigningKey)?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key).map_err(AuthError::Sign)
    }

    /// The required issuer, if any.
    pub(super) fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
}

fn config(setting: &str, reason: impl std::fmt::Display) -> AuthError {
    AuthError::Config {
        setting: setting.to_string(),
        reason: reason.to_string(),
    }
}

/// Loads a PEM public key of any supported family.
fn load_public_key(pem: &str) -> Result<DecodingKey, AuthError> {
    const SETTING: &str = "auth.jwt.publicKey";
    if !pem.trim_start().starts_with("-----BEGIN ") {
        return Err(config(
            SETTING,
            "expected a PEM public key (-----BEGIN PUBLIC KEY-----)",
        ));
    }
    if pem.contains("PRIVATE KEY-----") {
        return Err(config(
            SETTING,
            "this is a private key; configure the public key that belongs to it",
        ));
    }
    let bytes = pem.as_bytes();
    DecodingKey::from_rsa_pem(bytes)
        .or_else(|_| DecodingKey::from_ed_pem(bytes))
        .or_else(|_| DecodingKey::from_ec_pem(bytes))
        .map_err(|_| {
            config(
                SETTING,
                "not a usable RSA, Ed25519 or EC (P-256/P-384) public key in PEM format",
            )
        })
}

/// The family of an algorithm (`None` for one this version of the library added since).
fn family_of(alg: Algorithm) -> Option<AlgorithmFamily> {
    [
        AlgorithmFamily::Hmac,
        AlgorithmFamily::Rsa,
        AlgorithmFamily::Ec,
        AlgorithmFamily::Ed,
    ]
    .into_iter()
    .find(|f| f.algorithms().contains(&alg))
}

/// A NumericDate claim (`exp`, `nbf`), when present.
fn time_claim(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| AuthError::InvalidToken(format!("'{name}' must be a number"))),
    }
}

/// The identity of plain claims: `sub` (or the reference engine's `id`) is the user id,
/// `roles` the roles, and `info` the other claims — or the `info` claim itself when it is an
/// object, as the reference engine's tokens carry it.
fn claims_identity(mut claims: Map<String, Value>) -> Result<Identity, AuthError> {
    let id = match claims.get("sub").filter(|v| !v.is_null()) {
        Some(sub) => id_of(sub, "sub")?,
        None => match claims.get("id").filter(|v| !v.is_null()) {
            Some(id) => id_of(id, "id")?,
            None => return Err(AuthError::InvalidToken("no 'sub' claim".into())),
        },
    };
    let roles = roles_of(claims.get("roles"), "roles")?;
    let info = match claims.remove("info") {
        Some(Value::Object(info)) => info,
        other => {
            if let Some(v) = other {
                claims.insert("info".into(), v);
            }
            for name in TOKEN_CLAIMS.iter().chain(&["id", "roles"]) {
                claims.remove(*name);
            }
            claims
        }
    };
    Ok(Identity { id, roles, info })
}

/// The identity the transform produced: `{id, roles, info}`.
fn transformed_identity(out: Value) -> Result<Identity, AuthError> {
    let Value::Object(mut out) = out else {
        return Err(AuthError::InvalidToken(
            "auth.jwt.transform must give an object {id, roles, info}".into(),
        ));
    };
    let id = match out.get("id").filter(|v| !v.is_null()) {
        Some(id) => id_of(id, "id")?,
        None => {
            return Err(AuthError::InvalidToken(
                "auth.jwt.transform gives no 'id'".into(),
            ))
        }
    };
    let roles = roles_of(out.get("roles"), "roles")?;
    let info = match out.remove("info") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(info)) => info,
        Some(_) => {
            return Err(AuthError::InvalidToken(
                "auth.jwt.transform must give 'info' as an object".into(),
            ))
        }
    };
    Ok(Identity { id, roles, info })
}

fn id_of(v: &Value, name: &str) -> Result<String, AuthError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(AuthError::InvalidToken(format!(
            "'{name}' must be a non-empty string"
        ))),
    }
}

/// Roles: absent, one string, or a list of strings.
fn roles_of(v: Option<&Value>, name: &str) -> Result<Vec<String>, AuthError> {
    let invalid =
        || AuthError::InvalidToken(format!("'{name}' must be a string or a list of strings"));
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| r.as_str().map(str::to_string).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/rsa-private.pem");
    const RSA_PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/rsa-public.pem");
    const ED_PRIVATE: &str = include_str!("../../../tests/fixtures/jwt/ed25519-private.pem");
    const ED_PUBLIC: &str = include_str!("../../../tests/fixtures/jwt/ed25519-public.pem");

    /// 2025-01-01T00:00:00Z.
    const NOW: i64 = 1_735_689_600;

    fn now() -> Timestamp {
        Timestamp::from_millis(NOW * 1000)
    }

    fn hs256(secret: &str, claims: Value) -> String {
        let key = EncodingKey::from_secret(secret.as_bytes()).expect("key");
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign")
    }

    fn with_secret(secret: &str) -> JwtVerifier {
        JwtVerifier::new(Some(secret), None, None, None).expect("verifier")
    }

    fn err(r: Result<Identity, AuthError>) -> AuthError {
        r.expect_err("expected an error")
    }

    #[test]
    fn hs256_token_gives_sub_roles_and_other_claims() {
        let v = with_secret("s3cret");
        let token = hs256(
            "s3cret",
            json!({"sub": "alice", "roles": ["admin", "ops"], "name": "Alice", "exp": NOW + 60, "iat": NOW}),
        );
        let id = v.verify(&token, now()).expect("valid");
        assert_eq!(id.id, "alice");
        assert_eq!(id.roles, vec!["admin", "ops"]);
        assert_eq!(Value::Object(id.info), json!({"name": "Alice"}));
    }

    #[test]
    fn roles_may_be_a_single_string_and_tokens_without_exp_do_not_expire() {
        let v = with_secret("s3cret");
        let token = hs256("s3cret", json!({"sub": "bob", "roles": "admin"}));
        assert_eq!(v.verify(&token, now()).expect("valid").roles, vec!["admin"]);

        let token = hs256("s3cret", json!({"sub": "bob", "roles": 5}));
        assert_eq!(
            err(v.verify(&token, now())).to_string(),
            "invalid token: 'roles' must be a string or a list of strings"
        );
    }

    #[test]
    fn reference_engine_token_shape_is_understood() {
        let v = with_secret("s3cret");
        let token = hs256(
            "s3cret",
            json!({"id": "admin", "info": {"name": "Arnold"}, "roles": ["admin"]}),
        );
        let id = v.verify(&token, now()).expect("valid");
        assert_eq!(
            (id.id.as_str(), id.roles, Value::Object(id.info)),
            (
                "admin",
                vec!["admin".to_string()],
                json!({"name": "Arnold"})
            )
        );
    }

    #[test]
    fn expiry_is_checked_against_the_given_time() {
        let v = with_secret("s3cret");
        let token = hs256("s3cret", json!({"sub": "alice", "exp": NOW}));
        assert!(matches!(
            err(v.verify(&token, now())),
            AuthError::TokenExpired
        ));
        assert_eq!(err(v.verify(&token, now())).to_string(), "token expired");
        // One second earlier it is still valid.
        let before = Timestamp::from_millis((NOW - 1) * 1000 + 999);
        assert!(v.verify(&token, before).is_ok());

        let token = hs256("s3cret", json!({"sub": "alice", "nbf": NOW + 1}));
        assert_eq!(
            err(v.verify(&token, now())).to_string(),
            "token not yet valid"
        );

        let token = hs256("s3cret", json!({"sub": "alice", "exp": "tomorrow"}));
        assert_eq!(
            err(v.verify(&token, now())).to_string(),
            "invalid token: 'exp' must be a number"
        );
    }

    #[test]
    fn wrong_secret_is_an_invalid_signature() {
        let v = with_secret("s3cret");
        let token = hs256("other", json!({"sub": "alice"}));
        let e = err(v.verify(&token, now()));
        assert!(matches!(e, AuthError::InvalidSignature));
        assert_eq!(e.to_string(), "invalid signature");
    }

    #[test]
    fn malformed_tokens() {
        let v = with_secret("s3cret");
        for token in ["", "abc", "a.b.c", "a.b"] {
            assert_eq!(
                err(v.verify(token, now())).to_string(),
                "invalid token: malformed JWT",
                "{token:?}"
            );
        }
        let token = hs256("s3cret", json!({"name": "nobody"}));
        assert_eq!(
            err(v.verify(&token, now())).to_string(),
            "invalid token: no 'sub' claim"
        );
    }

    #[test]
    fn issuer_is_required_when_configured() {
        let v = JwtVerifier::new(Some("s3cret"), None, Some("https://id.example"), None)
            .expect("verifier");
        let good = hs256("s3cret", json!({"sub": "a", "iss": "https://id.example"}));
        assert!(v.verify(&good, now()).is_ok());
        for claims in [
            json!({"sub": "a", "iss": "https://evil.example"}),
            json!({"sub": "a"}),
        ] {
            let e = err(v.verify(&hs256("s3cret", claims), now()));
            assert!(matches!(e, AuthError::WrongIssuer));
            assert_eq!(e.to_string(), "wrong issuer");
        }
    }

    #[test]
    fn rs256_with_a_pem_public_key() {
        let v = JwtVerifier::new(None, Some(RSA_PUBLIC), None, None).expect("verifier");
        let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("key");
        let claims = json!({"sub": "carol", "exp": NOW + 10});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("sign");
        assert_eq!(v.verify(&token, now()).expect("valid").id, "carol");

        // An HS256 token is refused: there is no secret, and the public key is no HMAC key.
        let forged = hs256(RSA_PUBLIC, json!({"sub": "mallory"}));
        assert_eq!(
            err(v.verify(&forged, now())).to_string(),
            "invalid token: HS256 tokens are not accepted by this node"
        );
        // An EdDSA token neither.
        let ed = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).expect("key");
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &ed).expect("sign");
        assert_eq!(
            err(v.verify(&token, now())).to_string(),
            "invalid token: EdDSA tokens are not accepted by this node"
        );
    }

    #[test]
    fn eddsa_with_a_pem_public_key() {
        let v = JwtVerifier::new(None, Some(ED_PUBLIC), None, None).expect("verifier");
        let key = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).expect("key");
        let claims = json!({"sub": "dave", "roles": ["ops"], "exp": NOW + 10});
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &key).expect("sign");
        let id = v.verify(&token, now()).expect("valid");
        assert_eq!(
            (id.id.as_str(), id.roles),
            ("dave", vec!["ops".to_string()])
        );

        // Tampering with the payload breaks the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let other = hs256("x", json!({"sub": "mallory", "exp": NOW + 10}));
        let forged_payload = other.split('.').nth(1).expect("payload");
        parts[1] = forged_payload;
        let e = err(v.verify(&parts.join("."), now()));
        assert!(matches!(e, AuthError::InvalidSignature), "{e}");

        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &json!({"sub": "dave", "exp": NOW - 1}),
            &key,
        )
        .expect("sign");
        assert!(matches!(
            err(v.verify(&expired, now())),
            AuthError::TokenExpired
        ));
    }

    #[test]
    fn bad_key_settings_name_the_setting() {
        let e = JwtVerifier::new(None, Some("not a key"), None, None).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("invalid auth.jwt.publicKey: expected a PEM public key (-----BEGIN PUBLIC KEY-----)")
        );
        let e = JwtVerifier::new(None, Some(RSA_PRIVATE), None, None).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("invalid auth.jwt.publicKey: this is a private key; configure the public key that belongs to it")
        );
        let garbage = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            JwtVerifier::new(None, Some(garbage), None, None),
            Err(AuthError::Config { ref setting, .. }) if setting == "auth.jwt.publicKey"
        ));
        assert!(matches!(
            JwtVerifier::new(Some("s"), None, None, Some("{id: ")),
            Err(AuthError::Config { ref setting, .. }) if setting == "auth.jwt.transform"
        ));
    }

    #[test]
    fn transform_maps_claims_to_id_roles_and_info() {
        let transform = "{id: email, roles: groups[?starts_with(@, 'lf-')], info: {name: join(' ', [given_name, family_name])}}";
        let v = JwtVerifier::new(Some("s3cret"), None, None, Some(transform)).expect("verifier");
        let token = hs256(
            "s3cret",
            json!({
                "sub": "8f3a", "email": "erin@example.com", "given_name": "Erin",
                "family_name": "Smith", "groups": ["lf-admin", "staff"], "exp": NOW + 60
            }),
        );
        let id = v.verify(&token, now()).expect("valid");
        assert_eq!(id.id, "erin@example.com");
        assert_eq!(id.roles, vec!["lf-admin"]);
        assert_eq!(Value::Object(id.info), json!({"name": "Erin Smith"}));

        // A result without an id is refused, and so is a failing evaluation.
        let token = hs256(
            "s3cret",
            json!({"sub": "8f3a", "given_name": "E", "family_name": "S", "exp": NOW + 60}),
        );
        assert_eq!(
            err(v.verify(&token, now())).to_string(),
            "invalid token: auth.jwt.transform gives no 'id'"
        );
        let token = hs256(
            "s3cret",
            json!({"sub": "8f3a", "email": "e@x", "exp": NOW + 60}),
        );
        assert!(err(v.verify(&token, now()))
            .to_string()
            .starts_with("invalid token: auth.jwt.transform: invalid type: join()"));
    }
}
