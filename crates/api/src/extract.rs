//! Request extractors with the API's conventions: JSON bodies are read under the size limit,
//! must be `application/json`, and are deserialised with unknown fields rejected and the failing
//! field's path reported; query strings and paths fail as problem documents too.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body deserialised into `T`; `T` should be `#[serde(deny_unknown_fields)]`.
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"))
            .unwrap_or(false);
        let bytes = Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = bytes.await.map_err(|e| match e.as_response_error().status_code().as_u16() {
                413 => ApiError::PayloadTooLarge,
                _ => ApiError::bad_request("unreadable_body", "the request body could not be read"),
            })?;
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            Ok(parse_json(&body).map(JsonBody)?)
        })
    }
}

/// Deserialises `body`, naming the failing field on a type or unknown-field error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, app::Error> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { "body".to_owned() } else { path };
                let message = inner.to_string();
                // Keep only serde's reason, without the position (it may quote values).
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                let code = if message.starts_with("unknown field") {
                    "unknown_field"
                } else if message.starts_with("missing field") {
                    "required"
                } else {
                    "type"
                };
                // An unknown field's path already ends in its name; a missing one's is its parent.
                let field = match (code, message.split('`').nth(1)) {
                    ("unknown_field" | "required", Some(name)) if field == "body" => name.to_owned(),
                    ("required", Some(name)) => format!("{field}.{name}"),
                    _ => field,
                };
                app::Error::invalid(&field, code, sanitize(&message))
            }
            _ => {
                app::Error::Unreadable { code: "malformed_json", message: "the request body is not valid JSON".into() }
            }
        }
    })
}

/// serde's messages may quote the value that failed ("invalid value: string \"...\""): drop the
/// quoted value so that no identifier sent by the client is echoed back or logged.
fn sanitize(message: &str) -> String {
    match message.find("invalid type: string \"").or_else(|| message.find("invalid value: string \"")) {
        Some(_) => {
            let expected = message.split(", expected ").nth(1).unwrap_or("another value");
            format!("wrong type or value, expected {expected}")
        }
        None => message.to_owned(),
    }
}

/// Error handler for `web::Query`: 400 with the reason, as a problem document.
pub fn query_error(e: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let message = match &e {
        QueryPayloadError::Deserialize(d) => d.to_string(),
        other => other.to_string(),
    };
    ApiError::bad_request("invalid_query", sanitize(&message)).into()
}

/// Error handler for `web::Path`: a path that does not parse names nothing that exists.
pub fn path_error(_e: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound.into()
}

/// The extractor configuration of the app: body limit and the problem-document error handlers.
pub fn configure(cfg: &mut web::ServiceConfig, body_limit: usize) {
    cfg.app_data(web::PayloadConfig::new(body_limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields are only deserialised")]
    struct Probe {
        name: String,
        count: i32,
    }

    fn fields(e: app::Error) -> Vec<(String, String)> {
        match e {
            app::Error::Invalid(v) => v.into_iter().map(|f| (f.field, f.code)).collect(),
            other => vec![("other".into(), other.to_string())],
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Probe>(br#"{"name":"x","count":"7"}"#).err();
        assert_eq!(e.map(fields), Some(vec![("count".into(), "type".into())]));
        let e = parse_json::<Probe>(br#"{"name":"x","count":7,"extra":1}"#).err();
        assert_eq!(e.map(fields), Some(vec![("extra".into(), "unknown_field".into())]));
        let e = parse_json::<Probe>(br#"{"name":"x"}"#).err();
        assert_eq!(e.map(fields), Some(vec![("count".into(), "required".into())]));
        assert!(matches!(parse_json::<Probe>(b"{\"name\":"), Err(app::Error::Unreadable { .. })));
    }

    #[test]
    fn quoted_values_are_not_echoed() {
        let msg = sanitize("invalid type: string \"15076500565\", expected i32");
        assert!(!msg.contains("15076500565"));
    }
}
