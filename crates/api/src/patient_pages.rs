//! The patient's pages under `/p` (docs/patient-channel.md), in Norwegian bokmål, server-rendered
//! with askama and usable without script: sign in with an order's code and the date of birth,
//! one group of questions per screen (labels, codes and ranges from the domain's form catalogue),
//! a summary, then a receipt. Every answer is saved into the draft when the patient moves on, so
//! going back or reloading shows it again.
//!
//! The session is an HS256 token in an HttpOnly, SameSite=Strict cookie scoped to `/p` (Secure
//! unless `RUSREG_PATIENT_COOKIE_SECURE=false`), signed with a key derived from the JWT secret
//! and with its own audience, so it is never taken for a user's token and back. Each form carries
//! the session's CSRF token. Sign-ins are limited per source address (governor) and per order
//! (its code dies after the configured wrong attempts). The session holds only the order id; no
//! national id is ever in an address or a page.

use std::collections::{BTreeMap, HashMap};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use app::patient_channel::{value_at, PatientForm, Session, SignInRefused};
use askama::Template;
use chrono::{NaiveDate, Utc};
use domain::forms::catalogue::{form_fields, FieldKind, FieldSpec, Required};
use domain::forms::codes::labels_nb;
use domain::orders::QuestionGroup;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "rusreg_patient";
/// How long a session lasts without a new page.
pub const SESSION_MINUTES: i64 = 30;
const AUDIENCE: &str = "rusreg-patient";

#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    /// The order.
    sub: Uuid,
    /// The CSRF token every form of the session carries.
    csrf: String,
    aud: String,
    exp: i64,
}

/// Issues and checks patient sessions with a key of their own (derived from the JWT secret).
pub struct PatientSessions {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl PatientSessions {
    pub fn new(jwt_secret: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(b"rusreg patient session v1\0");
        h.update(jwt_secret);
        let key: [u8; 32] = h.finalize().into();
        Self { encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key) }
    }

    fn issue(&self, order: Uuid) -> Result<(String, String), ApiError> {
        let csrf = Uuid::new_v4().simple().to_string();
        let claims = SessionClaims {
            sub: order,
            csrf: csrf.clone(),
            aud: AUDIENCE.into(),
            exp: Utc::now().timestamp() + SESSION_MINUTES * 60,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok((token, csrf))
    }

    fn verify(&self, token: &str) -> Option<SessionClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &validation).ok().map(|d| d.claims)
    }
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"))
        .body(body)
}

fn render(status: StatusCode, t: &impl Template) -> Result<HttpResponse, ApiError> {
    Ok(html(status, t.render().map_err(ApiError::internal)?))
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

fn session_cookie(state: &AppState, value: String, max_age_minutes: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/p")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.patient_cookie_secure)
        .max_age(actix_web::cookie::time::Duration::minutes(max_age_minutes))
        .finish()
}

#[derive(Template)]
#[template(path = "patient/sign_in.html")]
struct SignInPage {
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "patient/message.html")]
struct MessagePage {
    title: &'static str,
    paragraphs: Vec<&'static str>,
    show_sign_in: bool,
}

fn message(status: StatusCode, title: &'static str, paragraphs: Vec<&'static str>) -> Result<HttpResponse, ApiError> {
    render(status, &MessagePage { title, paragraphs, show_sign_in: true })
}

fn session_ended() -> Result<HttpResponse, ApiError> {
    message(
        StatusCode::UNAUTHORIZED,
        "Du er ikke logget inn",
        vec!["Økten din er slutt, eller du har ikke logget inn ennå. Logg inn med koden og fødselsdatoen din."],
    )
}

fn order_closed() -> Result<HttpResponse, ApiError> {
    message(
        StatusCode::GONE,
        "Skjemaet er lukket",
        vec![
            "Koden kan ikke brukes lenger: skjemaet er allerede sendt, er trukket tilbake eller har gått ut på tid.",
            "Ta kontakt med behandlingsstedet ditt hvis du vil svare.",
        ],
    )
}

