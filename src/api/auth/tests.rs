//! Tests of [`Auth`]: configuration, JWT users and their privileges, demo accounts, API keys
//! and the axum glue.

use super::*;
use crate::store::{ApiKeyStore, KeyIssuer, MemoryStore};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// The HS256 secret of the test nodes (a production node needs 32 bytes or more).
const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret";

/// 2025-01-01T00:00:00Z.
const NOW: i64 = 1_735_689_600;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_millis(secs * 1000)
}

fn now() -> Timestamp {
    at(NOW)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new())
}

fn config(secret: &str) -> AuthConfig {
    AuthConfig {
        jwt: Some(JwtConfig {
            secret: Some(secret.into()),
            // Most tokens of these tests have no `exp`; `expiry_is_required_in_production`
            // checks the default.
            require_expiry: false,
            ..JwtConfig::default()
        }),
        ..AuthConfig::default()
    }
}

/// A production node with HS256 secret [`SECRET`] and a `manager` role.
fn auth_with(store: Arc<MemoryStore>) -> Auth {
    let mut config = config(SECRET);
    config.roles.insert(
        "manager".into(),
        strings(&["scenario:read", "scenario:write"]),
    );
    Auth::new(config, false, store).expect("auth")
}

fn auth() -> Auth {
    auth_with(store())
}

