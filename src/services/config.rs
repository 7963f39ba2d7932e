//! The `services:` section of the node configuration: a map of service name to provider and
//! settings, checked when the node starts. Every error names the key (`services.mail.url`)
//! and where it came from (the config file or `LETSFLOW_SERVICES`).

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// A service setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid service setting {key} (from {origin}): {problem}")]
pub struct ConfigError {
    /// The dotted key, like `services.mail.url`.
    pub key: String,
    /// Where the `services` map came from: the config file or `LETSFLOW_SERVICES`.
    pub origin: String,
    /// What is wrong, and what is expected instead.
    pub problem: String,
}

/// One configured service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// The service name: notify entries name it, its actor is `service:NAME`.
    pub name: String,
    /// How it is reached.
    pub provider: ProviderConfig,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// Deliveries to this service in flight at most. Default 4.
    pub concurrency: usize,
}

/// The provider of a service and its settings (SPEC 7).
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderConfig {
    /// An HTTP(S) endpoint.
    Webhook(WebhookConfig),
    /// A ZeroMQ socket.
    ZeroMq(ZeroMqConfig),
    /// An AMQP 0-9-1 broker.
    Amqp(AmqpConfig),
}

impl ProviderConfig {
    /// `webhook`, `zeromq` or `amqp`.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderConfig::Webhook(_) => "webhook",
            ProviderConfig::ZeroMq(_) => "zeromq",
            ProviderConfig::Amqp(_) => "amqp",
        }
    }
}

/// `provider: webhook`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The HTTP method. Default `POST`.
    pub method: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// The whole request, answer included, may take this long. Default 10 s.
    pub timeout: Duration,
    /// Redirects followed at most; one more is refused (a loop ends there). Default 3.
    pub max_redirects: usize,
    /// The largest answer body read, in bytes; a larger answer is refused. Default 1 MiB.
    pub max_answer: usize,
}

/// The kind of ZeroMQ socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroMqKind {
    /// `push`: fire and forget.
    Push,
    /// `reply`: request/reply (a REQ socket here, REP at the service): the reply is the
    /// response.
    Reply,
}

/// `provider: zeromq`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZeroMqConfig {
    /// `push` or `reply`.
    pub kind: ZeroMqKind,
    /// The endpoint to connect to, like `tcp://127.0.0.1:5555`.
    pub address: String,
    /// Sending, and for `reply` the reply, may take this long. Default 10 s.
    pub timeout: Duration,
}

/// `provider: amqp`.
#[derive(Debug, Clone, PartialEq)]
pub struct AmqpConfig {
    /// `amqp://user:password@host:port/vhost`.
    pub url: String,
    /// The exchange to publish to (default `""`, the default exchange).
    pub exchange: String,
    /// The routing key (with the default exchange: the queue name).
    pub routing_key: String,
    /// Wait for a reply: `None` is fire and forget; `Some(None)` replies to a queue of the
    /// node's own (exclusive, named by the broker); `Some(Some(q))` to queue `q`.
    pub reply: Option<Option<String>>,
    /// How long to wait for the reply. Default 30 s.
    pub response_timeout: Duration,
}