/// `GET /p`: the sign-in page.
pub async fn sign_in_page() -> Result<HttpResponse, ApiError> {
    render(StatusCode::OK, &SignInPage { error: None })
}

/// Reads a date of birth as a patient types it: `dd.mm.åååå`, `dd/mm/åååå`, `ddmmåååå` or
/// `åååå-mm-dd`.
pub fn parse_birth_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.len() > 20 {
        return None;
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(d);
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let parts: Vec<&str> = raw.split(['.', '/', '-', ' ']).filter(|p| !p.is_empty()).collect();
    let (d, m, y) = match (parts.as_slice(), digits.len()) {
        ([d, m, y], _) => ((*d).to_owned(), (*m).to_owned(), (*y).to_owned()),
        (_, 8) if parts.len() == 1 => (digits[..2].to_owned(), digits[2..4].to_owned(), digits[4..].to_owned()),
        _ => return None,
    };
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).filter(|_| y.len() == 4)
}

/// `POST /p/sign-in` (`code`, `birth_date`).
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    if let Err(wait) = state.patient_limits.check(req.peer_addr().map(|a| a.ip()), &[0; 32]) {
        actix_web::rt::time::sleep(wait.min(crate::login_limits::TARPIT_MAX)).await;
        let mut res = render(
            StatusCode::TOO_MANY_REQUESTS,
            &SignInPage { error: Some("For mange forsøk. Vent litt og prøv igjen.") },
        )?;
        let retry = crate::login_limits::retry_after_seconds(wait).to_string();
        if let Ok(v) = header::HeaderValue::from_str(&retry) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(res);
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let birth = form.get("birth_date").and_then(|b| parse_birth_date(b));
    let (key, config, today) = (state.id_key.clone(), state.settings.orders, state.today());
    let outcome =
        state.run_db(move |conn| Ok(app::patient_channel::sign_in(conn, &key, &code, birth, config, today)?)).await?;
    match outcome {
        Ok(session) => {
            let (token, _) = state.patient_sessions.issue(session.order)?;
            let mut res = see_other("/p/questions");
            res.add_cookie(&session_cookie(&state, token, SESSION_MINUTES)).map_err(ApiError::internal)?;
            Ok(res)
        }
        Err(SignInRefused::Wrong) => render(
            StatusCode::UNAUTHORIZED,
            &SignInPage {
                error: Some("Koden eller fødselsdatoen stemmer ikke. Sjekk at du har skrevet riktig, og prøv igjen."),
            },
        ),
        Err(SignInRefused::Closed) => order_closed(),
        Err(SignInRefused::NotOnline) => message(
            StatusCode::CONFLICT,
            "Skjemaet kan ikke besvares her",
            vec!["Koden og fødselsdatoen stemmer, men dette skjemaet kan ikke fylles ut på nett. Du blir kontaktet."],
        ),
    }
}

/// The session of a request, if its cookie is valid.
fn session_of(state: &AppState, req: &HttpRequest) -> Option<(Session, String)> {
    let cookie = req.cookie(COOKIE)?;
    let claims = state.patient_sessions.verify(cookie.value())?;
    Some((Session { order: claims.sub }, claims.csrf))
}

/// Loads the session's form, or the page to show instead.
async fn form_of(state: &web::Data<AppState>, session: Session) -> Result<Result<PatientForm, HttpResponse>, ApiError> {
    let (config, today) = (state.settings.orders, state.today());
    match state.run_db(move |conn| Ok(app::patient_channel::read(conn, session, config, today))).await? {
        Ok(form) => Ok(Ok(form)),
        Err(app::Error::Conflict(_) | app::Error::NotFound) => Ok(Err(order_closed()?)),
        Err(e) => Err(e.into()),
    }
}

struct OptionView {
    id: String,
    value: String,
    label: String,
    checked: bool,
}

