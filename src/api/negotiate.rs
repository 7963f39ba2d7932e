//! Content negotiation: request bodies in JSON or YAML, responses in JSON or YAML.
//!
//! - Request bodies are read by [`Payload`] (raw, maybe empty) and [`Body`] (parsed into a
//!   type). `Content-Type: application/json` (or `…+json`, or no content type) is JSON;
//!   `application/yaml`, `application/x-yaml`, `text/yaml` (or `…+yaml`) is YAML with the
//!   LetsFlow custom tags; anything else answers 415. A malformed body answers 400 naming
//!   the fault and its position; a body over the configured limit answers 413, and so does
//!   a YAML body over the (smaller) YAML limit. A document nested deeper than
//!   [`crate::json::MAX_DEPTH`] answers 400. Handlers parse bodies on a blocking thread,
//!   after authentication (and, for a step, after the process was found visible).
//! - Responses are [`Reply`]s: JSON unless the client asks for YAML with `Accept` (see
//!   [`Format::from_accept`]) or a `.yaml` suffix on the id ([`split_suffix`]).

use super::error::{ApiError, Result};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The media type of JSON bodies.
pub const JSON: &str = "application/json";
/// The media type of YAML bodies.
pub const YAML: &str = "application/yaml";

/// A text format of a request or response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// JSON (the default).
    #[default]
    Json,
    /// YAML, with the LetsFlow custom tags.
    Yaml,
}

impl Format {
    /// The format of a media type (`application/json; charset=utf-8` → JSON); `None` for
    /// media types that are neither JSON nor YAML.
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        let essence = media_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" => Some(Format::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(Format::Yaml)
            }
            e if e.ends_with("+json") => Some(Format::Json),
            e if e.ends_with("+yaml") => Some(Format::Yaml),
            _ => None,
        }
    }

    /// The format a client asks for with its `Accept` header: the JSON or YAML media type
    /// with the highest quality (`*/*` and `application/*` count as JSON; on a tie the
    /// first listed wins). JSON when the header is absent or names neither.
    pub fn from_accept(headers: &HeaderMap) -> Format {
        let mut best: Option<(f32, Format)> = None;
        for value in headers.get_all(ACCEPT) {
            let Ok(text) = value.to_str() else { continue };
            for entry in text.split(',') {
                let mut parts = entry.split(';');
                let media = parts.next().unwrap_or_default().trim();
                let format = match Format::from_media_type(media) {
                    Some(f) => f,
                    None if media == "*/*" || media.eq_ignore_ascii_case("application/*") => {
                        Format::Json
                    }
                    None => continue,
                };
                let quality = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, format));
                }
            }
        }
        best.map(|(_, f)| f).unwrap_or_default()
    }

    /// The media type written in `Content-Type`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => JSON,
            Format::Yaml => YAML,
        }
    }

    /// Parses a body in this format.
    pub fn parse(self, text: &str) -> Result<Value> {
        let format = match self {
            Format::Json => crate::scenario::Format::Json,
            Format::Yaml => crate::scenario::Format::Yaml,
        };
        crate::scenario::parse(text, format).map_err(|e| ApiError::Malformed(e.to_string()))
    }

    /// Writes a value in this format.
    pub fn write(self, value: &Value) -> Result<Vec<u8>> {
        match self {
            Format::Json => serde_json::to_vec(value).map_err(|e| ApiError::Emit(e.to_string())),
            Format::Yaml => crate::scenario::to_yaml(value)
                .map(String::into_bytes)
                .map_err(|e| ApiError::Emit(e.to_string())),
        }
    }
}

/// Splits a format suffix off an id: `abc.yaml` → (`abc`, YAML), `abc.json` → (`abc`,
/// JSON), `abc` → (`abc`, none).
pub fn split_suffix(id: &str) -> (&str, Option<Format>) {
    if let Some(stem) = id.strip_suffix(".json") {
        (stem, Some(Format::Json))
    } else if let Some(stem) = id.strip_suffix(".yaml").or_else(|| id.strip_suffix(".yml")) {
        (stem, Some(Format::Yaml))
    } else {
        (id, None)
    }
}

/// The response format the client asked for with `Accept` (an extractor that never fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct Accept(pub Format);

impl<S: Send + Sync> FromRequestParts<S> for Accept {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok(Accept(Format::from_accept(&parts.headers)))
    }
}