fn hs256(secret: &str, claims: Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign")
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn login(auth: &Auth, token: &str, time: Timestamp) -> Result<User, AuthError> {
    auth.authenticate(Some(&bearer(token)), time)
}

fn admin(auth: &Auth) -> User {
    let token = hs256(SECRET, json!({"sub": "root", "roles": ["admin"]}));
    login(auth, &token, now()).expect("admin")
}

fn request(privileges: &[&str]) -> ApiKeyRequest {
    ApiKeyRequest {
        name: Some("ci".into()),
        privileges: strings(privileges),
        ..ApiKeyRequest::default()
    }
}

// --- configuration --------------------------------------------------------------------------

#[test]
fn defaults_are_admin_star_and_start_step() {
    let config = AuthConfig::default();
    assert_eq!(
        config.roles,
        BTreeMap::from([("admin".into(), strings(&["*"]))])
    );
    assert_eq!(
        config.default_privileges,
        strings(&["process:start", "process:step"])
    );
    let parsed: AuthConfig =
        serde_json::from_value(json!({"jwt": {"secret": "x"}})).expect("config");
    assert_eq!(parsed.roles, config.roles);
    assert_eq!(parsed.default_privileges, config.default_privileges);
    let parsed: AuthConfig = serde_json::from_value(json!({
        "roles": {"ops": ["process:super"]}, "defaultPrivileges": []
    }))
    .expect("config");
    assert_eq!(
        parsed.roles,
        BTreeMap::from([("ops".into(), strings(&["process:super"]))])
    );
    assert!(parsed.default_privileges.is_empty());
}

#[test]
fn production_refuses_to_start_without_a_jwt_key() {
    for jwt in [None, Some(JwtConfig::default())] {
        let config = AuthConfig {
            jwt,
            ..AuthConfig::default()
        };
        let e = Auth::new(config, false, store()).expect_err("refused");
        assert!(matches!(e, AuthError::NoJwtKey));
        assert_eq!(
            e.to_string(),
            "no JWT key configured: set auth.jwt.secret (HS256) or auth.jwt.publicKey \
             (RS256/EdDSA); only a development node runs without one"
        );
    }
}

#[test]
fn empty_keys_short_secrets_and_tokens_without_expiry_are_refused_in_production() {
    for (secret, public_key, setting) in [
        (Some(" "), None, "auth.jwt.secret"),
        (Some(""), None, "auth.jwt.secret"),
        (None, Some(""), "auth.jwt.publicKey"),
    ] {
        let config = AuthConfig {
            jwt: Some(JwtConfig {
                secret: secret.map(str::to_string),
                public_key: public_key.map(str::to_string),
                ..JwtConfig::default()
            }),
            ..AuthConfig::default()
        };
        for dev in [false, true] {
            let e = Auth::new(config.clone(), dev, store()).expect_err("refused");
            assert_eq!(
                e.to_string(),
                format!("invalid {setting}: it is empty; set a key, or leave the setting out")
            );
        }
    }
    let e =
        Auth::new(config("0123456789abcdef0123456789abcde"), false, store()).expect_err("31 bytes");
    assert_eq!(
        e.to_string(),
        "invalid auth.jwt.secret: an HS256 secret needs at least 32 bytes in production \
         mode; this one has 31"
    );
    assert!(Auth::new(config("0123456789abcdef0123456789abcdef"), false, store()).is_ok());
    assert!(
        Auth::new(config("short"), true, store()).is_ok(),
        "dev mode"
    );

    // `exp` is required by default in production, not in development mode.
    let strict = AuthConfig {
        jwt: Some(JwtConfig {
            secret: Some(SECRET.into()),
            ..JwtConfig::default()
        }),
        ..AuthConfig::default()
    };
    let forever = hs256(SECRET, json!({"sub": "alice"}));
    let auth = Auth::new(strict.clone(), false, store()).expect("auth");
    let e = login(&auth, &forever, now()).expect_err("no exp");
    assert_eq!(
        (e.status(), e.to_string()),
        (
            StatusCode::UNAUTHORIZED,
            "invalid token: the token has no expiry ('exp'), which this node requires".into()
        )
    );
    let expiring = hs256(SECRET, json!({"sub": "alice", "exp": NOW + 60}));
    assert!(login(&auth, &expiring, now()).is_ok());
    let dev = Auth::new(strict, true, store()).expect("dev auth");
    assert!(login(&dev, &forever, now()).is_ok());
}

#[test]
fn development_without_a_secret_uses_the_dev_secret() {
    let auth = Auth::new(AuthConfig::default(), true, store()).expect("dev auth");
    assert!(auth.dev());
    let token = hs256(DEV_JWT_SECRET, json!({"sub": "dev"}));
    assert_eq!(
        login(&auth, &token, now()).expect("user").id.as_deref(),
        Some("dev")
    );

    // A production node never accepts the dev secret.
    let token = hs256(DEV_JWT_SECRET, json!({"sub": "dev"}));
    assert!(matches!(
        login(&auth_with(store()), &token, now()),
        Err(AuthError::InvalidSignature)
    ));
}

#[test]
fn unknown_privileges_in_the_configuration_are_refused() {
    let mut config = config(SECRET);
    config.roles.insert("ops".into(), strings(&["process:*"]));
    let e = Auth::new(config, false, store()).expect_err("refused");
    assert!(
        matches!(&e, AuthError::Config { setting, .. } if setting == "auth.roles.ops"),
        "{e}"
    );
    let mut config = config_default_privileges(&["proces:start"]);
    config.jwt = Some(JwtConfig {
        secret: Some(SECRET.into()),
        ..JwtConfig::default()
    });
    let e = Auth::new(config, false, store()).expect_err("refused");
    assert!(e.to_string().starts_with(
        "invalid auth.defaultPrivileges: unknown privilege 'proces:start' (known: *, scenario:read,"
    ));
}

fn config_default_privileges(list: &[&str]) -> AuthConfig {
    AuthConfig {
        default_privileges: strings(list),
        ..AuthConfig::default()
    }
}

// --- JWT users --------------------------------------------------------------------------------

#[test]
fn missing_and_malformed_headers() {
    let auth = auth();
    let e = auth.authenticate(None, now()).expect_err("missing");
    assert!(matches!(e, AuthError::Missing));
    assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    for header in ["", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "token"] {
        let e = auth
            .authenticate(Some(header), now())
            .expect_err("malformed");
        assert!(matches!(e, AuthError::Malformed), "{header:?}: {e}");
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    }
    let token = hs256(SECRET, json!({"sub": "a"}));
    assert!(auth
        .authenticate(Some(&format!("bearer  {token} ")), now())
        .is_ok());
}

#[test]
fn jwt_hs256_valid_expired_wrong_secret_wrong_issuer() {
    let auth = auth();
    let token = hs256(
        SECRET,
        json!({"sub": "alice", "name": "Alice", "exp": NOW + 1}),
    );
    let user = login(&auth, &token, now()).expect("valid");
    assert_eq!(
        user,
        User {
            id: Some("alice".into()),
            roles: vec![],
            info: json!({"name": "Alice"})
                .as_object()
                .cloned()
                .expect("object"),
            privileges: strings(&["process:start", "process:step"]),
            restrictions: None,
            key: None,
        }
    );

    let e = login(&auth, &token, at(NOW + 1)).expect_err("expired");
    assert_eq!(
        (e.status(), e.to_string()),
        (StatusCode::UNAUTHORIZED, "token expired".into())
    );

    let e =
        login(&auth, &hs256("wrong", json!({"sub": "alice"})), now()).expect_err("wrong secret");
    assert_eq!(
        (e.status(), e.to_string()),
        (StatusCode::UNAUTHORIZED, "invalid signature".into())
    );

    let mut config = config(SECRET);
    config.jwt.as_mut().expect("jwt").issuer = Some("https://id.example".into());
    let auth = Auth::new(config, false, store()).expect("auth");
    let e = login(
        &auth,
        &hs256(SECRET, json!({"sub": "a", "iss": "https://x.example"})),
        now(),
    )
    .expect_err("wrong issuer");
    assert_eq!(
        (e.status(), e.to_string()),
        (StatusCode::UNAUTHORIZED, "wrong issuer".into())
    );
    let ok = hs256(SECRET, json!({"sub": "a", "iss": "https://id.example"}));
    assert!(login(&auth, &ok, now()).is_ok());
}

#[test]
fn roles_map_to_privileges() {
    let auth = auth();
    let user = |roles: Value| {
        login(
            &auth,
            &hs256(SECRET, json!({"sub": "u", "roles": roles})),
            now(),
        )
        .expect("user")
    };

    let admin = user(json!(["admin"]));
    assert_eq!(
        admin.privileges,
        strings(&["process:start", "process:step", "*"])
    );
    assert!(admin.can("process:super") && admin.can("apikey:revoke"));

    let manager = user(json!("manager"));
    assert_eq!(
        manager.privileges,
        strings(&[
            "process:start",
            "process:step",
            "scenario:read",
            "scenario:write"
        ])
    );
    assert!(manager.can("scenario:write") && !manager.can("process:super"));
    assert!(manager.require("scenario:read").is_ok());
    let e = manager.require("apikey:issue").expect_err("forbidden");
    assert_eq!(e.status(), StatusCode::FORBIDDEN);
    assert_eq!(e.to_string(), "the 'apikey:issue' privilege is required");

    let both = user(json!(["manager", "admin", "nobody"]));
    assert_eq!(
        both.privileges,
        strings(&[
            "process:start",
            "process:step",
            "scenario:read",
            "scenario:write",
            "*"
        ])
    );
    let plain = user(json!(["nobody"]));
    assert_eq!(
        plain.privileges,
        strings(&["process:start", "process:step"])
    );
    assert!(!plain.can("scenario:read"));
}

#[test]
fn transform_applies_to_authenticate() {
    let mut config = config(SECRET);
    config.jwt.as_mut().expect("jwt").transform =
        Some("{id: uid, roles: realm.roles, info: {name: name}}".into());
    let auth = Auth::new(config, false, store()).expect("auth");
    let token = hs256(
        SECRET,
        json!({"sub": "x", "uid": "u-7", "name": "Ursula", "realm": {"roles": ["admin"]}}),
    );
    let user = login(&auth, &token, now()).expect("user");
    assert_eq!(user.id.as_deref(), Some("u-7"));
    assert_eq!(user.roles, strings(&["admin"]));
    assert_eq!(Value::Object(user.info.clone()), json!({"name": "Ursula"}));
    assert!(user.can("*"));
}

// --- demo accounts ----------------------------------------------------------------------------

#[test]
fn demo_accounts_authenticate_with_their_roles() {
    let auth = Auth::new(AuthConfig::default(), true, store()).expect("dev auth");
    let accounts = auth.demo_accounts(now());
    let summary: Vec<(&str, Vec<String>)> = accounts
        .iter()
        .map(|a| (a.id.as_str(), a.roles.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("alice", strings(&["support"])),
            ("bob", strings(&["management"])),
            ("claire", strings(&["client"])),
            ("david", vec![]),
            ("admin", strings(&["admin"])),
        ]
    );
    for account in &accounts {
        let user = login(&auth, &account.token, now()).expect("demo token");
        assert_eq!(user.id.as_deref(), Some(account.id.as_str()));
        assert_eq!(user.roles, account.roles);
        assert_eq!(user.info, account.info);
        assert_eq!(user.can("*"), account.id == "admin");
        // Valid for 24 hours.
        assert!(login(&auth, &account.token, at(NOW + DEMO_TOKEN_SECS - 1)).is_ok());
        assert!(matches!(
            login(&auth, &account.token, at(NOW + DEMO_TOKEN_SECS)),
            Err(AuthError::TokenExpired)
        ));
    }
    assert_eq!(
        serde_json::to_value(&accounts[4]).expect("json")["info"],
        json!({"name": "Arnold", "email": "admin@example.com"})
    );

    // A production node has none.
    assert!(auth_with(store()).demo_accounts(now()).is_empty());
}

#[test]
fn demo_tokens_carry_the_configured_issuer() {
    let config = AuthConfig {
        jwt: Some(JwtConfig {
            issuer: Some("dev-node".into()),
            ..JwtConfig::default()
        }),
        ..AuthConfig::default()
    };
    let auth = Auth::new(config, true, store()).expect("dev auth");
    let accounts = auth.demo_accounts(now());
    assert_eq!(accounts.len(), 5);
    assert!(login(&auth, &accounts[0].token, now()).is_ok());
}

// --- API keys ---------------------------------------------------------------------------------

#[test]
fn api_key_issue_and_use() {
    let store = store();
    let auth = auth_with(store.clone());
    let mut req = request(&["process:start", "scenario:read"]);
    req.processes = Some(ProcessRestrictions::One(ProcessRestriction {
        scenario: Some("s1".into()),
        actors: Some(strings(&["client"])),
        actions: None,
    }));
    let (key, token) = auth
        .issue_api_key(&admin(&auth), req, now())
        .expect("issued");

    assert_eq!(token.len(), API_KEY_LEN);
    assert!(token.starts_with("lfl_"));
    assert_eq!(key.name.as_deref(), Some("ci"));
    assert_eq!(key.privileges, strings(&["process:start", "scenario:read"]));
    assert_eq!(
        key.processes,
        json!({"scenario": "s1", "actors": ["client"]})
    );
    assert_eq!(key.issued, now());
    assert_eq!(key.expiration, Some(at(NOW + 30 * 86_400)));
    assert!(!key.revoked && key.last_used.is_none());
    // Only the hash is stored.
    assert_eq!(key.hash, apikey::token_hash(&token));
    let stored = store.api_key(&key.id).expect("read").expect("stored");
    assert_eq!(stored, key);
    assert!(!serde_json::to_string(&stored)
        .expect("json")
        .contains(&token[4..]));
    assert!(api_key_json(&stored).get("hash").is_none());
    assert_eq!(api_key_json(&stored)["id"], json!(key.id));

    assert_eq!(
        key.issuer,
        Some(KeyIssuer {
            user: Some("root".into()),
            roles: strings(&["admin"]),
            key: None,
        })
    );

    // The key acts on behalf of its issuer.
    let user = login(&auth, &token, at(NOW + 5)).expect("api key user");
    assert_eq!(user.id.as_deref(), Some("root"));
    assert_eq!(user.roles, strings(&["admin"]));
    assert_eq!(
        user.privileges,
        strings(&["process:start", "scenario:read"])
    );
    assert_eq!(user.api_key(), Some(key.id.as_str()));
    assert_eq!(user.info["name"], json!("ci"));
    assert_eq!(
        user.restrictions,
        Some(json!({"scenario": "s1", "actors": ["client"]}))
    );
    assert!(user.can("scenario:read") && !user.can("process:step"));
    assert!(user.allows("s1", Some("client"), Some("anything")));
    assert!(!user.allows("s1", Some("seller"), None));
    assert!(!user.allows("s2", None, None));

    // lastUsed is touched, at most once a minute.
    let last_used = |id: &str| store.api_key(id).expect("read").expect("key").last_used;
    assert_eq!(last_used(&key.id), Some(at(NOW + 5)));
    login(&auth, &token, at(NOW + 30)).expect("again");
    assert_eq!(last_used(&key.id), Some(at(NOW + 5)));
    login(&auth, &token, at(NOW + 65)).expect("later");
    assert_eq!(last_used(&key.id), Some(at(NOW + 65)));

    assert_eq!(auth.list_api_keys().expect("list").len(), 1);
}

#[test]
fn a_key_issued_by_a_key_is_capped_and_stops_with_it() {
    let store = store();
    let auth = auth_with(store.clone());
    let mut req = request(&["apikey:issue", "process:step"]);
    req.expiration_days = Some(2);
    let (parent, parent_token) = auth
        .issue_api_key(&admin(&auth), req, now())
        .expect("parent");
    let by_parent = login(&auth, &parent_token, now()).expect("parent user");
    let mut req = request(&["process:step"]);
    req.expiration_days = Some(MAX_EXPIRATION_DAYS);
    let (child, child_token) = auth.issue_api_key(&by_parent, req, now()).expect("child");
    assert_eq!(
        child.expiration, parent.expiration,
        "capped at the parent's"
    );
    assert_eq!(
        child.issuer.as_ref().and_then(|i| i.key.as_deref()),
        Some(parent.id.as_str())
    );
    assert_eq!(
        login(&auth, &child_token, now())
            .expect("child user")
            .id
            .as_deref(),
        Some("root")
    );

    // A parent that expires earlier than its child (as a key stored before the cap could)
    // takes the child with it.
    let mut shorter = parent.clone();
    shorter.expiration = Some(at(NOW + 60));
    store.put_api_key(&shorter).expect("store");
    let mut longer = child.clone();
    longer.expiration = None;
    store.put_api_key(&longer).expect("store");
    assert!(login(&auth, &child_token, at(NOW + 30)).is_ok());
    let e = login(&auth, &child_token, at(NOW + 60)).expect_err("parent expired");
    assert!(matches!(e, AuthError::IssuerExpired), "{e}");
    auth.revoke_api_key(&parent.id).expect("revoke");
    let e = login(&auth, &child_token, at(NOW + 30)).expect_err("parent revoked");
    assert!(matches!(e, AuthError::IssuerRevoked), "{e}");
}

#[test]
fn a_key_without_an_issuer_acts_for_nobody() {
    let store = store();
    let auth = auth_with(store.clone());
    let (key, token) = auth
        .issue_api_key(&admin(&auth), request(&["process:step"]), now())
        .expect("issued");
    let legacy = ApiKey {
        issuer: None,
        ..key
    };
    store.put_api_key(&legacy).expect("store");
    let user = login(&auth, &token, now()).expect("user");
    assert_eq!((user.id, user.roles), (None, vec![]));
}

#[test]
fn api_key_revoke() {
    let auth = auth();
    let (key, token) = auth
        .issue_api_key(&admin(&auth), request(&["process:step"]), now())
        .expect("issued");
    auth.revoke_api_key(&key.id).expect("revoked");
    let e = login(&auth, &token, now()).expect_err("refused");
    assert_eq!(
        (e.status(), e.to_string()),
        (StatusCode::UNAUTHORIZED, "API key revoked".into())
    );
    assert!(auth.list_api_keys().expect("list")[0].revoked);
    // Revoking twice changes nothing; an unknown id is 404.
    assert!(auth.revoke_api_key(&key.id).is_ok());
    let e = auth.revoke_api_key("nope").expect_err("not found");
    assert!(matches!(&e, AuthError::NotFound { id } if id == "nope"));
    assert_eq!(e.status(), StatusCode::NOT_FOUND);
    assert_eq!(e.to_string(), "API key 'nope' not found");
}

#[test]
fn api_key_expires() {
    let auth = auth();
    let mut req = request(&["process:step"]);
    req.expiration_days = Some(2);
    let (key, token) = auth
        .issue_api_key(&admin(&auth), req, now())
        .expect("issued");
    assert_eq!(key.expiration, Some(at(NOW + 2 * 86_400)));
    assert!(login(&auth, &token, at(NOW + 2 * 86_400 - 1)).is_ok());
    let e = login(&auth, &token, at(NOW + 2 * 86_400)).expect_err("expired");
    assert_eq!(
        (e.status(), e.to_string()),
        (StatusCode::UNAUTHORIZED, "API key expired".into())
    );

    // An explicit expiration wins over expirationDays.
    let mut req = request(&["process:step"]);
    req.expiration = Some(at(NOW + 3600));
    req.expiration_days = Some(10);
    let (key, _) = auth
        .issue_api_key(&admin(&auth), req, now())
        .expect("issued");
    assert_eq!(key.expiration, Some(at(NOW + 3600)));
}

#[test]
fn api_key_typo_is_refused_by_the_checksum_unknown_key_by_the_store() {
    let auth = auth();
    let (_, token) = auth
        .issue_api_key(&admin(&auth), request(&["process:step"]), now())
        .expect("issued");
    // Change one character of the random part: the checksum no longer matches, so the store
    // isn't asked (a lookup would have answered "unknown API key").
    let i = 7;
    let swapped = if token.as_bytes()[i] == b'x' {
        "y"
    } else {
        "x"
    };
    let typo = format!("{}{}{}", &token[..i], swapped, &token[i + 1..]);
    let e = login(&auth, &typo, now()).expect_err("typo");
    assert!(matches!(e, AuthError::MalformedApiKey));
    assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        e.to_string(),
        "malformed API key: the checksum does not match"
    );

    // A well-formed token of no key.
    let other = apikey::generate_token();
    let e = login(&auth, &other, now()).expect_err("unknown");
    assert_eq!(
        (e.status(), e.to_string()),
        (StatusCode::UNAUTHORIZED, "unknown API key".into())
    );
}