/// One substance's row of the substance list: how often in the last 30 days (with "not used at
/// all", which leaves it off the list) and the usual route, each a labelled select.
struct SubstanceRowView {
    label: String,
    freq_id: String,
    freq_label: String,
    freq_options: Vec<OptionView>,
    freq_error: Option<String>,
    route_id: String,
    route_label: String,
    route_options: Vec<OptionView>,
    route_error: Option<String>,
    /// The age at first use, a number field (the baseline only).
    debut: Option<DebutView>,
    /// The draft holds an entry for this substance (shown in the summary even when empty).
    stored: bool,
}

/// A substance row's debut-age field.
struct DebutView {
    id: String,
    label: String,
    hint: String,
    value: String,
    error: Option<String>,
}

struct QuestionView {
    /// `number`, `radio`, `checkbox` or `substances`.
    kind: &'static str,
    name: String,
    label: String,
    hint: String,
    options: Vec<OptionView>,
    rows: Vec<SubstanceRowView>,
    value: String,
    error: Option<String>,
}

fn spec_of(form: &PatientForm, field: &str) -> Option<FieldSpec> {
    form_fields(form.questionnaire.form_kind()).into_iter().find(|s| s.name == field)
}

/// What the patient posted: every pair, in order (a checkbox set repeats its name).
struct Posted(Vec<(String, String)>);

impl Posted {
    /// The last value of `name`, trimmed.
    fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.trim())
    }

    /// Every value of `name`.
    fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect()
    }
}

/// The parts of a substance row the patient answers (the debut age only where the form has it).
const ROW_PARTS: &[&str] = &["frequency_30d", "route", "debut_age"];

/// The names of a substance row's fields.
fn row_field(code: i16, part: &str) -> String {
    format!("substance-{code}-{part}")
}

fn options_of(name: &str, list: domain::forms::codes::CodeList, chosen: &[String]) -> Vec<OptionView> {
    labels_nb(list)
        .unwrap_or(list)
        .iter()
        .map(|(code, label)| OptionView {
            id: format!("{name}-{code}"),
            value: code.to_string(),
            label: (*label).to_owned(),
            checked: chosen.contains(&code.to_string()),
        })
        .collect()
}

fn select_options(list: domain::forms::codes::CodeList, empty: &str, chosen: &str) -> Vec<OptionView> {
    let mut out =
        vec![OptionView { id: String::new(), value: String::new(), label: empty.into(), checked: chosen.is_empty() }];
    out.extend(options_of("", list, &[chosen.to_owned()]));
    out
}

/// The substance list as rows, one per substance of the catalogue's code list, with what is
/// stored (or what was posted, when it failed) and the messages of `errors` at their selects.
fn substance_rows(
    form: &PatientForm,
    stored: &serde_json::Value,
    posted: Option<&Posted>,
    errors: &BTreeMap<String, String>,
) -> Vec<SubstanceRowView> {
    let part = |p: &str| spec_of(form, &format!("substance_use.substances[].{p}"));
    let (Some(substance), Some(freq), Some(route)) = (part("substance"), part("frequency_30d"), part("route")) else {
        return Vec::new();
    };
    let debut = part("debut_age");
    labels_nb(substance.codes)
        .unwrap_or(substance.codes)
        .iter()
        .map(|(code, label)| {
            let entry =
                stored.as_array().and_then(|l| l.iter().find(|e| e["substance"].as_i64() == Some(i64::from(*code))));
            let value = |p: &str| -> String {
                match posted {
                    Some(posted) => posted.one(&row_field(*code, p)).unwrap_or("").to_owned(),
                    None => entry.and_then(|e| e[p].as_i64()).map(|v| v.to_string()).unwrap_or_default(),
                }
            };
            let (freq_id, route_id) = (row_field(*code, "frequency_30d"), row_field(*code, "route"));
            let debut = debut.as_ref().map(|spec| {
                let id = row_field(*code, "debut_age");
                let hint = match spec.kind {
                    FieldKind::Integer(r) => format!(
                        "Et tall fra {} til {}.{}",
                        r.min,
                        r.max,
                        if spec.required_on_completion == Required::Never { " Kan stå tomt." } else { "" }
                    ),
                    _ => String::new(),
                };
                DebutView {
                    label: spec.label_nb.to_owned(),
                    hint,
                    value: value("debut_age"),
                    error: errors.get(&id).cloned(),
                    id,
                }
            });
            SubstanceRowView {
                debut,
                stored: posted.is_none() && entry.is_some(),
                label: (*label).to_owned(),
                freq_label: freq.label_nb.to_owned(),
                freq_options: select_options(freq.codes, "Har ikke brukt", &value("frequency_30d")),
                freq_error: errors.get(&freq_id).cloned(),
                route_label: route.label_nb.to_owned(),
                route_options: select_options(route.codes, "Ikke valgt", &value("route")),
                route_error: errors.get(&route_id).cloned(),
                freq_id,
                route_id,
            }
        })
        .collect()
}