/// Exponential backoff with jitter: the n-th retry waits about `initial · 2ⁿ⁻¹`, at most
/// `max`, drawn between half and all of it; after `max_attempts` failed attempts the
/// notification is parked as failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Failed attempts before parking. Default 10.
    pub max_attempts: u32,
    /// The first retry delay. Default 1 s.
    pub initial: Duration,
    /// The longest retry delay. Default 1 hour.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The delay before the retry after `attempts` failed attempts, given a random `jitter`
    /// in `[0, 1)`: between half and all of `initial · 2^(attempts-1)`, capped at `max`.
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let exponent = attempts.saturating_sub(1).min(40) as i32;
        let full = (self.initial.as_secs_f64() * 2f64.powi(exponent)).min(self.max.as_secs_f64());
        Duration::from_secs_f64(full * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

/// Default deliveries in flight per service.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Reads the `services` map (`origin` names where it came from, for messages).
pub fn parse_services(value: &Value, origin: &str) -> Result<Vec<ServiceConfig>, ConfigError> {
    let fail = |key: String, problem: String| ConfigError {
        key,
        origin: origin.to_string(),
        problem,
    };
    let map = match value {
        Value::Null => return Ok(vec![]),
        Value::Object(map) => map,
        other => {
            return Err(fail(
                "services".into(),
                format!(
                    "expected a map of service name to settings, not {}",
                    kind(other)
                ),
            ))
        }
    };
    let mut services = Vec::new();
    for (name, settings) in map {
        let at = |key: &str| format!("services.{name}.{key}");
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(fail(
                format!("services.{name}"),
                "a service name is one word, as in `service:NAME`".into(),
            ));
        }
        let Value::Object(settings) = settings else {
            return Err(fail(
                format!("services.{name}"),
                format!("expected a map of settings, not {}", kind(settings)),
            ));
        };
        let mut s = Settings {
            map: settings.clone(),
            name,
            origin,
            known: vec![],
        };
        let provider = s.text("provider")?.ok_or_else(|| {
            fail(
                at("provider"),
                "missing; expected webhook, zeromq or amqp".into(),
            )
        })?;
        let provider = match provider.as_str() {
            "webhook" => ProviderConfig::Webhook(webhook(&mut s)?),
            "zeromq" => ProviderConfig::ZeroMq(zeromq(&mut s)?),
            "amqp" => ProviderConfig::Amqp(amqp(&mut s)?),
            other => {
                return Err(fail(
                    at("provider"),
                    format!("unknown provider '{other}'; expected webhook, zeromq or amqp"),
                ))
            }
        };
        if !provider_built(&provider) {
            return Err(fail(
                at("provider"),
                format!(
                    "this build has no {0} provider (build with --features {0})",
                    provider.name()
                ),
            ));
        }
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: s
                .count("maxAttempts", 1, 1000)?
                .map_or(defaults.max_attempts, |n| n as u32),
            initial: s.duration("retryDelay")?.unwrap_or(defaults.initial),
            max: s.duration("maxRetryDelay")?.unwrap_or(defaults.max),
        };
        if retry.max < retry.initial {
            return Err(fail(
                at("maxRetryDelay"),
                "must not be shorter than retryDelay".into(),
            ));
        }
        let concurrency = s
            .count("concurrency", 1, 1000)?
            .unwrap_or(DEFAULT_CONCURRENCY);
        s.finish()?;
        services.push(ServiceConfig {
            name: name.clone(),
            provider,
            retry,
            concurrency,
        });
    }
    Ok(services)
}

fn provider_built(provider: &ProviderConfig) -> bool {
    match provider {
        ProviderConfig::Webhook(_) => true,
        ProviderConfig::ZeroMq(_) => cfg!(feature = "zeromq"),
        ProviderConfig::Amqp(_) => cfg!(feature = "amqp"),
    }
}

fn webhook(s: &mut Settings<'_>) -> Result<WebhookConfig, ConfigError> {
    let url = s.required("url", "an http:// or https:// URL")?;
    let parsed = reqwest::Url::parse(&url).ok();
    if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
        return Err(s.fail("url", format!("'{url}' is not an http:// or https:// URL")));
    }
    let method = s.text("method")?.unwrap_or_else(|| "POST".into());
    let method = method.to_ascii_uppercase();
    if !matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        return Err(s.fail(
            "method",
            format!("'{method}' cannot carry a message; expected POST, PUT or PATCH"),
        ));
    }
    let mut headers = BTreeMap::new();
    match s.value("headers") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Value::String(v) => v,
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(s.fail(
                            &format!("headers.{name}"),
                            format!("expected text, not {}", kind(&other)),
                        ))
                    }
                };
                let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                    && reqwest::header::HeaderValue::from_str(&value).is_ok();
                if !valid {
                    return Err(s.fail(
                        &format!("headers.{name}"),
                        "not a valid HTTP header name and value".into(),
                    ));
                }
                headers.insert(name, value);
            }
        }
        Some(other) => {
            return Err(s.fail(
                "headers",
                format!(
                    "expected a map of header name to value, not {}",
                    kind(&other)
                ),
            ))
        }
    }
    Ok(WebhookConfig {
        url,
        method,
        headers,
        timeout: s.duration("timeout")?.unwrap_or(Duration::from_secs(10)),
        max_redirects: s.count("maxRedirects", 0, 20)?.unwrap_or(3),
        max_answer: s
            .count("maxAnswer", 1, 64 * 1024 * 1024)?
            .unwrap_or(1024 * 1024),
    })
}