#[test]
fn api_key_cannot_grant_more_than_the_issuer_has() {
    let auth = auth();
    let manager = login(
        &auth,
        &hs256(SECRET, json!({"sub": "m", "roles": ["manager"]})),
        now(),
    )
    .expect("manager");
    // Without apikey:issue nothing can be issued.
    let e = auth
        .issue_api_key(&manager, request(&["scenario:read"]), now())
        .expect_err("forbidden");
    assert_eq!(e.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        e.to_string(),
        "issuing API keys requires the 'apikey:issue' privilege"
    );

    let mut config = config(SECRET);
    config
        .roles
        .insert("issuer".into(), strings(&["apikey:issue", "scenario:read"]));
    let auth = Auth::new(config, false, store()).expect("auth");
    let issuer = login(
        &auth,
        &hs256(SECRET, json!({"sub": "i", "roles": "issuer"})),
        now(),
    )
    .expect("issuer");
    assert!(auth
        .issue_api_key(&issuer, request(&["scenario:read", "process:start"]), now())
        .is_ok());
    for wanted in ["scenario:write", "*"] {
        let e = auth
            .issue_api_key(&issuer, request(&["scenario:read", wanted]), now())
            .expect_err("forbidden");
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            e.to_string(),
            format!("cannot grant the privilege '{wanted}', which the issuer does not have")
        );
    }
}