/// One question from the catalogue: code lists and 1–5 scales as radio buttons, a set of codes
/// as checkboxes, wider ranges as a number field, the substance list as one row per substance.
/// `posted` is what the patient sent (kept when it failed).
fn question(
    form: &PatientForm,
    spec: &FieldSpec,
    stored: &serde_json::Value,
    posted: Option<&Posted>,
    errors: &BTreeMap<String, String>,
) -> QuestionView {
    let error = errors.get(spec.name).cloned();
    let current = stored.as_i64().map(|v| v.to_string());
    let chosen = posted.map(|p| p.one(spec.name).unwrap_or("").to_owned()).or(current).unwrap_or_default();
    let optional = spec.required_on_completion == Required::Never;
    let mut q = QuestionView {
        kind: "radio",
        name: spec.name.to_owned(),
        label: spec.label_nb.to_owned(),
        hint: String::new(),
        options: Vec::new(),
        rows: Vec::new(),
        value: chosen.clone(),
        error,
    };
    match spec.kind {
        FieldKind::Code => q.options = options_of(spec.name, spec.codes, &[chosen]),
        FieldKind::CodeSet => {
            let set: Vec<String> = match posted {
                Some(p) => p.all(spec.name).into_iter().map(str::to_owned).collect(),
                None => {
                    stored.as_array().into_iter().flatten().filter_map(|v| v.as_i64()).map(|v| v.to_string()).collect()
                }
            };
            q.kind = "checkbox";
            q.hint = "Kryss av for alt som passer.".into();
            q.options = options_of(spec.name, spec.codes, &set);
        }
        FieldKind::Integer(r) if r.max - r.min <= 9 => {
            q.options = (r.min..=r.max)
                .map(|v| OptionView {
                    id: format!("{}-{v}", spec.name),
                    value: v.to_string(),
                    label: match v {
                        v if v == r.min => format!("{v} (lavest)"),
                        v if v == r.max => format!("{v} (høyest)"),
                        v => v.to_string(),
                    },
                    checked: chosen == v.to_string(),
                })
                .collect();
            q.hint = format!("Velg fra {} (lavest) til {} (høyest).", r.min, r.max);
        }
        FieldKind::Integer(r) => {
            q.kind = "number";
            q.hint = format!("Et tall fra {} til {}.{}", r.min, r.max, if optional { " Kan stå tomt." } else { "" });
        }
        FieldKind::List => {
            q.kind = "substances";
            q.hint =
                "Velg for hvert rusmiddel du har brukt hvor ofte du har brukt det de siste 30 dagene, og hvordan du \
                      vanligvis tar det. La «Har ikke brukt» stå for rusmidler du ikke har brukt."
                    .into();
            q.rows = substance_rows(form, stored, posted, errors);
        }
        _ => q.kind = "number",
    }
    q
}

#[derive(Template)]
#[template(path = "patient/question.html")]
struct QuestionPage {
    key: String,
    title: String,
    number: usize,
    of: usize,
    csrf: String,
    questions: Vec<QuestionView>,
    back: Option<String>,
    has_errors: bool,
}

