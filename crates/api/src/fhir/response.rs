//! `QuestionnaireResponse`: a form, through the same use cases as `/api/v1/forms` (create a draft,
//! read, update a draft at a version, complete through the same rules).
//!
//! - `questionnaire` is the canonical URL of the form kind's Questionnaire; `subject` is the
//!   pathway, `EpisodeOfCare/{id}`; `status` is `in-progress` for a draft and `completed` for a
//!   completed form. `meta.versionId` is the form's version, also in the `ETag` (`W/"3"`).
//! - Items: the catalogue's fields by `linkId` (see `questionnaire`); a code is a `valueCoding` of
//!   the register's CodeSystem, an integer `valueInteger`, a date `valueDate`, an ICD-10 code
//!   `valueString`; a set of codes or a list of ICD-10 codes is one answer per entry (an item
//!   without answers is the empty list, "none"); each substance is one repetition of the group
//!   `substance_use.substances`.
//! - `POST` with `status` `completed` creates and completes in one transaction; `PUT` needs
//!   `If-Match` with the version read (428 without, 409 when stale), like the JSON API; a
//!   completed form cannot be changed (409). Every 422 lists each failing field as an issue whose
//!   `expression` points at the item.

use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use app::forms::{FormInput, FormView};
use domain::forms::catalogue::{self, FieldKind, FieldSpec};
use domain::forms::{FormData, FormId, FormKind};
use domain::pathways::PathwayId;
use domain::FieldError;
use fhirbolt::model::r4::resources::{
    QuestionnaireResponse, QuestionnaireResponseItem, QuestionnaireResponseItemAnswer,
    QuestionnaireResponseItemAnswerValue as AnswerValue,
};
use fhirbolt::model::r4::types::{Date, Integer, Meta, Reference};
use fhirbolt::model::r4::Resource;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::questionnaire::{code_list, code_system_url, coding, parent_of, questionnaire_url};
use super::{respond, searchset, SearchQuery, FHIR_JSON};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// The item tree of a form kind: a field of the catalogue or a block that holds fields.
#[derive(Debug, Clone)]
struct Node {
    link_id: &'static str,
    spec: Option<FieldSpec>,
    children: Vec<Node>,
}

impl Node {
    /// The key of the item's value in its JSON object (the last part of the linkId).
    fn key(&self) -> &'static str {
        self.link_id.rsplit('.').next().unwrap_or(self.link_id)
    }
}

