//! Questionnaire orders of the patient channel (docs/patient-channel.md): order the patient part
//! of a baseline or measurement draft (a registrar or unit contact of the pathway's unit), list
//! orders per unit, pathway and status, read one with its status history, and cancel one. Each
//! order gets a single-use access code, returned once by [`create`] and stored only as a hash.
//! Every use case writes its audit row in the transaction of its change.

use chrono::NaiveDate;
use domain::access::PathwayAccess;
use domain::audit::{Action, Outcome};
use domain::forms::{FormId, FormKind};
use domain::orders::{AccessCode, OrderConfig, OrderStatus, Questionnaire};
use domain::FieldError;
use persistence::orders::{self, Mover, NewOrderRow, OrderFilter, OrderRow, OrderStatusRow};
use persistence::pathways::PathwayRow;
use persistence::{audit, forms, in_transaction, outbox, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::access::{hide_missing, load_pathway, pathway_access, record_for_patient, register_role, register_units};
use crate::paging::{Paged, Paging};
use crate::{Caller, Conflict, Error};

/// The longest reason a cancellation may give.
pub const MAX_REASON_CHARS: usize = 1000;

/// An order with its status history.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub row: OrderRow,
    pub history: Vec<OrderStatusRow>,
}

/// A new order and its access code: the only time the code is seen in clear.
#[derive(Debug, Clone)]
pub struct Ordered {
    pub view: OrderView,
    pub code: AccessCode,
}

/// The status of a stored order.
pub fn status_of(row: &OrderRow) -> Result<OrderStatus, Error> {
    OrderStatus::parse(&row.status).ok_or_else(|| Error::inconsistent("an order with an unknown status"))
}

fn order_closed(status: OrderStatus) -> Error {
    Conflict::Rule { code: "order_closed", message: format!("the order is {status}; only an open order can change") }
        .into()
}