fn question_page(
    form: &PatientForm,
    index: usize,
    csrf: String,
    posted: Option<&Posted>,
    errors: &BTreeMap<String, String>,
) -> QuestionPage {
    let group = form.groups[index];
    let values = form.values();
    let questions = group
        .fields
        .iter()
        .filter_map(|f| spec_of(form, f))
        .map(|spec| question(form, &spec, value_at(&values, spec.name), posted.filter(|_| !errors.is_empty()), errors))
        .collect();
    QuestionPage {
        key: group.key.to_owned(),
        title: group.title_nb.to_owned(),
        number: index + 1,
        of: form.groups.len(),
        csrf,
        questions,
        back: index.checked_sub(1).map(|i| format!("/p/questions/{}", form.groups[i].key)),
        has_errors: !errors.is_empty(),
    }
}

/// `GET /p/questions`: the first screen.
pub async fn first_questions(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some((session, _)) = session_of(&state, &req) else { return session_ended() };
    let form = match form_of(&state, session).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    match form.groups.first() {
        Some(g) => Ok(see_other(&format!("/p/questions/{}", g.key))),
        None => Ok(see_other("/p/summary")),
    }
}

/// `GET /p/questions/{key}`: one screen, with the answers saved so far.
pub async fn questions(
    state: web::Data<AppState>,
    req: HttpRequest,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    let form = match form_of(&state, session).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    let Some(index) = form.groups.iter().position(|g| g.key == key.as_str()) else {
        return message(StatusCode::NOT_FOUND, "Siden finnes ikke", vec!["Gå tilbake til skjemaet."]);
    };
    render(StatusCode::OK, &question_page(&form, index, csrf, None, &BTreeMap::new()))
}

/// The message a patient sees for a field error of the domain's rules (`field` the error's
/// dotted path).
fn message_nb(spec: Option<&FieldSpec>, field: &str, code: &str) -> String {
    let part = field.rsplit('.').next().unwrap_or(field);
    match (code, spec.map(|s| s.kind)) {
        ("range", Some(FieldKind::Integer(r))) => format!("Svaret må være et tall fra {} til {}.", r.min, r.max),
        ("type", _) => "Skriv svaret som et helt tall, uten andre tegn.".into(),
        ("required", _) if field == "substance_use.substances" => {
            "Velg hvor ofte du har brukt minst ett rusmiddel (også om det er lenge siden).".into()
        }
        ("required", _) if part == "route" => "Velg hvordan du vanligvis tar rusmiddelet.".into(),
        ("required", _) if part == "frequency_30d" => "Velg hvor ofte du har brukt rusmiddelet.".into(),
        ("required", _) if part == "debut_age" => "Skriv hvor gammel du var første gang du brukte rusmiddelet.".into(),
        ("required", _) => "Svar på spørsmålet.".into(),
        ("conflict_rule", _) if field == "substance_use.main_substance" => {
            "Hovedrusmiddelet må være et av rusmidlene du har valgt hvor ofte du har brukt i listen over.".into()
        }
        ("conflict_rule", _) if field == "substance_use.injected_30d" => {
            "Du har svart at du injiserer et rusmiddel du har brukt de siste 30 dagene. Svar «Ja» her, eller rett \
             inntaksmåten i listen."
                .into()
        }
        ("conflict_rule", _) if field == "received_follow_up" => {
            "«Ingen av disse» kan ikke krysses av sammen med andre svar.".into()
        }
        ("code_list", _) | ("range", _) => "Velg et av svarene.".into(),
        _ => "Svaret kan ikke brukes. Prøv igjen.".into(),
    }
}

/// The catalogue's name of an error's field: a substance entry's index becomes `[]`
/// (`substance_use.substances.2.debut_age` is `substance_use.substances[].debut_age`).
fn catalogue_name(field: &str) -> String {
    match field.strip_prefix("substance_use.substances.").and_then(|rest| rest.split_once('.')) {
        Some((i, part)) if i.parse::<usize>().is_ok() => format!("substance_use.substances[].{part}"),
        _ => field.to_owned(),
    }
}

