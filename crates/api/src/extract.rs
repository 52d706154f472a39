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
use validator::Validate;

use crate::error::ApiError;
pub use app::json::{field_error, parse_json, value_free};

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

/// A query string deserialised into `T` and checked with `T`'s `validator` rules: a value of
/// the wrong type is a 400 `invalid_query`, a value out of its bounds a 422, both with one entry
/// per field and no submitted value in them.
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Validate> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses and checks a query string (see [`Query`]).
pub fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().clone();
        let message = e.into_inner().to_string();
        ApiError::InvalidQuery(vec![field_error(&path, &message, "query")])
    })?;
    value.validate()?;
    Ok(value)
}

/// Error handler for `web::Query` (none is left in the API; kept for safety): 400, value-free.
pub fn query_error(_e: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("invalid_query", "the query string could not be read").into()
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

/// Whether the request's body is declared as CSV (`text/csv` or `application/csv`).
pub fn is_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .is_some_and(|t| t == "text/csv" || t == "application/csv")
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
    fn submitted_values_are_never_echoed() {
        for msg in [
            "invalid type: string \"15076500565\", expected i32",
            "invalid type: integer `12038840205`, expected a string",
            "invalid value: integer `12038840205`, expected u8",
            "invalid length 12038840205, expected fewer elements in array",
            "unknown variant `12038840205`, expected one of `a`, `b`",
            "UUID parsing failed: invalid character: expected [0-9a-fA-F-], found `12038840205` at 1",
            "12038840205 is not a date",
        ] {
            let safe = value_free(msg);
            assert!(!safe.contains("12038840205") && !safe.contains("15076500565"), "{msg} -> {safe}");
        }
        assert_eq!(value_free("invalid type: integer `120`, expected a string"), "invalid type: expected a string");
        let e = parse_json::<Probe>(br#"{"name":"x","count":7,"12038840205":1}"#).err();
        assert_eq!(e.map(fields), Some(vec![("body".into(), "unknown_field".into())]));
    }

    #[test]
    fn query_values_out_of_type_or_bounds_name_the_field() {
        #[derive(Debug, serde::Deserialize, Validate)]
        #[serde(deny_unknown_fields)]
        struct Q {
            #[validate(range(min = 1, max = 10))]
            page: Option<i64>,
        }
        let e = parse_query::<Q>("page=99999999999999999999").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("invalid query"));
        assert!(matches!(parse_query::<Q>("page=9223372036854775807"), Err(ApiError::Invalid(_))));
        assert!(matches!(parse_query::<Q>("page=3"), Ok(Q { page: Some(3) })));
    }
}