/// Where the patient is told about a new order besides the code handed over: an e-mail address
/// and a mobile number, both optional. Kept in the outbox only while the order is open.
#[derive(Clone, Default)]
pub struct Contacts {
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl std::fmt::Debug for Contacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contacts")
            .field("email", &self.email.as_ref().map(|_| "<set>"))
            .field("phone", &self.phone.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The checked contacts: an e-mail address lettre can send to, a phone number in E.164.
fn parse_contacts(contacts: &Contacts) -> Result<(Option<String>, Option<domain::orders::PhoneNumber>), Error> {
    let mut errors = Vec::new();
    let email = match contacts.email.as_deref().map(crate::outbox::parse_email) {
        None => None,
        Some(Ok(a)) => Some(a),
        Some(Err(e)) => {
            errors.push(e);
            None
        }
    };
    let phone = match contacts.phone.as_deref() {
        None => None,
        Some(raw) => match domain::orders::PhoneNumber::parse(raw) {
            Ok(p) => Some(p),
            Err(domain::DomainError::Invalid(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    if errors.is_empty() {
        Ok((email, phone))
    } else {
        Err(Error::Invalid(errors))
    }
}

/// Orders the patient part of the draft `form` (baseline or measurement). `Hidden` when the
/// form is out of the caller's scope, `Forbidden` when the caller only reads it (a unit the
/// pathway left), `Invalid` on `form_id` for a kind without a patient part, a conflict when the
/// form is completed or already has an open order.
pub fn create(
    conn: &mut PgConnection,
    caller: &Caller,
    form: FormId,
    contacts: &Contacts,
    config: OrderConfig,
    public_url: &str,
    today: NaiveDate,
) -> Result<Ordered, Error> {
    let role = register_role(&caller.actor, Error::Forbidden)?;
    let by = caller.actor.user_id;
    let (email, phone) = parse_contacts(contacts)?;
    in_transaction(conn, |conn| {
        let f = forms::find(conn, form).map_err(hide_missing)?;
        let p = load_pathway(conn, f.pathway(), true)?;
        match pathway_access(conn, caller, &p)? {
            PathwayAccess::Full => {}
            access if access.reads_form_of(f.unit_id) => return Err(Error::Forbidden),
            PathwayAccess::ReadOwn(_) => return Err(Error::Hidden),
        }
        let kind = f.kind()?;
        let Some(questionnaire) = Questionnaire::of_draft(kind) else {
            return Err(Error::invalid(
                "form_id",
                "not_orderable",
                format!("a {kind} form has no part the patient answers through an order"),
            ));
        };
        if f.is_completed() {
            return Err(Conflict::FormCompleted.into());
        }
        let code = AccessCode::generate(&mut rand::rngs::OsRng);
        let (remind_on, expires_on) = config.dates(today);
        let new = NewOrderRow {
            id: Uuid::now_v7(),
            patient_id: p.patient_id,
            pathway_id: p.id,
            unit_id: p.unit_id,
            form_id: Some(f.id),
            questionnaire: questionnaire.as_str().into(),
            remind_on,
            expires_on,
            attempt: 1,
            ordered_by: Some(by),
        };
        let row = orders::insert(conn, &new, &code.hash(), Mover::User(by)).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Conflict::Rule {
                code: "order_open",
                message: "the form already has an open order; cancel it to order again".into(),
            }
            .into(),
            e => Error::from(e),
        })?;
        // The messages say that there is something to answer and how; not the code.
        let mut channels = Vec::new();
        if let Some(email) = &email {
            let body = crate::scheduler::email_invitation_text(public_url, expires_on);
            let subject = crate::scheduler::EMAIL_INVITATION_SUBJECT;
            outbox::add_addressed(conn, row.id, "email", "invitation", email, Some(subject), &body)?;
            channels.push("email");
        }
        if let Some(phone) = &phone {
            let body = crate::scheduler::sms_invitation_text(public_url, expires_on);
            outbox::add_addressed(conn, row.id, "sms", "invitation", phone.as_str(), None, &body)?;
            channels.push("sms");
        }
        let entry = caller.audit(Action::CreateOrder, Outcome::Success).role(Some(role.as_str()));
        let detail =
            json!({"questionnaire": questionnaire, "form": f.id, "expires_on": expires_on, "channels": channels});
        record_for_patient(conn, caller, entry.target("order", row.id).detail(detail), &p)?;
        let history = orders::history(conn, row.id)?;
        Ok(Ordered { view: OrderView { row, history }, code })
    })
}

/// An order and its pathway with the caller's access: `true` full (the pathway's unit), `false`
/// read only (the unit that ordered it, after the pathway moved); `Hidden` otherwise.
fn load_order(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    lock: bool,
) -> Result<(OrderRow, PathwayRow, bool), Error> {
    let row = if lock { orders::find_for_update(conn, id) } else { orders::find(conn, id) }.map_err(hide_missing)?;
    let p = load_pathway(conn, domain::pathways::PathwayId(row.pathway_id), false)?;
    match pathway_access(conn, caller, &p)? {
        PathwayAccess::Full => Ok((row, p, true)),
        access if access.reads_form_of(row.unit_id) => Ok((row, p, false)),
        PathwayAccess::ReadOwn(_) => Err(Error::Hidden),
    }
}

/// One order with its status history.
pub fn read(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> Result<OrderView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    in_transaction(conn, |conn| {
        let (row, p, _) = load_order(conn, caller, id, false)?;
        let history = orders::history(conn, id)?;
        let entry = caller.audit(Action::ReadOrder, Outcome::Success).role(Some(role.as_str())).target("order", id);
        record_for_patient(conn, caller, entry, &p)?;
        Ok(OrderView { row, history })
    })
}

/// Cancels an open order (its code dies with it). `reason` is optional, at most 1000 characters.
pub fn cancel(conn: &mut PgConnection, caller: &Caller, id: Uuid, reason: Option<String>) -> Result<OrderView, Error> {
    let role = register_role(&caller.actor, Error::Hidden)?;
    let by = caller.actor.user_id;
    in_transaction(conn, |conn| {
        let (row, p, full) = load_order(conn, caller, id, true)?;
        if !full {
            return Err(Error::Forbidden);
        }
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
            return Err(Error::invalid("reason", "length", "must be at most 1000 characters"));
        }
        let status = status_of(&row)?;
        if !status.may_move_to(OrderStatus::Cancelled) {
            return Err(order_closed(status));
        }
        let row = orders::move_status(conn, id, status.as_str(), "cancelled", Mover::User(by), reason.as_deref())?
            .ok_or_else(|| Error::inconsistent("a locked order changed"))?;
        let entry = caller.audit(Action::CancelOrder, Outcome::Success).role(Some(role.as_str())).target("order", id);
        record_for_patient(conn, caller, entry.detail(json!({"from": status})), &p)?;
        let history = orders::history(conn, id)?;
        Ok(OrderView { row, history })
    })
}

/// What a list of orders asks for, as the caller sent it (checked by [`list`]).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub unit: Option<i64>,
    pub pathway: Option<Uuid>,
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// Orders of the units the caller registers at (newest first), filtered by unit, pathway and
/// status. One audit row carries every listed patient.
pub fn list(conn: &mut PgConnection, caller: &Caller, q: &ListQuery) -> Result<Paged<OrderRow>, Error> {
    let role = register_role(&caller.actor, Error::Forbidden)?;
    let mut errors = Vec::new();
    if q.status.as_deref().is_some_and(|s| OrderStatus::parse(s).is_none()) {
        errors.push(FieldError::new(
            "status",
            "code_list",
            "must be one of ordered, notified, opened, answered, expired, cancelled, failed",
        ));
    }
    let paging = Paging::parse(q.page, q.per_page).map_err(|e| errors.push(e)).ok();
    let Some(paging) = paging.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors)) };
    let units = register_units(conn, caller)?;
    if q.unit.is_some_and(|u| !units.contains(&u)) {
        return Err(Error::Forbidden);
    }
    let filter = OrderFilter {
        visible_units: units,
        unit: q.unit,
        pathway: q.pathway,
        status: q.status.clone(),
        limit: paging.limit,
        offset: paging.offset,
    };
    let entry = caller.audit(Action::ListOrders, Outcome::Success).role(Some(role.as_str()));
    in_transaction(conn, |conn| {
        let (rows, total) = orders::list(conn, &filter)?;
        let listed: Vec<(Uuid, Vec<u8>)> =
            rows.iter().map(|(o, pseudonym)| (o.patient_id, pseudonym.clone())).collect();
        let ids: Vec<Uuid> = rows.iter().map(|(o, _)| o.id).collect();
        let detail = json!({"unit": q.unit, "pathway": q.pathway, "status": q.status, "page": paging.page(),
            "orders": ids, "total": total});
        audit::record(conn, &entry.unit(q.unit).patients(&listed).detail(detail))?;
        Ok(Paged::new(rows.into_iter().map(|(o, _)| o).collect(), paging, total))
    })
}

