//! The outbox's senders (docs/patient-channel.md, Senders): e-mail goes out through SMTP
//! ([`send_email`]); SMS and letters wait in the outbox for an external service. Sending is at
//! most once: a message is claimed (moved to `sending`, the attempt counted) and committed before
//! it is handed to SMTP, and the outcome is recorded after; a message whose sender died in
//! between is never sent again but marked `failed` (`interrupted`). A refused message (SMTP 5xx)
//! fails; anything else (the server down, 4xx, a timeout) is tried again later with a doubling
//! delay, until the attempts run out. A sent invitation moves its order to `notified`. Nothing
//! logged or recorded names the address.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, Message, SmtpTransport, Transport};
use persistence::orders::{self as order_rows, Mover};
use persistence::outbox::{self, ClaimedMessage};
use persistence::{in_transaction, PgConnection};

use crate::Error;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network only).
    None,
    /// STARTTLS, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl SmtpTls {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "none" | "plain" => Some(Self::None),
            "starttls" => Some(Self::StartTls),
            "tls" | "smtps" => Some(Self::Tls),
            _ => None,
        }
    }
}

/// The SMTP server e-mail goes through.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, `rusreg@example.no` or `KvaRus <rusreg@example.no>`.
    pub from: String,
    /// Connecting and every command time out after this.
    pub timeout_seconds: u64,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username.as_ref().map(|_| "<set>"))
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("from", &self.from)
            .finish()
    }
}

/// When a message that did not go out is tried again, and when the sender gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failed attempt; it doubles with every further one.
    pub first_delay_seconds: u32,
    /// The longest delay.
    pub max_delay_seconds: u32,
    /// Attempts before a message is given up (`failed`).
    pub max_attempts: u16,
    /// A message still `sending` this long after it was claimed is taken for interrupted.
    pub interrupted_after_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { first_delay_seconds: 60, max_delay_seconds: 6 * 3600, max_attempts: 8, interrupted_after_seconds: 600 }
    }
}

impl RetryPolicy {
    /// The delay after the `attempts`-th failed attempt: first, 2 × first, 4 × first, … capped.
    pub fn delay(&self, attempts: i16) -> Duration {
        let doublings = u32::try_from(attempts.max(1) - 1).unwrap_or(0).min(20);
        let seconds = u64::from(self.first_delay_seconds).saturating_mul(1 << doublings);
        let capped = seconds.min(u64::from(self.max_delay_seconds));
        Duration::seconds(i64::try_from(capped).unwrap_or(i64::MAX))
    }
}

/// What became of the messages one run handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    /// Not sent this time; tried again later.
    pub retried: usize,
    /// Refused or out of attempts.
    pub failed: usize,
    /// Found in `sending` by a sender that died; never sent again.
    pub interrupted: usize,
}

/// The e-mail sender: an SMTP transport and the sender address.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    /// The domain of Message-IDs (the sender address's).
    domain: String,
}

/// A message that did not go out, and whether trying again may help.
#[derive(Debug)]
enum SendError {
    /// Refused for good (SMTP 5xx, a bad address).
    Refused(String),
    /// The server was down, busy (4xx) or slow.
    Transient(String),
}

impl Mailer {
    /// The transport of `settings`; the error says which setting is wrong.
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let from: Mailbox =
            settings.from.parse().map_err(|_| "the sender (RUSREG_SMTP_FROM) is not an e-mail address".to_owned())?;
        let tls = match settings.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls | SmtpTls::Tls => {
                let params = TlsParameters::new(settings.host.clone())
                    .map_err(|e| format!("TLS for the SMTP host cannot be set up: {e}"))?;
                if settings.tls == SmtpTls::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(StdDuration::from_secs(settings.timeout_seconds.max(1))));
        match (&settings.username, &settings.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            }
            (None, None) => {}
            _ => return Err("RUSREG_SMTP_USERNAME and RUSREG_SMTP_PASSWORD go together".into()),
        }
        let domain = from.email.domain().to_owned();
        Ok(Self { transport: builder.build(), from, domain })
    }

    fn send(&self, m: &ClaimedMessage) -> Result<(), SendError> {
        let to: Address =
            m.recipient.parse().map_err(|_| SendError::Refused("address: not an e-mail address".into()))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(m.subject.clone().unwrap_or_else(|| "Melding".into()))
            // One Message-ID per outbox row: should a mail ever arrive twice, the receiving side
            // can tell.
            .message_id(Some(format!("<outbox-{}@{}>", m.id, self.domain)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| SendError::Refused(format!("message: {e}")))?;
        self.transport.send(&email).map(|_| ()).map_err(|e| {
            let code = e.status().map(|c| c.to_string());
            if e.is_permanent() {
                SendError::Refused(format!("refused: {}", code.unwrap_or_default()))
            } else if e.is_transient() {
                SendError::Transient(format!("deferred: {}", code.unwrap_or_default()))
            } else if e.is_timeout() {
                SendError::Transient("timeout".into())
            } else if e.is_tls() {
                SendError::Transient("tls".into())
            } else {
                SendError::Transient("connection".into())
            }
        })
    }
}