#[test]
fn invalid_api_key_requests() {
    let auth = auth();
    let admin = admin(&auth);
    let bad = |req: ApiKeyRequest| {
        let e = auth.issue_api_key(&admin, req, now()).expect_err("refused");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{e}");
        e.to_string()
    };
    assert_eq!(bad(request(&[])), "an API key needs at least one privilege");
    assert_eq!(
        bad(request(&["process:read"])),
        "unknown privilege 'process:read' (known: *, scenario:read, scenario:write, \
         apikey:issue, apikey:revoke, process:super, process:start, process:step)"
    );
    let mut req = request(&["process:step"]);
    req.expiration_days = Some(0);
    assert_eq!(bad(req), "expirationDays must be between 1 and 36500");
    let mut req = request(&["process:step"]);
    req.expiration = Some(now());
    assert_eq!(bad(req), "expiration must be in the future");
    assert!(auth.list_api_keys().expect("list").is_empty());
}

#[test]
fn restricted_keys_pass_their_restrictions_on() {
    let auth = auth();
    let mut req = request(&["apikey:issue", "process:step"]);
    req.processes = Some(ProcessRestrictions::Any(vec![ProcessRestriction {
        scenario: Some("s1".into()),
        ..ProcessRestriction::default()
    }]));
    let (_, token) = auth
        .issue_api_key(&admin(&auth), req, now())
        .expect("issued");
    let restricted = login(&auth, &token, now()).expect("key user");

    let (child, _) = auth
        .issue_api_key(&restricted, request(&["process:step"]), now())
        .expect("child");
    assert_eq!(child.processes, json!([{"scenario": "s1"}]));

    let mut req = request(&["process:step"]);
    req.processes = Some(ProcessRestrictions::One(ProcessRestriction {
        scenario: Some("s2".into()),
        ..ProcessRestriction::default()
    }));
    let e = auth
        .issue_api_key(&restricted, req, now())
        .expect_err("forbidden");
    assert_eq!(e.status(), StatusCode::FORBIDDEN);

    // An empty list is no restriction.
    let mut req = request(&["process:step"]);
    req.processes = Some(ProcessRestrictions::Any(vec![]));
    let (key, token) = auth
        .issue_api_key(&admin(&auth), req, now())
        .expect("issued");
    assert_eq!(key.processes, Value::Null);
    let user = login(&auth, &token, now()).expect("user");
    assert_eq!(user.restrictions, None);
    assert!(user.allows("any", Some("one"), Some("thing")));
}

