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
use app::patient_channel::{PatientForm, Session, SignInRefused};
use askama::Template;
use chrono::{NaiveDate, Utc};
use domain::forms::catalogue::{form_fields, FieldKind, FieldSpec};
use domain::forms::codes::labels_nb;
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
            "Skjemaet kan ikke besvares her ennå",
            vec!["Koden og fødselsdatoen stemmer, men dette skjemaet kan ikke fylles ut på nett ennå. Du blir kontaktet."],
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
    let today = state.today();
    match state.run_db(move |conn| Ok(app::patient_channel::read(conn, session, today))).await? {
        Ok(form) => Ok(Ok(form)),
        Err(app::Error::Conflict(_) | app::Error::NotFound) => Ok(Err(order_closed()?)),
        Err(e) => Err(e.into()),
    }
}

struct OptionView {
    id: String,
    value: i16,
    label: String,
    checked: bool,
}

struct QuestionView {
    name: String,
    label: String,
    hint: String,
    options: Vec<OptionView>,
    value: String,
    error: Option<String>,
}

fn spec_of(form: &PatientForm, field: &str) -> Option<FieldSpec> {
    form_fields(form.questionnaire.form_kind()).into_iter().find(|s| s.name == field)
}

/// One question from the catalogue: code lists and 1–5 scales as radio buttons, wider ranges
/// as a number field. `typed` is what the patient sent (kept when it failed).
fn question(spec: &FieldSpec, stored: &serde_json::Value, typed: Option<&str>, error: Option<String>) -> QuestionView {
    let current = stored.as_i64().map(|v| v.to_string());
    let chosen = typed.map(str::to_owned).or(current).unwrap_or_default();
    let (options, hint) = match spec.kind {
        FieldKind::Code => {
            let labels = labels_nb(spec.codes).unwrap_or(spec.codes);
            let options = labels
                .iter()
                .map(|(code, label)| OptionView {
                    id: format!("{}-{code}", spec.name),
                    value: *code,
                    label: (*label).to_owned(),
                    checked: chosen == code.to_string(),
                })
                .collect();
            (options, String::new())
        }
        FieldKind::Integer(r) if r.max - r.min <= 9 => {
            let options = (r.min..=r.max)
                .map(|v| OptionView {
                    id: format!("{}-{v}", spec.name),
                    value: v,
                    label: match v {
                        v if v == r.min => format!("{v} (lavest)"),
                        v if v == r.max => format!("{v} (høyest)"),
                        v => v.to_string(),
                    },
                    checked: chosen == v.to_string(),
                })
                .collect();
            (options, format!("Velg fra {} (lavest) til {} (høyest).", r.min, r.max))
        }
        FieldKind::Integer(r) => (Vec::new(), format!("Et tall fra {} til {}. Kan stå tomt.", r.min, r.max)),
        _ => (Vec::new(), String::new()),
    };
    QuestionView { name: spec.name.to_owned(), label: spec.label_nb.to_owned(), hint, options, value: chosen, error }
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
    typed: &HashMap<String, String>,
    errors: &BTreeMap<String, String>,
) -> QuestionPage {
    let group = form.groups[index];
    let values = form.values();
    let questions = group
        .fields
        .iter()
        .filter_map(|f| spec_of(form, f))
        .map(|spec| {
            let typed = typed.get(spec.name).map(String::as_str);
            question(&spec, &values[spec.name], typed.filter(|_| !errors.is_empty()), errors.get(spec.name).cloned())
        })
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
    render(StatusCode::OK, &question_page(&form, index, csrf, &HashMap::new(), &BTreeMap::new()))
}

/// The message a patient sees for a field error of the domain's rules.
fn message_nb(spec: Option<&FieldSpec>, code: &str) -> String {
    match (code, spec.map(|s| s.kind)) {
        ("range", Some(FieldKind::Integer(r))) => format!("Svaret må være et tall fra {} til {}.", r.min, r.max),
        ("type", _) => "Skriv svaret som et helt tall, uten andre tegn.".into(),
        ("code_list", _) | ("range", _) => "Velg et av svarene.".into(),
        _ => "Svaret kan ikke brukes. Prøv igjen.".into(),
    }
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
    posted: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    let posted = posted.into_inner();
    if !csrf_ok(&posted, &csrf) {
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
    let mut answers = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for field in group.fields {
        let raw = posted.get(*field).map(|v| v.trim()).unwrap_or("");
        if raw.is_empty() {
            answers.insert((*field).to_owned(), None);
        } else if let Ok(v) = raw.parse::<i16>() {
            answers.insert((*field).to_owned(), Some(v));
        } else {
            errors.insert((*field).to_owned(), message_nb(spec_of(&form, field).as_ref(), "type"));
        }
    }
    if errors.is_empty() {
        let (today, group_key) = (state.today(), group.key.to_owned());
        let saved = state
            .run_db(move |conn| Ok(app::patient_channel::save_group(conn, session, &group_key, &answers, today)))
            .await?;
        match saved {
            Ok(()) => {
                let next =
                    form.groups.get(index + 1).map_or("/p/summary".to_owned(), |g| format!("/p/questions/{}", g.key));
                return Ok(see_other(&next));
            }
            Err(app::Error::Invalid(fields)) => {
                for e in fields {
                    let text = message_nb(spec_of(&form, &e.field).as_ref(), &e.code);
                    errors.insert(e.field, text);
                }
            }
            Err(app::Error::Conflict(_)) => return order_closed(),
            Err(e) => return Err(e.into()),
        }
    }
    render(StatusCode::UNPROCESSABLE_ENTITY, &question_page(&form, index, csrf, &posted, &errors))
}

struct GroupSummary {
    title: String,
    link: String,
    answers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "patient/summary.html")]
struct SummaryPage {
    groups: Vec<GroupSummary>,
    csrf: String,
}

/// `GET /p/summary`: every answer, with a way back to each screen, and the button to send.
pub async fn summary(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    let form = match form_of(&state, session).await? {
        Ok(f) => f,
        Err(page) => return Ok(page),
    };
    let values = form.values();
    let groups = form
        .groups
        .iter()
        .map(|g| GroupSummary {
            title: g.title_nb.to_owned(),
            link: format!("/p/questions/{}", g.key),
            answers: g
                .fields
                .iter()
                .filter_map(|f| spec_of(&form, f))
                .map(|spec| {
                    let q = question(&spec, &values[spec.name], None, None);
                    let shown = q
                        .options
                        .iter()
                        .find(|o| o.checked)
                        .map(|o| o.label.clone())
                        .or_else(|| Some(q.value.clone()).filter(|v| !v.is_empty()))
                        .unwrap_or_else(|| "Ikke besvart".to_owned());
                    (q.label, shown)
                })
                .collect(),
        })
        .collect();
    render(StatusCode::OK, &SummaryPage { groups, csrf })
}

/// `POST /p/submit`: sends the answers; the code dies and the session ends.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    posted: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let Some((session, csrf)) = session_of(&state, &req) else { return session_ended() };
    if !csrf_ok(&posted, &csrf) {
        return csrf_refused();
    }
    let today = state.today();
    match state.run_db(move |conn| Ok(app::patient_channel::submit(conn, session, today))).await? {
        Ok(()) => {
            let mut res = see_other("/p/receipt");
            res.add_cookie(&session_cookie(&state, String::new(), 0)).map_err(ApiError::internal)?;
            Ok(res)
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