fn tree(kind: FormKind) -> Vec<Node> {
    let fields = catalogue::form_fields(kind);
    let mut names: Vec<(&'static str, Option<FieldSpec>)> = Vec::new();
    for f in &fields {
        if let Some(block) = parent_of(f.name).filter(|p| !fields.iter().any(|o| o.name == *p)) {
            if !names.iter().any(|(n, _)| *n == block) {
                // A block's name is a prefix of its fields' names, which are 'static.
                let block: &'static str = &f.name[..block.len()];
                names.push((block, None));
            }
        }
        names.push((f.name, Some(*f)));
    }
    fn under(names: &[(&'static str, Option<FieldSpec>)], parent: Option<&str>) -> Vec<Node> {
        names
            .iter()
            .filter(|(n, _)| parent_of(n) == parent)
            .map(|(n, spec)| Node { link_id: n, spec: *spec, children: under(names, Some(n)) })
            .collect()
    }
    under(&names, None)
}

fn code_answer(spec: &FieldSpec, v: &Value) -> Option<QuestionnaireResponseItemAnswer> {
    let code = i16::try_from(v.as_i64()?).ok()?;
    let def = code_list(spec.codes)?;
    Some(QuestionnaireResponseItemAnswer {
        value: Some(AnswerValue::Coding(Box::new(coding(def, code)))),
        ..Default::default()
    })
}

fn answer(spec: &FieldSpec, v: &Value) -> Option<QuestionnaireResponseItemAnswer> {
    let value = match spec.kind {
        FieldKind::Code | FieldKind::CodeSet => return code_answer(spec, v),
        FieldKind::Integer(_) | FieldKind::Year => {
            AnswerValue::Integer(Integer::from(i32::try_from(v.as_i64()?).ok()?))
        }
        FieldKind::Date => AnswerValue::Date(Date::from(v.as_str()?.to_owned())),
        FieldKind::Icd10(_) | FieldKind::Icd10List(_) | FieldKind::NationalId | FieldKind::AreaCode => {
            AnswerValue::String(v.as_str()?.into())
        }
        FieldKind::List => return None,
    };
    Some(QuestionnaireResponseItemAnswer { value: Some(value), ..Default::default() })
}

fn item(link_id: &str) -> QuestionnaireResponseItem {
    QuestionnaireResponseItem { link_id: link_id.into(), ..Default::default() }
}

/// The items of a form's JSON object.
fn to_items(nodes: &[Node], obj: &Map<String, Value>) -> Vec<QuestionnaireResponseItem> {
    let mut out = Vec::new();
    for node in nodes {
        let Some(v) = obj.get(node.key()).filter(|v| !v.is_null()) else { continue };
        match node.spec.map(|s| s.kind) {
            None => {
                if let Value::Object(m) = v {
                    let inner = to_items(&node.children, m);
                    if !inner.is_empty() {
                        out.push(QuestionnaireResponseItem { item: inner, ..item(node.link_id) });
                    }
                }
            }
            Some(FieldKind::List) => {
                for entry in v.as_array().into_iter().flatten() {
                    if let Value::Object(m) = entry {
                        out.push(QuestionnaireResponseItem { item: to_items(&node.children, m), ..item(node.link_id) });
                    }
                }
            }
            Some(FieldKind::CodeSet | FieldKind::Icd10List(_)) => {
                let Some(spec) = node.spec else { continue };
                let answers = v.as_array().into_iter().flatten().filter_map(|e| answer(&spec, e)).collect();
                out.push(QuestionnaireResponseItem { answer: answers, ..item(node.link_id) });
            }
            Some(_) => {
                let Some(spec) = node.spec else { continue };
                out.push(QuestionnaireResponseItem {
                    answer: answer(&spec, v).into_iter().collect(),
                    ..item(node.link_id)
                });
            }
        }
    }
    out
}

/// The QuestionnaireResponse of a form.
pub fn response(view: &FormView) -> Result<QuestionnaireResponse, ApiError> {
    let kind = view.row.kind().map_err(ApiError::from)?;
    let data = serde_json::to_value(&view.data).map_err(ApiError::internal)?;
    let empty = Map::new();
    let items = to_items(&tree(kind), data.as_object().unwrap_or(&empty));
    Ok(QuestionnaireResponse {
        id: Some(view.row.id.to_string().into()),
        meta: Some(Box::new(Meta {
            version_id: Some(view.row.version.to_string().into()),
            last_updated: Some(view.row.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into()),
            ..Default::default()
        })),
        questionnaire: Some(questionnaire_url(kind).into()),
        status: if view.row.is_completed() { "completed" } else { "in-progress" }.into(),
        subject: Some(Box::new(Reference {
            reference: Some(format!("EpisodeOfCare/{}", view.row.pathway_id).into()),
            ..Default::default()
        })),
        authored: Some(view.row.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into()),
        item: items,
        ..Default::default()
    })
}

fn answer_response(view: &FormView, status: StatusCode) -> Result<HttpResponse, ApiError> {
    let qr = response(view)?;
    let mut res = respond(status, &qr)?;
    let etag = format!("W/\"{}\"", view.row.version);
    if let Ok(v) = header::HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        let location = format!("/fhir/QuestionnaireResponse/{}/_history/{}", view.row.id, view.row.version);
        if let Ok(v) = header::HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(res)
}

fn expr(prefix: &str, link_id: &str) -> String {
    format!("{prefix}.item.where(linkId='{link_id}')")
}

fn err(errors: &mut Vec<FieldError>, expression: String, code: &str, message: &str) {
    errors.push(FieldError::new(&expression, code, message));
}

/// The value of one answer for a field, or a field error at `at`.
fn value_of(
    spec: &FieldSpec,
    a: &QuestionnaireResponseItemAnswer,
    at: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    if !a.item.is_empty() {
        err(errors, at.to_owned(), "structure", "answers of this item have no nested items");
        return None;
    }
    match (spec.kind, &a.value) {
        (FieldKind::Code | FieldKind::CodeSet, Some(AnswerValue::Coding(c))) => {
            let def = code_list(spec.codes)?;
            let system = c.system.as_ref().and_then(|s| s.value.as_deref());
            if system != Some(code_system_url(def.code_system).as_str()) {
                err(errors, format!("{at}.value.system"), "code_list", "must be the system of the item's ValueSet");
                return None;
            }
            match c.code.as_ref().and_then(|c| c.value.as_deref()).and_then(|c| c.parse::<i16>().ok()) {
                Some(code) => Some(Value::from(code)),
                None => {
                    err(errors, format!("{at}.value.code"), "code_list", "must be a code of the item's ValueSet");
                    None
                }
            }
        }
        (FieldKind::Integer(_) | FieldKind::Year, Some(AnswerValue::Integer(i))) => i.value.map(Value::from),
        (FieldKind::Date, Some(AnswerValue::Date(d))) => d.value.clone().map(Value::from),
        (FieldKind::Icd10(_) | FieldKind::Icd10List(_), Some(AnswerValue::String(s))) => {
            s.value.clone().map(Value::from)
        }
        _ => {
            let wanted = match spec.kind {
                FieldKind::Code | FieldKind::CodeSet => "valueCoding",
                FieldKind::Integer(_) | FieldKind::Year => "valueInteger",
                FieldKind::Date => "valueDate",
                _ => "valueString",
            };
            err(errors, format!("{at}.value"), "type", &format!("must be {wanted}"));
            None
        }
    }
}

/// The JSON object of items (the inverse of [`to_items`]), with every structural error.
fn from_items(
    nodes: &[Node],
    items: &[QuestionnaireResponseItem],
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let mut obj = Map::new();
    for (i, it) in items.iter().enumerate() {
        let link = it.link_id.value.as_deref().unwrap_or_default();
        let Some(node) = nodes.iter().find(|n| n.link_id == link) else {
            // The client's linkId is not echoed; the position names the item.
            err(
                errors,
                format!("{prefix}.item[{i}]"),
                "unknown_field",
                "no item of the Questionnaire has this linkId here",
            );
            continue;
        };
        let at = expr(prefix, node.link_id);
        let repeats = matches!(node.spec.map(|s| s.kind), Some(FieldKind::List));
        if !repeats && obj.contains_key(node.key()) {
            err(errors, at.clone(), "duplicate", "this item appears more than once");
            continue;
        }
        match node.spec {
            None => {
                if !it.answer.is_empty() {
                    err(errors, at.clone(), "structure", "a group has items, not answers");
                }
                obj.insert(node.key().into(), Value::Object(from_items(&node.children, &it.item, &at, errors)));
            }
            Some(spec) if spec.kind == FieldKind::List => {
                let list = obj.entry(node.key()).or_insert_with(|| Value::Array(Vec::new()));
                let index = list.as_array().map_or(0, Vec::len);
                let entry = from_items(&node.children, &it.item, &format!("{at}[{index}]"), errors);
                if let Value::Array(v) = list {
                    v.push(Value::Object(entry));
                }
            }
            Some(spec) => {
                if !it.item.is_empty() {
                    err(errors, at.clone(), "structure", "a question has answers, not items");
                }
                let many = matches!(spec.kind, FieldKind::CodeSet | FieldKind::Icd10List(_));
                if many {
                    let values: Vec<Value> = it
                        .answer
                        .iter()
                        .enumerate()
                        .filter_map(|(j, a)| value_of(&spec, a, &format!("{at}.answer[{j}]"), errors))
                        .collect();
                    obj.insert(node.key().into(), Value::Array(values));
                } else {
                    match it.answer.as_slice() {
                        [] => {}
                        [a] => {
                            if let Some(v) = value_of(&spec, a, &format!("{at}.answer[0]"), errors) {
                                obj.insert(node.key().into(), v);
                            }
                        }
                        _ => err(errors, at.clone(), "structure", "this item takes one answer"),
                    }
                }
            }
        }
    }
    obj
}

/// A QuestionnaireResponse's items as a form's fields, read once the use case knows the kind
/// (after its access checks, like the JSON API's body).
struct FhirForm {
    kind: Option<FormKind>,
    items: Vec<QuestionnaireResponseItem>,
}

impl FormInput for FhirForm {
    fn read(self, kind: FormKind) -> Result<FormData, app::Error> {
        if self.kind != Some(kind) {
            return Err(app::Error::invalid(
                "QuestionnaireResponse.questionnaire",
                "code_list",
                format!("must be the Questionnaire of a {kind} form: {}", questionnaire_url(kind)),
            ));
        }
        let mut errors = Vec::new();
        let obj = from_items(&tree(kind), &self.items, "QuestionnaireResponse", &mut errors);
        if !errors.is_empty() {
            return Err(app::Error::Invalid(errors));
        }
        let data = match kind {
            FormKind::Baseline => FormData::Baseline(app::json::parse_value(Value::Object(obj), "")?),
            FormKind::Measurement => FormData::Measurement(app::json::parse_value(Value::Object(obj), "")?),
            FormKind::Discharge => FormData::Discharge(app::json::parse_value(Value::Object(obj), "")?),
            FormKind::FollowUp => FormData::FollowUp(app::json::parse_value(Value::Object(obj), "")?),
        };
        data.read(kind)
    }
}

/// The parts of a QuestionnaireResponse a write needs.
struct Incoming {
    id: Option<String>,
    kind: Option<FormKind>,
    completed: bool,
    pathway: Option<Uuid>,
    items: Vec<QuestionnaireResponseItem>,
}

fn bad_body(message: &str) -> ApiError {
    ApiError::bad_request("invalid_resource", message)
}

/// Reads the body: `application/fhir+json` (or `application/json`), a QuestionnaireResponse that
/// `fhirbolt` accepts in strict mode; `questionnaire` and `status` are checked here (their errors
/// name no record).
fn incoming(req: &HttpRequest, body: &Bytes) -> Result<Incoming, ApiError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if ct != FHIR_JSON && ct != "application/json" {
        return Err(ApiError::UnsupportedMediaType);
    }
    let qr: QuestionnaireResponse = fhirbolt::json::from_slice(body, None).map_err(|e| {
        bad_body(&format!("not a FHIR R4 QuestionnaireResponse: {}", app::json::value_free(&e.to_string())))
    })?;
    let mut errors = Vec::new();
    let url = qr.questionnaire.as_ref().and_then(|c| c.value.as_deref()).unwrap_or_default();
    let url = url.split('|').next().unwrap_or_default();
    let kind = FormKind::ALL.into_iter().find(|k| questionnaire_url(*k) == url);
    if kind.is_none() {
        errors.push(FieldError::new(
            "QuestionnaireResponse.questionnaire",
            "code_list",
            "must be the canonical URL of one of the register's Questionnaires",
        ));
    }
    let completed = match qr.status.value.as_deref() {
        Some("in-progress") => false,
        Some("completed") => true,
        _ => {
            errors.push(FieldError::new(
                "QuestionnaireResponse.status",
                "code_list",
                "must be in-progress (a draft) or completed",
            ));
            false
        }
    };
    let subject = qr.subject.as_ref().and_then(|s| s.reference.as_ref()).and_then(|r| r.value.as_deref());
    let pathway = subject.and_then(|s| s.strip_prefix("EpisodeOfCare/")).and_then(|id| Uuid::parse_str(id).ok());
    if subject.is_some() && pathway.is_none() {
        errors.push(FieldError::new("QuestionnaireResponse.subject", "format", "must be EpisodeOfCare/{pathway id}"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(Incoming { id: qr.id.and_then(|i| i.value), kind, completed, pathway, items: qr.item })
}

/// `POST /fhir/QuestionnaireResponse`: a new form on the pathway `subject`; `completed` creates
/// and completes it in one transaction.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let inc = incoming(&req, &body)?;
    let Some(pathway) = inc.pathway else {
        return Err(ApiError::invalid("QuestionnaireResponse.subject", "required", "the pathway: EpisodeOfCare/{id}"));
    };
    let kind = inc.kind.ok_or_else(|| ApiError::internal(std::fmt::Error))?;
    let input = FhirForm { kind: inc.kind, items: inc.items };
    let caller = user.caller();
    let today = state.today();
    let completed = inc.completed;
    let view = state
        .run_db(move |conn| {
            let pathway = PathwayId(pathway);
            Ok(if completed {
                app::forms::create_completed(conn, &caller, pathway, kind, input, today)?
            } else {
                app::forms::create(conn, &caller, pathway, kind, input)?
            })
        })
        .await?;
    answer_response(&view, StatusCode::CREATED)
}

/// `PUT /fhir/QuestionnaireResponse/{id}`: replaces a draft's answers (`If-Match` required);
/// `completed` completes it in the same transaction.
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<String>,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let version = crate::forms::if_match(&req)?;
    let inc = incoming(&req, &body)?;
    if inc.id.as_deref().is_some_and(|i| i != id.to_string()) {
        return Err(ApiError::invalid("QuestionnaireResponse.id", "conflict_rule", "must be the id in the URL"));
    }
    let input = FhirForm { kind: inc.kind, items: inc.items };
    let caller = user.caller();
    let today = state.today();
    let completed = inc.completed;
    let view = state
        .run_db(move |conn| {
            let id = FormId(id);
            Ok(if completed {
                app::forms::update_completed(conn, &caller, id, version, input, today)?
            } else {
                app::forms::update(conn, &caller, id, version, input)?
            })
        })
        .await?;
    answer_response(&view, StatusCode::OK)
}

/// `GET /fhir/QuestionnaireResponse/{id}` (audited as read_form).
pub async fn read(state: web::Data<AppState>, user: AuthUser, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let caller = user.caller();
    let view = state.run_db(move |conn| Ok(app::forms::read(conn, &caller, FormId(id))?)).await?;
    answer_response(&view, StatusCode::OK)
}

fn bad(name: &str, code: &str, message: &str) -> ApiError {
    ApiError::InvalidQuery(vec![FieldError::new(name, code, message)])
}

/// `GET /fhir/QuestionnaireResponse?subject=EpisodeOfCare/{id}&...`: the forms of one pathway
/// that the caller may read (`app::pathways::read`, then `app::forms::read` for each: the same
/// audit rows as reading them through the JSON API), filtered by `questionnaire`, `status` and
/// `authored` (the form's date, `event_date`: a day, `geYYYY-MM-DD` or `leYYYY-MM-DD`). A
/// pathway outside the caller's scope gives an empty Bundle, like one that does not exist.
pub async fn search(state: web::Data<AppState>, user: AuthUser, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("QuestionnaireResponse"))?;
    let subject = query.get("subject").ok_or_else(|| {
        bad("subject", "required", "a QuestionnaireResponse search needs subject=EpisodeOfCare/{pathway id}")
    })?;
    let pathway = subject.strip_prefix("EpisodeOfCare/").unwrap_or(subject);
    let pathway =
        Uuid::parse_str(pathway).map_err(|_| bad("subject", "format", "must be EpisodeOfCare/{pathway id}"))?;
    let kind = match query.get("questionnaire") {
        None => None,
        Some(raw) => {
            let raw = raw.split('|').next().unwrap_or_default();
            let k = FormKind::ALL.into_iter().find(|k| questionnaire_url(*k) == raw || k.as_str() == raw);
            Some(k.ok_or_else(|| bad("questionnaire", "code_list", "must be a Questionnaire's URL or id"))?)
        }
    };
    let completed = match query.get("status") {
        None => None,
        Some("in-progress") => Some(false),
        Some("completed") => Some(true),
        Some(_) => return Err(bad("status", "code_list", "is in-progress or completed")),
    };
    let (mut from, mut to) = (None, None);
    if let Some(raw) = query.get("authored") {
        let (prefix, day) = raw.split_at(raw.len().min(2));
        match prefix {
            "ge" => from = Some(super::organization::date_param("authored", day)?),
            "le" => to = Some(super::organization::date_param("authored", day)?),
            _ => {
                let d = super::organization::date_param("authored", raw)?;
                (from, to) = (Some(d), Some(d));
            }
        }
    }
    let caller = user.caller();
    let (page, count) = (query.page, query.count);
    let found: (usize, Vec<FormView>) = state
        .run_db(move |conn| {
            let detail = match app::pathways::read(conn, &caller, PathwayId(pathway)) {
                Ok(d) => d,
                Err(app::Error::Hidden | app::Error::NotFound) => return Ok((0, Vec::new())),
                Err(e) => return Err(e.into()),
            };
            let matching: Vec<_> = detail
                .forms
                .into_iter()
                .filter(|f| kind.is_none_or(|k| f.kind().ok() == Some(k)))
                .filter(|f| completed.is_none_or(|c| f.is_completed() == c))
                .filter(|f| from.is_none_or(|d| f.event_date.is_some_and(|e| e >= d)))
                .filter(|f| to.is_none_or(|d| f.event_date.is_some_and(|e| e <= d)))
                .collect();
            let total = matching.len();
            let mut views = Vec::new();
            for f in matching.into_iter().skip((page - 1).saturating_mul(count)).take(count) {
                views.push(app::forms::read(conn, &caller, FormId(f.id))?);
            }
            Ok((total, views))
        })
        .await?;
    let (total, views) = found;
    let mut entries = Vec::with_capacity(views.len());
    for v in &views {
        entries.push((
            format!("/fhir/QuestionnaireResponse/{}", v.row.id),
            Resource::QuestionnaireResponse(Box::new(response(v)?)),
        ));
    }
    respond(StatusCode::OK, &searchset("/fhir/QuestionnaireResponse", &query, total, entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of every form round-trips: the form's JSON → items → the same JSON.
    #[test]
    fn items_and_form_fields_round_trip() {
        let forms = [
            (
                FormKind::Baseline,
                serde_json::json!({"event_date": "2025-01-02", "referral_diagnosis": "F10.2",
                "substance_diagnoses": ["F10.2"], "psychiatric_diagnoses": [], "somatic_diagnoses": [],
                "somatic_health_assessed": 1, "mental_health_assessed": 3, "in_lar": 1, "lar_medication": 2,
                "individual_plan": 1, "responsibility_group": 2,
                "substance_use": {"substances": [{"substance": 1, "frequency_30d": 4, "route": 3, "debut_age": 15},
                    {"substance": 2, "frequency_30d": 0, "route": null, "debut_age": 17}],
                    "main_substance": 1, "injected_30d": 2, "overdose_12m": 0},
                "injected_ever": 2, "audit_score": 20, "dudit_score": null, "self_rated_severity": 3,
                "self_rated_life_situation": 2, "housing": 1, "lives_with": 2, "children_under_18": 3, "occupation": 5}),
            ),
            (
                FormKind::Discharge,
                serde_json::json!({"event_date": "2025-03-02", "ending": 4,
                "agreed_follow_up": [1, 2], "municipality_informed": null}),
            ),
        ];
        for (kind, json) in forms {
            let Some(obj) = json.as_object() else { panic!("{kind}: not an object") };
            let items = to_items(&tree(kind), obj);
            let mut errors = Vec::new();
            let back = from_items(&tree(kind), &items, "QuestionnaireResponse", &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            let strip = |v: &Value| -> Value {
                fn s(v: &Value) -> Value {
                    match v {
                        Value::Object(m) => Value::Object(
                            m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), s(v))).collect(),
                        ),
                        Value::Array(a) => Value::Array(a.iter().map(s).collect()),
                        o => o.clone(),
                    }
                }
                s(v)
            };
            assert_eq!(strip(&Value::Object(back)), strip(&json), "{kind}");
        }
    }
}
