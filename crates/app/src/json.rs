//! Reading JSON from any way in (an API body, an import line) with the API's conventions:
//! unknown fields refused, the failing field's path reported, and no submitted value in any
//! message.

use domain::FieldError;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

/// Deserialises `body`, naming the failing field on a type or unknown-field error. The message
/// never carries a submitted value (see [`value_free`]).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, crate::Error> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().clone();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                // Drop the position (" at line 1 column 9"): serde_json appends it.
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                crate::Error::Invalid(vec![field_error(&path, &message, "body")])
            }
            _ => crate::Error::Unreadable {
                code: "malformed_json",
                message: "the request body is not valid JSON".into(),
            },
        }
    })
}

/// One field error from serde's path and message: the field's dotted path (an unknown key that
/// does not look like a field name is left out) and a value-free message.
pub fn field_error(path: &serde_path_to_error::Path, message: &str, whole: &str) -> FieldError {
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

/// Deserialises one JSON value (an import line's part) into `T` with the same field errors as
/// [`parse_json`]; `prefix` (e.g. `data`) is put before each field's path.
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value, prefix: &str) -> Result<T, crate::Error> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().clone();
        let message = e.into_inner().to_string();
        let mut error = field_error(&path, &message, if prefix.is_empty() { "row" } else { prefix });
        if !prefix.is_empty() && error.field != prefix {
            error.field = format!("{prefix}.{}", error.field);
        }
        crate::Error::Invalid(vec![error])
    })
}
