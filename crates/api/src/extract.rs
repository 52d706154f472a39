//! Request extractors with the API's conventions: JSON bodies are read under the size limit,
//! must be `application/json`, and are deserialised with unknown fields rejected and the failing
//! field's path reported; query strings and paths fail as problem documents too.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{PathError, QueryPayloadError};
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use domain::FieldError;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use validator::Validate;

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

/// Deserialises `body`, naming the failing field on a type or unknown-field error. The message
/// never carries a submitted value (see [`value_free`]).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, app::Error> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().clone();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // Drop the position (" at line 1 column 9"): serde_json appends it.
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                app::Error::Invalid(vec![field_error(&path, &message, "body")])
            }
            _ => {
                app::Error::Unreadable { code: "malformed_json", message: "the request body is not valid JSON".into() }
            }
        }
    })
}

/// One field error from serde's path and message: the field's dotted path (an unknown key that
/// does not look like a field name is left out) and a value-free message.
fn field_error(path: &serde_path_to_error::Path, message: &str, whole: &str) -> FieldError {
    let code = if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("missing field") {
        "required"
    } else {
        "type"
    };
    let mut segments: Vec<String> = path
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => Some(key.clone()),
            Segment::Unknown => None,
        })
        .collect();
    // An unknown field's path ends in the key the client sent; a missing field's is its parent.
    if code == "unknown_field" {
        if let Some(key) = segments.pop() {
            if looks_like_a_field_name(&key) {
                segments.push(key);
            }
        }
    }
    if code == "required" {
        if let Some(name) = message.split('`').nth(1) {
            segments.push(name.to_owned());
        }
    }
    let segments: Vec<String> =
        segments.into_iter().map(|s| if looks_like_a_field_name(&s) { s } else { "?".into() }).collect();
    let field = if segments.is_empty() { whole.to_owned() } else { segments.join(".") };
    FieldError::new(&field, code, value_free(message))
}

/// A key that may be echoed: a snake_case name, never a number or anything longer than a name.
fn looks_like_a_field_name(key: &str) -> bool {
    let digits = key.chars().filter(char::is_ascii_digit).count();
    let is_index = !key.is_empty() && digits == key.len() && key.len() <= 4;
    is_index
        || (!key.is_empty()
            && key.len() <= 48
            && digits <= 2
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
}

/// serde's (and the types' own) messages may quote the value that failed (`invalid type: integer
/// 12038840205, expected a string`, `invalid value: string "…"`, `found `x` at 3`): rebuild the
/// message from what the code says it expected, never from what was sent. Messages that are not
/// one of serde's known forms become a generic one.
pub fn value_free(message: &str) -> String {
    // What the type expected is written by the code (a visitor's `expecting`), never by the
    // client; a "found ..." after it (uuid, chrono) is cut off.
    let expected = message.rsplit_once(", expected ").map(|(_, e)| {
        let e = e.split(" found").next().unwrap_or(e);
        let e = e.split(", found").next().unwrap_or(e);
        e.trim_end_matches([',', ' ']).chars().take(200).collect::<String>()
    });
    let head = |kind: &str| match &expected {
        Some(e) => format!("{kind}: expected {e}"),
        None => kind.to_owned(),
    };
    let out = if message.starts_with("invalid type") {
        head("invalid type")
    } else if message.starts_with("invalid value") {
        head("invalid value")
    } else if message.starts_with("invalid length") {
        head("invalid length")
    } else if message.starts_with("unknown variant") {
        head("unknown variant")
    } else if message.starts_with("unknown field") {
        head("unknown field")
    } else if message.starts_with("missing field `") || message.starts_with("duplicate field `") {
        // The name is one of the type's own fields.
        message.to_owned()
    } else if SAFE_MESSAGES.contains(&message) {
        message.to_owned()
    } else {
        "invalid value".to_owned()
    };
    scrub_digits(&out)
}

/// Messages with no value in them (integer parsing, serde_json's number errors).
const SAFE_MESSAGES: &[&str] = &[
    "invalid digit found in string",
    "number too large to fit in target type",
    "number too small to fit in target type",
    "cannot parse integer from empty string",
    "invalid number",
    "number out of range",
    "invalid float literal",
    "premature end of input",
    "input contains invalid characters",
    "input is out of range",
    "input is not enough for unique date and time",
    "trailing input",
    "no possible date and time matching input",
    "provided string was not `true` or `false`",
];

/// A last guard: a run of five or more digits is never part of an expected-type text.
fn scrub_digits(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut run = String::new();
    for c in message.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() >= 5 {
            out.push('…');
        } else {
            out.push_str(&run);
        }
        run.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
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