/// Where a field error of the domain is shown: a substance entry's part at its row's select
/// (`substance-3-route`, by the entry's substance), anything else at the question it belongs to.
fn error_key(group: &QuestionGroup, field: &str, listed: &[i16]) -> String {
    if let Some(rest) = field.strip_prefix("substance_use.substances.") {
        let mut parts = rest.splitn(2, '.');
        if let (Some(i), Some(part)) = (parts.next().and_then(|i| i.parse::<usize>().ok()), parts.next()) {
            if let Some(code) = listed.get(i) {
                return row_field(*code, part);
            }
        }
    }
    group
        .fields
        .iter()
        .find(|f| field == **f || field.strip_prefix(**f).is_some_and(|r| r.starts_with('.')))
        .map_or_else(|| field.to_owned(), |f| (*f).to_owned())
}

/// Reads one screen's posted answers into the values `save_group` takes (by field name), with
/// the substances listed in order; a value that is no number is an error at its question.
fn read_answers(
    form: &PatientForm,
    group: &QuestionGroup,
    posted: &Posted,
) -> (BTreeMap<String, serde_json::Value>, Vec<i16>, BTreeMap<String, String>) {
    use serde_json::Value;
    let (mut answers, mut listed, mut errors) = (BTreeMap::new(), Vec::new(), BTreeMap::new());
    let number = |name: &str, raw: &str, errors: &mut BTreeMap<String, String>, spec: Option<&FieldSpec>| {
        if raw.is_empty() {
            Some(Value::Null)
        } else if let Ok(v) = raw.parse::<i16>() {
            Some(Value::from(v))
        } else {
            errors.insert(name.to_owned(), message_nb(spec, name, "type"));
            None
        }
    };
    for field in group.fields {
        let spec = spec_of(form, field);
        let value = match spec.map(|s| s.kind) {
            Some(FieldKind::CodeSet) => {
                let set: Option<Vec<Value>> =
                    posted.all(field).into_iter().map(|v| number(field, v, &mut errors, spec.as_ref())).collect();
                match set {
                    Some(set) if set.is_empty() => Value::Null,
                    Some(set) => Value::Array(set),
                    None => continue,
                }
            }
            Some(FieldKind::List) => {
                let codes = spec_of(form, "substance_use.substances[].substance").map_or(&[][..], |s| s.codes);
                let debut = spec_of(form, "substance_use.substances[].debut_age");
                let mut entries = Vec::new();
                for (code, _) in codes {
                    let mut entry = serde_json::Map::new();
                    entry.insert("substance".into(), Value::from(*code));
                    let mut any = false;
                    for part in ROW_PARTS {
                        if *part == "debut_age" && debut.is_none() {
                            continue;
                        }
                        let name = row_field(*code, part);
                        let raw = posted.one(&name).unwrap_or("");
                        any |= !raw.is_empty();
                        if let Some(v) = number(&name, raw, &mut errors, None) {
                            entry.insert((*part).into(), v);
                        }
                    }
                    if any {
                        listed.push(*code);
                        entries.push(Value::Object(entry));
                    }
                }
                if entries.is_empty() {
                    Value::Null
                } else {
                    Value::Array(entries)
                }
            }
            _ => match number(field, posted.one(field).unwrap_or(""), &mut errors, spec.as_ref()) {
                Some(v) => v,
                None => continue,
            },
        };
        answers.insert((*field).to_owned(), value);
    }
    (answers, listed, errors)
}

fn csrf_ok(form: &HashMap<String, String>, csrf: &str) -> bool {
    form.get("csrf").is_some_and(|c| c == csrf)
}

fn csrf_refused() -> Result<HttpResponse, ApiError> {
    message(
        StatusCode::FORBIDDEN,
        "Skjemaet kunne ikke sendes",
        vec!["Siden var for gammel. Gå tilbake, last siden på nytt og prøv igjen."],
    )
}