#[test]
fn api_key_request_from_json() {
    let req: ApiKeyRequest = serde_json::from_value(json!({
        "name": "deploy", "privileges": ["scenario:write"], "expiration": "2025-02-01T00:00:00.000Z",
        "processes": [{"scenario": "s", "actors": ["a"], "actions": ["go"]}], "description": "ignored"
    }))
    .expect("request");
    assert_eq!(req.expiration, Timestamp::parse("2025-02-01T00:00:00Z"));
    assert_eq!(req.expiration_days, None);
    assert!(matches!(req.processes, Some(ProcessRestrictions::Any(ref l)) if l.len() == 1));
}

// --- HTTP glue --------------------------------------------------------------------------------

async fn body_json(response: Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).expect("json body")
}

#[tokio::test]
async fn errors_are_json_with_their_status() {
    let response = AuthError::TokenExpired.into_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    assert_eq!(
        body_json(response).await,
        json!({"error": {"message": "token expired"}})
    );

    let response = AuthError::Forbidden("no".into()).into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    assert_eq!(
        body_json(response).await,
        json!({"error": {"message": "no"}})
    );

    // Server errors don't leak details.
    let response = AuthError::Store(store::Error::Corrupt("api key x".into())).into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        body_json(response).await,
        json!({"error": {"message": "internal server error"}})
    );
}