fn zeromq(s: &mut Settings<'_>) -> Result<ZeroMqConfig, ConfigError> {
    let kind = match s.required("type", "push or reply")?.as_str() {
        "push" => ZeroMqKind::Push,
        "reply" => ZeroMqKind::Reply,
        other => {
            return Err(s.fail(
                "type",
                format!("unknown socket type '{other}'; expected push or reply"),
            ))
        }
    };
    let address = s.required("address", "an endpoint like tcp://127.0.0.1:5555")?;
    if !address.starts_with("tcp://") {
        return Err(s.fail(
            "address",
            format!("'{address}' is not a tcp:// endpoint, like tcp://127.0.0.1:5555"),
        ));
    }
    Ok(ZeroMqConfig {
        kind,
        address,
        timeout: s.duration("timeout")?.unwrap_or(Duration::from_secs(10)),
    })
}

fn amqp(s: &mut Settings<'_>) -> Result<AmqpConfig, ConfigError> {
    let url = s.required(
        "url",
        "an amqp:// URL, like amqp://guest:guest@127.0.0.1:5672",
    )?;
    if !url.starts_with("amqp://") {
        return Err(s.fail(
            "url",
            format!("'{url}' is not an amqp:// URL (amqps is not built in)"),
        ));
    }
    let exchange = s.text("exchange")?.unwrap_or_default();
    let routing_key = s.text("routingKey")?.unwrap_or_default();
    if exchange.is_empty() && routing_key.is_empty() {
        return Err(s.fail(
            "routingKey",
            "missing; with the default exchange the routing key names the queue".into(),
        ));
    }
    let reply_flag = match s.text("reply")? {
        None => false,
        Some(text) => match text.as_str() {
            "true" => true,
            "false" => false,
            other => return Err(s.fail("reply", format!("'{other}' is not true or false"))),
        },
    };
    let reply_to = s.text("replyTo")?;
    let reply = match (reply_flag, reply_to) {
        (_, Some(queue)) => Some(Some(queue)),
        (true, None) => Some(None),
        (false, None) => None,
    };
    Ok(AmqpConfig {
        url,
        exchange,
        routing_key,
        reply,
        response_timeout: s
            .duration("responseTimeout")?
            .unwrap_or(Duration::from_secs(30)),
    })
}

/// The settings of one service, taken key by key; what is left over is unknown.
struct Settings<'a> {
    map: Map<String, Value>,
    name: &'a str,
    origin: &'a str,
    known: Vec<&'static str>,
}