/// A request body as received: its format (from `Content-Type`) and its bytes, which may
/// be empty. Receiving it fails with 413 for a body over the limit; parsing a non-empty
/// body fails with 415 for an unsupported content type and 400 when it is malformed.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The format, or the unsupported content type.
    format: std::result::Result<Format, String>,
    bytes: Bytes,
}

impl Payload {
    /// The parsed body; `None` when the body is empty (or only whitespace).
    pub fn value(&self) -> Result<Option<Value>> {
        let text = std::str::from_utf8(&self.bytes)
            .map_err(|e| ApiError::Malformed(format!("request body is not UTF-8: {e}")))?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        match &self.format {
            Ok(format) => format.parse(text).map(Some),
            Err(content_type) => Err(ApiError::UnsupportedMediaType(content_type.clone())),
        }
    }

    /// The body as text when it is YAML (for locating keys in it).
    pub fn yaml_text(&self) -> Option<&str> {
        matches!(self.format, Ok(Format::Yaml))
            .then(|| std::str::from_utf8(&self.bytes).ok())
            .flatten()
    }

    /// The parsed body, which must not be empty.
    pub fn required(&self) -> Result<Value> {
        self.value()?.ok_or_else(|| {
            ApiError::InvalidBody(format!(
                "the request has no body; send {} or {}",
                JSON, YAML
            ))
        })
    }

    /// The body parsed into `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.required()?).map_err(|e| ApiError::InvalidBody(e.to_string()))
    }
}

impl FromRequest<AppState> for Payload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("(not text)").to_string());
        let format = match content_type {
            None => Ok(Format::Json),
            Some(ct) => Format::from_media_type(&ct).ok_or(ct),
        };
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
                    limit: state.settings.body_limit,
                },
                _ => ApiError::Malformed(rejection.body_text()),
            }
        })?;
        // YAML costs far more to parse than JSON (a megabyte of `{` takes seconds and
        // hundreds of megabytes), so it has its own, smaller limit.
        let yaml_limit = state
            .settings
            .yaml_body_limit
            .min(state.settings.body_limit);
        if format == Ok(Format::Yaml) && bytes.len() > yaml_limit {
            return Err(ApiError::YamlTooLarge { limit: yaml_limit });
        }
        Ok(Payload { format, bytes })
    }
}

/// A request body in JSON or YAML parsed into `T`; its rejection is an [`ApiError`].
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let payload = Payload::from_request(req, state).await?;
        super::blocking(move || payload.parse().map(Body)).await
    }
}

/// A response: a status, extra headers and a JSON value written as JSON or YAML.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    value: Value,
    format: Format,
}

impl Reply {
    /// `200 OK` with `value`, as JSON.
    pub fn ok(value: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            headers: vec![],
            value,
            format: Format::Json,
        }
    }

    /// With another status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// In the given format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// With a header; a value that is not a valid header value is left out.
    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match self.format.write(&self.value) {
            Ok(body) => body,
            Err(e) => return e.into_response(),
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(self.format.media_type()),
        );
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Format {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).expect("header"));
        Format::from_accept(&headers)
    }

    #[test]
    fn accept_picks_the_best_quality() {
        assert_eq!(Format::from_accept(&HeaderMap::new()), Format::Json);
        assert_eq!(accept("application/yaml"), Format::Yaml);
        assert_eq!(
            accept("text/yaml;q=0.5, application/json;q=0.9"),
            Format::Json
        );
        assert_eq!(
            accept("application/json;q=0.2, application/x-yaml"),
            Format::Yaml
        );
        assert_eq!(accept("*/*"), Format::Json);
        assert_eq!(accept("text/html, application/yaml;q=0.9"), Format::Yaml);
        assert_eq!(accept("text/html"), Format::Json);
        assert_eq!(accept("application/yaml;q=0"), Format::Json);
    }

    #[test]
    fn media_types_and_suffixes() {
        assert_eq!(
            Format::from_media_type("application/json; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_media_type("Text/YAML"), Some(Format::Yaml));
        assert_eq!(
            Format::from_media_type("application/vnd.x+json"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_media_type("text/plain"), None);
        assert_eq!(split_suffix("a.yaml"), ("a", Some(Format::Yaml)));
        assert_eq!(split_suffix("a.yml"), ("a", Some(Format::Yaml)));
        assert_eq!(split_suffix("a.json"), ("a", Some(Format::Json)));
        assert_eq!(split_suffix("a"), ("a", None));
    }
}