fn parts(authorization: Option<&str>) -> Parts {
    let mut builder = axum::http::Request::builder().uri("/processes");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(()).expect("request").into_parts().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn extractor_reads_the_authorization_header() {
    let auth = Arc::new(auth());
    let far = chrono::Utc::now().timestamp() + 3600;
    let token = hs256(SECRET, json!({"sub": "alice", "exp": far}));

    let user =
        <User as FromRequestParts<_>>::from_request_parts(&mut parts(Some(&bearer(&token))), &auth)
            .await
            .expect("user");
    assert_eq!(user.id.as_deref(), Some("alice"));

    let e = <User as FromRequestParts<_>>::from_request_parts(&mut parts(None), &auth)
        .await
        .expect_err("missing");
    assert!(matches!(e, AuthError::Missing));

    // API keys are checked on a blocking thread.
    let (_, key) = auth
        .issue_api_key(
            &admin(&auth),
            request(&["scenario:read"]),
            Timestamp(chrono::Utc::now()),
        )
        .expect("issued");
    let user =
        <User as FromRequestParts<_>>::from_request_parts(&mut parts(Some(&bearer(&key))), &auth)
            .await
            .expect("api key user");
    assert!(user.can("scenario:read"));

    // Option<User>: none without a header, but an invalid header is still refused.
    let none = <User as OptionalFromRequestParts<_>>::from_request_parts(&mut parts(None), &auth)
        .await
        .expect("optional");
    assert_eq!(none, None);
    let e = <User as OptionalFromRequestParts<_>>::from_request_parts(
        &mut parts(Some("Bearer lfl_nope")),
        &auth,
    )
    .await
    .expect_err("refused");
    assert!(matches!(e, AuthError::MalformedApiKey));
}