/// Cancels every open order of a patient, in the caller's transaction (a reservation, before the
/// patient's rows are deleted). Returns how many were cancelled.
pub fn cancel_all_of_patient(conn: &mut PgConnection, patient: Uuid, by: Uuid) -> Result<usize, Error> {
    let open = orders::open_of_patient(conn, patient)?;
    for o in &open {
        orders::move_status(conn, o.id, &o.status, "cancelled", Mover::User(by), Some("reservation"))?;
    }
    Ok(open.len())
}

/// The form kind an order's answers land in.
pub fn form_kind_of(row: &OrderRow) -> Result<FormKind, Error> {
    Questionnaire::parse(&row.questionnaire)
        .map(Questionnaire::form_kind)
        .ok_or_else(|| Error::inconsistent("an order of an unknown questionnaire"))
}

/// What the register staff's summary of orders asks for: orders made in `year` (default: this
/// year) of `questionnaire` (default: the follow-up).
#[derive(Debug, Clone, Default)]
pub struct SummaryQuery {
    pub year: Option<i32>,
    pub questionnaire: Option<String>,
}

/// One unit's line of the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitSummary {
    pub unit_id: i64,
    pub name: String,
    pub orders: persistence::orders::UnitOrderCounts,
    /// Follow-ups only, as of today: pathways whose follow-up window is open, and of them those
    /// without an open or answered order (the scheduler orders them on its next pass, unless
    /// their attempts are spent).
    pub window_open: Option<i64>,
    pub window_without_order: Option<i64>,
}