/// `POST /p/questions/{key}`: saves one screen's answers into the draft, then the next screen
/// (or the summary); the same screen with a message at each failing answer otherwise (422).
pub async fn save_questions(
    state: web::Data<AppState>,
    req: HttpRequest,
    key: web::Path<String>,
    posted: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    let posted = Posted(posted.into_inner());
    if posted.one("csrf") != Some(csrf.as_str()) {
        return csrf_refused();
    }
    let form = match form_of(&state, session).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    let Some(index) = form.groups.iter().position(|g| g.key == key.as_str()) else {
        return message(StatusCode::NOT_FOUND, "Siden finnes ikke", vec!["Gå tilbake til skjemaet."]);
    };
    let group = form.groups[index];
    let (answers, listed, mut errors) = read_answers(&form, &group, &posted);
    if errors.is_empty() {
        let (config, today, group_key) = (state.settings.orders, state.today(), group.key.to_owned());
        let saved = state
            .run_db(move |conn| {
                Ok(app::patient_channel::save_group(conn, session, &group_key, &answers, config, today))
            })
            .await?;
        match saved {
            Ok(()) => {
                let next =
                    form.groups.get(index + 1).map_or("/p/summary".to_owned(), |g| format!("/p/questions/{}", g.key));
                return Ok(see_other(&next));
            }
            Err(app::Error::Invalid(fields)) => {
                for e in fields {
                    let text = message_nb(spec_of(&form, &catalogue_name(&e.field)).as_ref(), &e.field, &e.code);
                    errors.entry(error_key(&group, &e.field, &listed)).or_insert(text);
                }
            }
            Err(app::Error::Conflict(_)) => return order_closed(),
            Err(e) => return Err(e.into()),
        }
    }
    render(StatusCode::UNPROCESSABLE_ENTITY, &question_page(&form, index, csrf, Some(&posted), &errors))
}

struct GroupSummary {
    title: String,
    link: String,
    answers: Vec<(String, String)>,
    /// Something on this screen stops the sending.
    to_fix: bool,
}

#[derive(Template)]
#[template(path = "patient/summary.html")]
struct SummaryPage {
    groups: Vec<GroupSummary>,
    csrf: String,
    /// The sending failed: the screens to fix are marked, or (`other`) something the patient
    /// cannot fix.
    has_errors: bool,
    other: bool,
}

/// One answer in words, as the summary shows it.
fn answer_in_words(q: &QuestionView) -> String {
    let words = match q.kind {
        "checkbox" => q.options.iter().filter(|o| o.checked).map(|o| o.label.clone()).collect::<Vec<_>>().join(", "),
        "substances" => q
            .rows
            .iter()
            .filter_map(|r| {
                let chosen = |opts: &[OptionView]| {
                    opts.iter().find(|o| o.checked && !o.value.is_empty()).map(|o| o.label.clone())
                };
                let (frequency, route) = (chosen(&r.freq_options), chosen(&r.route_options));
                let age = r.debut.as_ref().map(|d| d.value.as_str()).filter(|v| !v.is_empty());
                if frequency.is_none() && route.is_none() && age.is_none() && !r.stored {
                    return None;
                }
                // A row without a frequency (a clinician's draft may hold one) is shown as it is;
                // the screen's check asks for the frequency before the form is sent.
                let frequency = frequency.unwrap_or_else(|| "hyppighet ikke oppgitt".to_owned());
                let mut words = format!("{}: {frequency}", r.label);
                if let Some(route) = route {
                    words.push_str(&format!(", {}", route.to_lowercase()));
                }
                if let Some(age) = age {
                    words.push_str(&format!(", første gang som {age}-åring"));
                }
                Some(words)
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => q.options.iter().find(|o| o.checked).map(|o| o.label.clone()).unwrap_or_else(|| q.value.clone()),
    };
    if words.is_empty() {
        "Ikke besvart".to_owned()
    } else {
        words
    }
}

fn summary_page(form: &PatientForm, csrf: String, errors: &[domain::FieldError]) -> SummaryPage {
    let values = form.values();
    let mut other = false;
    for e in errors {
        other |= !form.groups.iter().any(|g| g.owns_error(&e.field));
    }
    let groups = form
        .groups
        .iter()
        .map(|g| GroupSummary {
            title: g.title_nb.to_owned(),
            link: format!("/p/questions/{}", g.key),
            answers: g
                .fields
                .iter()
                .filter_map(|f| spec_of(form, f))
                .map(|spec| {
                    let q = question(form, &spec, value_at(&values, spec.name), None, &BTreeMap::new());
                    let shown = answer_in_words(&q);
                    (q.label, shown)
                })
                .collect(),
            to_fix: errors.iter().any(|e| g.owns_error(&e.field)),
        })
        .collect();
    SummaryPage { groups, csrf, has_errors: !errors.is_empty(), other }
}

/// `GET /p/summary`: every answer, with a way back to each screen, and the button to send.
pub async fn summary(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    let form = match form_of(&state, session).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    render(StatusCode::OK, &summary_page(&form, csrf, &[]))
}

/// `POST /p/submit`: sends the answers; the code dies and the session ends. A follow-up is
/// completed on the way (outcome 5); when a rule stops it, the summary again (422) with the
/// screens to fix, and nothing is sent.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    posted: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    if !csrf_ok(&posted, &csrf) {
        return csrf_refused();
    }
    let (config, today) = (state.settings.orders, state.today());
    match state.run_db(move |conn| Ok(app::patient_channel::submit(conn, session, config, today))).await? {
        Ok(()) => {
            let mut res = see_other("/p/receipt");
            res.add_cookie(&session_cookie(&state, String::new(), 0)).map_err(ApiError::internal)?;
            Ok(res)
        }
        Err(app::Error::Invalid(errors)) => {
            let form = match form_of(&state, session).await? {
                Ok(f) => f,
                Err(page) => return Ok(page),
            };
            render(StatusCode::UNPROCESSABLE_ENTITY, &summary_page(&form, csrf, &errors))
        }
        Err(app::Error::Conflict(_) | app::Error::NotFound) => order_closed(),
        Err(e) => Err(e.into()),
    }
}

