//! The order scheduler (docs/patient-channel.md, Scheduler): one pass orders the one-year
//! follow-ups whose window has opened (and a new attempt after an expired one, while attempts
//! are left), with an invitation letter carrying the code; records the reminders that are due,
//! with a reminder letter; expires the orders past their expiry date; and makes the unit
//! contacts' daily digests ([`crate::digests`]). Every step claims its
//! rows with `FOR UPDATE SKIP LOCKED` and is idempotent (unique indexes), so passes may run at
//! once on several server instances against one database, and never make two orders or two
//! messages for one event.

use chrono::{Months, NaiveDate};
use domain::audit::{Action, Outcome};
use domain::orders::{AccessCode, OrderConfig, Questionnaire};
use domain::worklist::WorklistConfig;
use persistence::audit::AuditEntry;
use persistence::orders::{self, Mover, NewOrderRow};
use persistence::{audit, in_transaction, patients, scheduler, PgConnection, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::Error;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    pub follow_ups_ordered: usize,
    pub reminded: usize,
    pub expired: usize,
    /// Follow-ups recorded as not reached (outcome 6) because their last attempt expired.
    pub not_reached: usize,
    /// Messages whose addresses were forgotten because their order closed.
    pub addresses_forgotten: usize,
    /// Unit contacts' daily digests added to the outbox ([`crate::digests`]).
    pub digests: usize,
    /// Orders moved to `notified` because the print service or the SMS gateway marked their
    /// invitation sent ([`crate::outbox::notify_delivered`]).
    pub notified: usize,
}

/// The invitation letter: that there is something to answer and how, nothing about health,
/// treatment or the register's subject.
pub fn invitation_text(public_url: &str, code: &AccessCode, expires_on: NaiveDate) -> String {
    format!(
        "Du er invitert til å svare på et spørreskjema.\n\nGå til {public_url}/p og logg inn med koden\n\n    {}\n\n\
         og fødselsdatoen din. Koden kan brukes én gang og gjelder til {}.",
        code.display(),
        expires_on.format("%d.%m.%Y")
    )
}

/// The reminder letter (it carries no code: the invitation has it).
pub fn reminder_text(public_url: &str, expires_on: NaiveDate) -> String {
    format!(
        "Påminnelse: du har et spørreskjema som venter på svar. Gå til {public_url}/p og logg inn med koden \
         fra brevet du fikk. Skjemaet kan besvares til {}.",
        expires_on.format("%d.%m.%Y")
    )
}

/// The subject of the invitation e-mail.
pub const EMAIL_INVITATION_SUBJECT: &str = "Du har et spørreskjema å svare på";
/// The subject of the reminder e-mail.
pub const EMAIL_REMINDER_SUBJECT: &str = "Påminnelse: et spørreskjema venter på svar";

/// The invitation e-mail. It does not carry the code (docs/patient-channel.md, Why the e-mail
/// carries no code): the patient has it from the person who ordered or from the letter.
pub fn email_invitation_text(public_url: &str, expires_on: NaiveDate) -> String {
    format!(
        "Du er invitert til å svare på et spørreskjema.\n\nGå til {public_url}/p og logg inn med koden du har fått \
         utlevert eller i brev, og fødselsdatoen din. Skjemaet kan besvares til {}.\n\n\
         Denne e-posten er sendt automatisk og kan ikke besvares.",
        expires_on.format("%d.%m.%Y")
    )
}

/// The reminder e-mail (no code either).
pub fn email_reminder_text(public_url: &str, expires_on: NaiveDate) -> String {
    format!(
        "Påminnelse: du har et spørreskjema som venter på svar. Gå til {public_url}/p og logg inn med koden \
         du har fått utlevert eller i brev. Skjemaet kan besvares til {}.\n\n\
         Denne e-posten er sendt automatisk og kan ikke besvares.",
        expires_on.format("%d.%m.%Y")
    )
}

/// The invitation SMS (no code: an SMS is read on a locked screen).
pub fn sms_invitation_text(public_url: &str, expires_on: NaiveDate) -> String {
    format!(
        "Du har et spørreskjema å svare på innen {}. Logg inn på {public_url}/p med koden du har fått.",
        expires_on.format("%d.%m.%Y")
    )
}

/// The reminder SMS.
pub fn sms_reminder_text(public_url: &str, expires_on: NaiveDate) -> String {
    format!(
        "Påminnelse: et spørreskjema venter på svar til {}. Logg inn på {public_url}/p med koden du har fått.",
        expires_on.format("%d.%m.%Y")
    )
}