/// An e-mail address as rusreg keeps it (an order's contact, a user's address for the digests):
/// what lettre reads as an address, at most 254 characters; the field error `invalid_email`
/// otherwise. `raw` is trimmed first.
pub fn parse_email(raw: &str) -> Result<String, domain::FieldError> {
    let raw = raw.trim();
    match raw.parse::<Address>() {
        Ok(a) if raw.len() <= 254 => Ok(a.to_string()),
        _ => Err(domain::FieldError::new("email", "invalid_email", "an e-mail address, name@example.no")),
    }
}

/// The order's invitation is out on `channel`: `ordered` → `notified` (history by `system`, the
/// channel as the reason). Only from `ordered`: an order already notified, opened or closed stays
/// as it is.
fn notified(conn: &mut PgConnection, order: uuid::Uuid, channel: &str) -> Result<(), Error> {
    order_rows::move_status(conn, order, "ordered", "notified", Mover::System, Some(channel))?;
    Ok(())
}

/// Moves the orders whose invitation the print service or the SMS gateway has marked `sent` (they
/// mark their own rows in `outbox_messages`) to `notified`, `batch` orders per transaction, until
/// none is left; the e-mail sender moves its own at once. Returns how many moved. Passes at once
/// share the work (the orders are claimed) and a pass run again moves nothing.
pub fn notify_delivered(conn: &mut PgConnection, batch: i64) -> Result<usize, Error> {
    let mut moved = 0;
    loop {
        let n = in_transaction(conn, |conn| {
            let claimed = outbox::claim_delivered_invitations(conn, batch)?;
            for (order, channel) in &claimed {
                notified(conn, *order, channel)?;
            }
            Ok::<_, Error>(claimed.len())
        })?;
        moved += n;
        if n < usize::try_from(batch).unwrap_or(usize::MAX) {
            return Ok(moved);
        }
    }
}

/// Records one message's outcome: sent (and its order `notified` if it was the invitation), to
/// be tried again after the policy's delay, or failed.
fn record(
    conn: &mut PgConnection,
    m: &ClaimedMessage,
    outcome: Result<(), SendError>,
    policy: RetryPolicy,
    now: DateTime<Utc>,
    report: &mut SendReport,
) -> Result<(), Error> {
    in_transaction(conn, |conn| {
        match outcome {
            Ok(()) => {
                outbox::mark_sent(conn, m.id)?;
                if let (Some(order), "invitation") = (m.order_id, m.purpose.as_str()) {
                    notified(conn, order, "email")?;
                }
                report.sent += 1;
            }
            Err(SendError::Refused(why)) => {
                tracing::warn!(message = m.id, reason = %why, "e-mail refused; not tried again");
                outbox::mark_failed(conn, m.id, &why)?;
                report.failed += 1;
            }
            Err(SendError::Transient(why)) if i32::from(m.attempts) >= i32::from(policy.max_attempts) => {
                tracing::warn!(message = m.id, attempts = m.attempts, reason = %why, "e-mail given up");
                outbox::mark_failed(conn, m.id, &format!("gave up after {} attempts: {why}", m.attempts))?;
                report.failed += 1;
            }
            Err(SendError::Transient(why)) => {
                let next = now + policy.delay(m.attempts);
                tracing::info!(message = m.id, attempts = m.attempts, reason = %why, next = %next, "e-mail deferred");
                outbox::mark_retry(conn, m.id, next, &why)?;
                report.retried += 1;
            }
        }
        Ok(())
    })
}

/// Sends the e-mail that is due at `now`, `batch` claimed at a time, until none is left; first
/// marks the messages whose sender died while sending them as failed.
pub fn send_email(
    conn: &mut PgConnection,
    mailer: &Mailer,
    policy: RetryPolicy,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<SendReport, Error> {
    let mut report = SendReport::default();
    let stale_before = now - Duration::seconds(i64::from(policy.interrupted_after_seconds));
    report.interrupted =
        in_transaction(conn, |conn| Ok::<_, Error>(outbox::fail_interrupted(conn, "email", stale_before)?))?;
    if report.interrupted > 0 {
        tracing::warn!(
            messages = report.interrupted,
            "e-mail interrupted while sending: marked failed, not sent again"
        );
    }
    loop {
        // Claimed and committed before anything is sent: a second sender skips these rows.
        let claimed = in_transaction(conn, |conn| Ok::<_, Error>(outbox::claim_due(conn, "email", now, batch)?))?;
        for m in &claimed {
            let outcome = mailer.send(m);
            record(conn, m, outcome, policy, now, &mut report)?;
        }
        if claimed.len() < usize::try_from(batch).unwrap_or(usize::MAX) {
            return Ok(report);
        }
    }
}

/// Forgets the addresses of messages whose order is closed.
pub fn forget_addresses(conn: &mut PgConnection) -> Result<usize, Error> {
    in_transaction(conn, |conn| Ok(outbox::forget_addresses(conn)?))
}