/// The summary: a line per unit with orders or (follow-ups) an open window, and the totals.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub year: i32,
    pub questionnaire: Questionnaire,
    pub today: NaiveDate,
    pub units: Vec<UnitSummary>,
    pub total: UnitSummary,
}

/// The register staff's view of orders by unit: made, sent, open, answered, expired, cancelled
/// and failed (orders made in the year), and for follow-ups the windows open today and those
/// still without an order. Counts only, no patient: for register staff (national oversight),
/// who see every count in full; anyone else is refused.
pub fn summary(
    conn: &mut PgConnection,
    caller: &Caller,
    q: &SummaryQuery,
    window: domain::worklist::WorklistConfig,
    today: NaiveDate,
) -> Result<OrderSummary, Error> {
    use chrono::{Datelike, Months};
    if !caller.actor.is_national() {
        return Err(Error::Forbidden);
    }
    let mut errors = Vec::new();
    let year = q.year.unwrap_or(today.year());
    if let Err(domain::DomainError::Invalid(mut e)) = domain::indicators::parse_year(year, today.year()) {
        errors.append(&mut e);
    }
    let questionnaire = match q.questionnaire.as_deref() {
        None => Some(Questionnaire::FollowUp),
        Some(raw) => Questionnaire::parse(raw).or_else(|| {
            errors.push(FieldError::new(
                "questionnaire",
                "code_list",
                "must be one of baseline, measurement, follow_up",
            ));
            None
        }),
    };
    let Some(questionnaire) = questionnaire.filter(|_| errors.is_empty()) else { return Err(Error::Invalid(errors)) };
    let (from, to) = crate::reports::year_days(year)?;
    let tree = reporting::tree::OrgTree::load(conn)?;
    let mut units: std::collections::BTreeMap<i64, UnitSummary> = std::collections::BTreeMap::new();
    for c in orders::counts_by_unit(conn, questionnaire.as_str(), from, to)? {
        let unit = c.unit_id;
        units.entry(unit).or_default().orders = c;
    }
    if questionnaire == Questionnaire::FollowUp {
        let opened_by = today.checked_sub_months(Months::new(window.follow_up_opens_months)).unwrap_or(NaiveDate::MIN);
        let closed_before =
            today.checked_sub_months(Months::new(window.follow_up_closes_months)).unwrap_or(NaiveDate::MIN);
        for w in orders::follow_up_windows_by_unit(conn, opened_by, closed_before)? {
            let u = units.entry(w.unit_id).or_default();
            u.window_open = Some(w.window_open);
            u.window_without_order = Some(w.without_order);
        }
    }
    let follow_up = questionnaire == Questionnaire::FollowUp;
    let mut total = UnitSummary { name: tree.name(tree.nation()).to_owned(), ..UnitSummary::default() };
    let units: Vec<UnitSummary> = units
        .into_iter()
        .map(|(id, mut u)| {
            u.unit_id = id;
            u.orders.unit_id = id;
            u.name = tree.name(id).to_owned();
            if follow_up {
                u.window_open.get_or_insert(0);
                u.window_without_order.get_or_insert(0);
            }
            add_counts(&mut total, &u);
            u
        })
        .collect();
    total.unit_id = tree.nation();
    total.orders.unit_id = tree.nation();
    if follow_up {
        total.window_open.get_or_insert(0);
        total.window_without_order.get_or_insert(0);
    }
    let entry = caller.audit(Action::ReadOrderSummary, Outcome::Success).role(Some("register_staff"));
    audit::record(
        conn,
        &entry.detail(json!({"year": year, "questionnaire": questionnaire.as_str(), "units": units.len()})),
    )?;
    Ok(OrderSummary { year, questionnaire, today, units, total })
}

fn add_counts(total: &mut UnitSummary, u: &UnitSummary) {
    let (t, o) = (&mut total.orders, &u.orders);
    t.ordered += o.ordered;
    t.sent += o.sent;
    t.open += o.open;
    t.answered += o.answered;
    t.expired += o.expired;
    t.cancelled += o.cancelled;
    t.failed += o.failed;
    if let Some(w) = u.window_open {
        *total.window_open.get_or_insert(0) += w;
    }
    if let Some(w) = u.window_without_order {
        *total.window_without_order.get_or_insert(0) += w;
    }
}
