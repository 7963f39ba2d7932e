//! `provider: webhook`: the message is sent as the body of an HTTP request (JSON; a text
//! message as `text/plain`) with the message id in `X-Message-Id`. A 2xx answer with a JSON
//! or text body is the service's response; 202, 204 or an empty body is no response; any
//! other status is an error (5xx, 408 and 429 are retried, other 4xx park the notification).
//! Redirects are followed up to `maxRedirects` (a loop is refused there), answers larger
//! than `maxAnswer` are refused.

use super::config::WebhookConfig;
use super::{Answer, Delivered, DeliveryError, Outgoing};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;

/// A webhook service: its settings and an HTTP client (connections are kept and reused).
#[derive(Debug)]
pub(super) struct Webhook {
    config: WebhookConfig,
    client: reqwest::Client,
    method: reqwest::Method,
    headers: HeaderMap,
}

impl Webhook {
    pub(super) fn new(config: WebhookConfig) -> Result<Self, DeliveryError> {
        let max = config.max_redirects;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max {
                    attempt.error(format!("more than {max} redirects (a redirect loop?)"))
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("letsflow/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| DeliveryError::Setup(e.to_string()))?;
        let method = reqwest::Method::from_bytes(config.method.as_bytes())
            .map_err(|e| DeliveryError::Setup(e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| DeliveryError::Setup(e.to_string()))?;
            let value =
                HeaderValue::from_str(value).map_err(|e| DeliveryError::Setup(e.to_string()))?;
            headers.insert(name, value);
        }
        Ok(Webhook {
            config,
            client,
            method,
            headers,
        })
    }

    pub(super) async fn send(&self, out: &Outgoing<'_>) -> Result<Delivered, DeliveryError> {
        let (body, content_type) = match out.message {
            Value::String(text) => (text.clone().into_bytes(), "text/plain; charset=utf-8"),
            other => (
                serde_json::to_vec(other).map_err(|e| DeliveryError::Setup(e.to_string()))?,
                "application/json",
            ),
        };
        let request = self
            .client
            .request(self.method.clone(), &self.config.url)
            .timeout(self.config.timeout)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, content_type)
            .header("x-message-id", out.id)
            .header("x-letsflow-process", out.process)
            .header("x-letsflow-service", out.service)
            .body(body);
        let mut response = request.send().await.map_err(|e| self.error(e))?;
        let status = response.status();
        let too_large = DeliveryError::TooLarge {
            limit: self.config.max_answer,
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.config.max_answer as u64) {
            return Err(too_large);
        }
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.contains("json"));
        let mut data = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.error(e))? {
            if data.len() + chunk.len() > self.config.max_answer {
                return Err(too_large);
            }
            data.extend_from_slice(&chunk);
        }
        let code = status.as_u16();
        if !status.is_success() {
            return Err(DeliveryError::Status {
                status: code,
                body: String::from_utf8_lossy(&data[..data.len().min(200)]).into_owned(),
            });
        }
        let answer = if code == 202 || code == 204 || data.iter().all(u8::is_ascii_whitespace) {
            Answer::Nothing
        } else if json {
            Answer::Response(
                serde_json::from_slice(&data)
                    .map_err(|e| DeliveryError::BadAnswer(e.to_string()))?,
            )
        } else {
            Answer::Response(Value::String(
                String::from_utf8(data)
                    .map_err(|_| DeliveryError::BadAnswer("the text is not UTF-8".into()))?,
            ))
        };
        Ok(Delivered {
            answer,
            status: Some(code),
        })
    }

    fn error(&self, e: reqwest::Error) -> DeliveryError {
        if e.is_redirect() {
            DeliveryError::Redirect(innermost(&e))
        } else if e.is_timeout() {
            DeliveryError::Timeout(self.config.timeout)
        } else {
            DeliveryError::Connect(innermost(&e))
        }
    }
}

/// The error with its causes, as one line.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}
