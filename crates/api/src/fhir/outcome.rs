//! Every error of the facade as an OperationOutcome (`application/fhir+json`): one issue for the
//! error, or one per failing field of a 422 with a FHIRPath `expression` pointing at the item
//! (`QuestionnaireResponse.item.where(linkId='event_date')`). The issue's `details` carries the
//! JSON API's stable code (system `https://rusreg.example/problems`) and its text; submitted values
//! are never echoed.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use fhirbolt::model::r4::resources::{OperationOutcome, OperationOutcomeIssue};
use fhirbolt::model::r4::types::{CodeableConcept, Coding};

use super::FHIR_JSON;
use crate::error::{ApiError, Refused};

/// The system of the `details` codes: the codes of the JSON API's problem documents.
pub const CODES: &str = "https://rusreg.example/problems";

/// One field-level issue.
#[derive(Debug, Clone)]
pub struct FieldIssue {
    /// A FHIRPath expression (`None`: a query parameter, named in the text).
    pub expression: Option<String>,
    /// The rusreg code (`required`, `range`, `code_list`...).
    pub code: String,
    pub message: String,
}

/// The issue type (FHIR value set `issue-type`) of an answer with this status.
pub fn issue_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        405 | 406 | 415 => "not-supported",
        409 | 412 => "conflict",
        413 => "too-costly",
        422 => "invalid",
        428 => "required",
        429 => "throttled",
        503 => "transient",
        s if s >= 500 => "exception",
        _ => "invalid",
    }
}

fn issue_type_of_field(code: &str) -> &'static str {
    match code {
        "required" => "required",
        "code_list" | "format" | "range" | "type" | "duplicate" | "length" => "value",
        "unknown_field" | "not_applicable" | "structure" => "structure",
        "unsupported_parameter" => "not-supported",
        "prerequisite" | "date_order" | "conflict_rule" => "business-rule",
        _ => "invalid",
    }
}

fn details(code: &str, text: &str) -> Option<Box<CodeableConcept>> {
    Some(Box::new(CodeableConcept {
        coding: vec![Coding { system: Some(CODES.into()), code: Some(code.into()), ..Default::default() }],
        text: Some(text.into()),
        ..Default::default()
    }))
}

/// The OperationOutcome of an error: one issue, or one per field when `fields` is not empty.
pub fn outcome(status: StatusCode, issue: &str, code: &str, detail: &str, fields: Vec<FieldIssue>) -> OperationOutcome {
    let severity = if status.is_server_error() { "fatal" } else { "error" };
    let issues = if fields.is_empty() {
        vec![OperationOutcomeIssue {
            severity: severity.into(),
            code: issue.into(),
            details: details(code, detail),
            ..Default::default()
        }]
    } else {
        fields
            .into_iter()
            .map(|f| OperationOutcomeIssue {
                severity: severity.into(),
                code: issue_type_of_field(&f.code).into(),
                details: details(&f.code, &f.message),
                expression: f.expression.into_iter().map(Into::into).collect(),
                ..Default::default()
            })
            .collect()
    };
    OperationOutcome { issue: issues, ..Default::default() }
}

/// An OperationOutcome answer.
pub fn response(status: StatusCode, issue: &str, code: &str, detail: &str, fields: Vec<FieldIssue>) -> HttpResponse {
    let body = outcome(status, issue, code, detail, fields);
    match fhirbolt::json::to_vec(&body, None) {
        Ok(bytes) => HttpResponse::build(status).content_type(FHIR_JSON).body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "could not serialise an OperationOutcome");
            HttpResponse::InternalServerError().content_type(FHIR_JSON).finish()
        }
    }
}

/// The parts of an OperationOutcome for an [`ApiError`], with field names turned into
/// expressions by `expression` (the route's: items of a QuestionnaireResponse, or none).
fn parts(e: &ApiError, expression: fn(&str) -> Option<String>) -> (StatusCode, &'static str, String, Vec<FieldIssue>) {
    use actix_web::ResponseError;
    let status = e.status_code();
    let fields = match e {
        ApiError::Invalid(errors) => errors
            .iter()
            .map(|f| FieldIssue { expression: expression(&f.field), code: f.code.clone(), message: f.message.clone() })
            .collect(),
        ApiError::InvalidQuery(errors) => errors
            .iter()
            .map(|f| FieldIssue {
                expression: None,
                code: f.code.clone(),
                message: format!("search parameter {}: {}", f.field, f.message),
            })
            .collect(),
        _ => Vec::new(),
    };
    let detail = match e {
        ApiError::UnsupportedMediaType => "send the body as application/fhir+json".into(),
        ApiError::PreconditionRequired => "send If-Match with the version you read (W/\"3\")".into(),
        _ => e.detail(),
    };
    let issue = match e {
        ApiError::InvalidQuery(errors) if errors.iter().any(|f| f.code == "unsupported_parameter") => "not-supported",
        _ => issue_type(status),
    };
    (status, issue, detail, fields)
}

/// Field names of the JSON API that are already FHIRPath expressions pass as they are; others
/// are query parameters or fields without an item.
fn plain_expression(field: &str) -> Option<String> {
    field.starts_with(|c: char| c.is_ascii_uppercase()).then(|| field.to_owned())
}

/// Turns an error answer that is not an OperationOutcome yet into one: from the [`ApiError`]
/// it carries when a handler or an extractor made it, else from its status (actix-web's own
/// 404, 405, 413...). The `Refused` mark (for the audit of refusals) and the headers
/// (`Retry-After`, `WWW-Authenticate`) are kept.
pub async fn from_response<B: MessageBody + 'static>(res: ServiceResponse<B>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let is_fhir =
        res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(FHIR_JSON));
    if !(status.is_client_error() || status.is_server_error()) || is_fhir {
        return res.map_into_boxed_body();
    }
    let on_responses = res.request().path().starts_with("/fhir/QuestionnaireResponse");
    let expression: fn(&str) -> Option<String> =
        if on_responses { super::questionnaire::response_expression } else { plain_expression };
    let api_error = res.response().error().and_then(|e| e.as_error::<ApiError>());
    let (status, issue, code, detail, fields) = match api_error {
        Some(e) => {
            let (status, issue, detail, fields) = parts(e, expression);
            (status, issue, e.code(), detail, fields)
        }
        None => {
            let e = match status {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
                StatusCode::NOT_FOUND => ApiError::NotFound,
                StatusCode::METHOD_NOT_ALLOWED => {
                    ApiError::bad_request("method_not_allowed", "this interaction is not supported on this resource")
                }
                StatusCode::UNAUTHORIZED => ApiError::Unauthenticated("authentication required"),
                StatusCode::FORBIDDEN => ApiError::Forbidden,
                StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
                s if s.is_server_error() => ApiError::Internal("an error answer of the HTTP layer".into()),
                _ => ApiError::bad_request("bad_request", "the request could not be read"),
            };
            let (_, issue, detail, fields) = parts(&e, expression);
            let issue = if status == StatusCode::METHOD_NOT_ALLOWED { "not-supported" } else { issue };
            (status, issue, e.code(), detail, fields)
        }
    };
    let refused = res.response().extensions().get::<Refused>().copied();
    let (req, old) = res.into_parts();
    let mut fresh = response(status, issue, code, &detail, fields);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if let Some(r) = refused {
        fresh.extensions_mut().insert(r);
    }
    ServiceResponse::new(req, fresh)
}