/// `GET /p/receipt`.
pub async fn receipt() -> Result<HttpResponse, ApiError> {
    render(
        StatusCode::OK,
        &MessagePage {
            title: "Takk for svarene dine",
            paragraphs: vec![
                "Svarene er sendt til behandlingsstedet ditt. De går gjennom dem sammen med deg.",
                "Koden kan ikke brukes igjen. Du kan lukke denne siden.",
            ],
            show_sign_in: false,
        },
    )
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/p", web::get().to(sign_in_page))
        .route("/p/", web::get().to(sign_in_page))
        .route("/p/sign-in", web::post().to(sign_in))
        .route("/p/questions", web::get().to(first_questions))
        .route("/p/questions/{key}", web::get().to(questions))
        .route("/p/questions/{key}", web::post().to(save_questions))
        .route("/p/summary", web::get().to(summary))
        .route("/p/submit", web::post().to(submit))
        .route("/p/receipt", web::get().to(receipt));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_are_read_as_patients_type_them() {
        let d = NaiveDate::from_ymd_opt(1980, 12, 24);
        for raw in ["24.12.1980", "24/12/1980", "24121980", "1980-12-24", " 24.12.1980 "] {
            assert_eq!(parse_birth_date(raw), d, "{raw}");
        }
        for raw in ["", "31.02.1980", "24.12.80", "abc", "24.12.1980.1", &"1".repeat(30)] {
            assert_eq!(parse_birth_date(raw), None, "{raw}");
        }
    }

    #[test]
    fn a_user_token_is_no_patient_session() {
        let sessions = PatientSessions::new(b"0123456789abcdefghijklmnopqrstuvwxyz");
        let tokens = crate::tokens::Tokens::new(b"0123456789abcdefghijklmnopqrstuvwxyz", 15);
        let user = tokens.issue(Uuid::new_v4(), 1, Utc::now());
        assert!(user.is_ok_and(|t| sessions.verify(&t).is_none()));
        let session = sessions.issue(Uuid::new_v4());
        assert!(session.is_ok_and(|(t, _)| sessions.verify(&t).is_some() && tokens.verify(&t).is_err()));
    }
}