/// Orders at most `batch` follow-ups, in one transaction.
fn order_follow_ups(
    conn: &mut PgConnection,
    config: OrderConfig,
    window: WorklistConfig,
    public_url: &str,
    today: NaiveDate,
    batch: i64,
) -> Result<usize, Error> {
    let opened_by = today.checked_sub_months(Months::new(window.follow_up_opens_months)).unwrap_or(NaiveDate::MIN);
    let closed_before = today.checked_sub_months(Months::new(window.follow_up_closes_months)).unwrap_or(NaiveDate::MIN);
    let attempts = i16::try_from(config.follow_up_attempts).unwrap_or(1);
    in_transaction(conn, |conn| {
        let candidates = scheduler::claim_follow_up_candidates(conn, opened_by, closed_before, attempts, batch)?;
        let (remind_on, expires_on) = config.dates(today);
        let mut made = 0;
        for c in candidates {
            let code = AccessCode::generate(&mut rand::rngs::OsRng);
            let new = NewOrderRow {
                id: Uuid::now_v7(),
                patient_id: c.patient_id,
                pathway_id: c.pathway_id,
                unit_id: c.unit_id,
                form_id: None,
                questionnaire: Questionnaire::FollowUp.as_str().into(),
                remind_on,
                expires_on,
                attempt: c.attempt,
                ordered_by: None,
            };
            // In a savepoint: a conflict leaves the rest of the batch's transaction usable.
            let row = match in_transaction(conn, |conn| orders::insert(conn, &new, &code.hash(), Mover::System)) {
                Ok(row) => row,
                // Another pass made it first (the rows are claimed, so only across passes that
                // read before the other committed): nothing to do.
                Err(RepoError::UniqueViolation(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            scheduler::add_message(
                conn,
                row.id,
                "letter",
                "invitation",
                &invitation_text(public_url, &code, expires_on),
            )?;
            let pseudonym = patients::pseudonym_of(conn, row.patient_id)?;
            let entry = AuditEntry::new(Action::CreateOrder, Outcome::Success)
                .role(Some("system"))
                .target("order", row.id)
                .unit(Some(row.unit_id))
                .patient(Some(row.patient_id), Some(pseudonym))
                .detail(json!({"questionnaire": "follow_up", "attempt": row.attempt, "expires_on": expires_on}));
            audit::record(conn, &entry)?;
            made += 1;
        }
        Ok(made)
    })
}

/// One pass of the scheduler as of `today`, in batches of `batch` rows per transaction, until
/// nothing is left to do; the unit digests included (`rusreg schedule`: cron picks the hour).
pub fn run_pass(
    conn: &mut PgConnection,
    config: OrderConfig,
    window: WorklistConfig,
    public_url: &str,
    today: NaiveDate,
    batch: i64,
) -> Result<PassReport, Error> {
    run_pass_with(conn, config, window, public_url, today, batch, true)
}

/// [`run_pass`], with the unit digests only when `digests` (the server's scheduler: from the
/// digest hour on, [`crate::digests::digest_due`]).
pub fn run_pass_with(
    conn: &mut PgConnection,
    config: OrderConfig,
    window: WorklistConfig,
    public_url: &str,
    today: NaiveDate,
    batch: i64,
    digests: bool,
) -> Result<PassReport, Error> {
    let mut report = PassReport::default();
    loop {
        let (n, not_reached) = in_transaction(conn, |conn| {
            let ids = scheduler::expire_due(conn, today, batch)?;
            let mut not_reached = 0;
            for id in &ids {
                // The follow-up's last attempt: not reached (crate::follow_ups), in this transaction.
                let order = orders::find(conn, *id)?;
                not_reached += usize::from(crate::follow_ups::record_not_reached(conn, &order, config, today)?);
            }
            Ok::<_, Error>((ids.len(), not_reached))
        })?;
        report.expired += n;
        report.not_reached += not_reached;
        if n < usize::try_from(batch).unwrap_or(usize::MAX) {
            break;
        }
    }
    loop {
        let n = order_follow_ups(conn, config, window, public_url, today, batch)?;
        report.follow_ups_ordered += n;
        if n < usize::try_from(batch).unwrap_or(usize::MAX) {
            break;
        }
    }
    loop {
        let n = in_transaction(conn, |conn| {
            let ids = scheduler::claim_reminders(conn, today, batch)?;
            for id in &ids {
                let order = orders::find(conn, *id)?;
                scheduler::add_message(conn, *id, "letter", "reminder", &reminder_text(public_url, order.expires_on))?;
                // And on the channels the invitation went out on, to the same address.
                persistence::outbox::add_addressed_reminders(
                    conn,
                    *id,
                    (EMAIL_REMINDER_SUBJECT, &email_reminder_text(public_url, order.expires_on)),
                    &sms_reminder_text(public_url, order.expires_on),
                )?;
            }
            Ok::<_, Error>(ids.len())
        })?;
        report.reminded += n;
        if n < usize::try_from(batch).unwrap_or(usize::MAX) {
            break;
        }
    }
    report.notified = crate::outbox::notify_delivered(conn, batch)?;
    if digests {
        report.digests = crate::digests::make_digests(conn, &window, public_url, today)?;
    }
    report.addresses_forgotten = crate::outbox::forget_addresses(conn)?;
    Ok(report)
}