impl Settings<'_> {
    fn fail(&self, key: &str, problem: String) -> ConfigError {
        ConfigError {
            key: format!("services.{}.{key}", self.name),
            origin: self.origin.to_string(),
            problem,
        }
    }

    fn value(&mut self, key: &'static str) -> Option<Value> {
        self.known.push(key);
        self.map.remove(key).filter(|v| !v.is_null())
    }

    fn text(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(self.fail(key, format!("expected text, not {}", kind(&other)))),
        }
    }

    fn required(&mut self, key: &'static str, expected: &str) -> Result<String, ConfigError> {
        match self.text(key)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(self.fail(key, format!("missing; expected {expected}"))),
        }
    }

    fn duration(&mut self, key: &'static str) -> Result<Option<Duration>, ConfigError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        crate::scenario::parse_period(&value)
            .ok()
            .filter(|secs| *secs > 0.0 && *secs <= 86_400.0)
            .map(|secs| Some(Duration::from_secs_f64(secs)))
            .ok_or_else(|| {
                self.fail(
                    key,
                    format!(
                        "'{}' is not a period above 0 and at most a day, like 10, 0.5 or '30 seconds'",
                        shown(&value)
                    ),
                )
            })
    }

    fn count(
        &mut self,
        key: &'static str,
        min: usize,
        max: usize,
    ) -> Result<Option<usize>, ConfigError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        text.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                self.fail(
                    key,
                    format!("'{text}' is not a whole number from {min} to {max}"),
                )
            })
    }

    fn finish(self) -> Result<(), ConfigError> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(key) => Err(self.fail(
                key,
                format!("unknown setting (known: {})", self.known.join(", ")),
            )),
        }
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Vec<ServiceConfig>, ConfigError> {
        parse_services(&value, "letsflow.yaml")
    }

    fn error(value: Value) -> (String, String) {
        let e = parse(value).expect_err("invalid");
        (e.key.clone(), e.to_string())
    }

    #[test]
    fn providers_with_their_defaults() {
        let services = parse(json!({
            "mail": {"provider": "webhook", "url": "http://127.0.0.1:3000/hook",
                     "headers": {"Authorization": "Bearer x"}, "timeout": "5 seconds"},
            "queue": {"provider": "zeromq", "type": "push", "address": "tcp://127.0.0.1:5555",
                      "maxAttempts": 3, "retryDelay": 0.5, "maxRetryDelay": 10, "concurrency": 2},
            "rabbit": {"provider": "amqp", "url": "amqp://guest:guest@127.0.0.1:5672",
                       "routingKey": "letsflow", "reply": true},
        }))
        .expect("valid");
        assert_eq!(services.len(), 3);
        let ProviderConfig::Webhook(hook) = &services[0].provider else {
            panic!("{:?}", services[0]);
        };
        assert_eq!(services[0].name, "mail");
        assert_eq!(hook.method, "POST");
        assert_eq!(hook.timeout, Duration::from_secs(5));
        assert_eq!(hook.max_redirects, 3);
        assert_eq!(hook.headers["Authorization"], "Bearer x");
        assert_eq!(services[0].retry, RetryPolicy::default());
        assert_eq!(services[0].concurrency, DEFAULT_CONCURRENCY);
        let ProviderConfig::ZeroMq(zmq) = &services[1].provider else {
            panic!("{:?}", services[1]);
        };
        assert_eq!(zmq.kind, ZeroMqKind::Push);
        assert_eq!(
            services[1].retry,
            RetryPolicy {
                max_attempts: 3,
                initial: Duration::from_millis(500),
                max: Duration::from_secs(10)
            }
        );
        assert_eq!(services[1].concurrency, 2);
        let ProviderConfig::Amqp(amqp) = &services[2].provider else {
            panic!("{:?}", services[2]);
        };
        assert_eq!(amqp.reply, Some(None));
        assert_eq!(amqp.exchange, "");
        assert_eq!(amqp.response_timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_settings_name_their_key() {
        let cases = [
            (
                json!({"mail": {"url": "http://x"}}),
                "services.mail.provider",
            ),
            (
                json!({"mail": {"provider": "smtp"}}),
                "services.mail.provider",
            ),
            (
                json!({"mail": {"provider": "webhook"}}),
                "services.mail.url",
            ),
            (
                json!({"mail": {"provider": "webhook", "url": "ftp://x/"}}),
                "services.mail.url",
            ),
            (
                json!({"mail": {"provider": "webhook", "url": "http://x/", "timeout": "soon"}}),
                "services.mail.timeout",
            ),
            (
                json!({"mail": {"provider": "webhook", "url": "http://x/", "retries": 3}}),
                "services.mail.retries",
            ),
            (
                json!({"mail": {"provider": "webhook", "url": "http://x/", "headers": {"a b": "c"}}}),
                "services.mail.headers.a b",
            ),
            (
                json!({"q": {"provider": "zeromq", "address": "tcp://x:1"}}),
                "services.q.type",
            ),
            (
                json!({"q": {"provider": "zeromq", "type": "pub", "address": "tcp://x:1"}}),
                "services.q.type",
            ),
            (
                json!({"q": {"provider": "zeromq", "type": "push"}}),
                "services.q.address",
            ),
            (
                json!({"r": {"provider": "amqp", "url": "amqp://h"}}),
                "services.r.routingKey",
            ),
            (
                json!({"r": {"provider": "amqp", "url": "amqp://h", "routingKey": "k", "maxAttempts": 0}}),
                "services.r.maxAttempts",
            ),
            (json!({"r": "amqp"}), "services.r"),
            (json!(["r"]), "services"),
        ];
        for (value, key) in cases {
            let (found, text) = error(value);
            assert_eq!(found, key, "{text}");
            assert!(
                text.starts_with(&format!(
                    "invalid service setting {key} (from letsflow.yaml): "
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        assert_eq!(policy.delay(1, 0.999_999).as_secs_f64().round(), 1.0);
        assert_eq!(policy.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(policy.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(policy.delay(4, 0.0), Duration::from_secs(4));
        assert_eq!(policy.delay(30, 0.0), Duration::from_secs(5));
        assert!(policy.delay(30, 0.999) <= Duration::from_secs(10));
    }
}
