//! The server's own scheduler (docs/patient-channel.md, Scheduler; docs/operations.md): on every
//! tick of `RUSREG_SCHEDULER_INTERVAL_SECONDS` one thread runs the order scheduler's pass as of
//! today and then the e-mail sender. Every instance of the server may run it: the pass and the
//! sender claim their rows with `FOR UPDATE SKIP LOCKED` and are idempotent, so instances share
//! the work and never make two orders or send two messages for one event. `RUSREG_SCHEDULER=off`
//! switches it off (then run `rusreg schedule` and `rusreg send-mail` from cron).

use std::time::Duration;

use persistence::DbPool;

use crate::config::Settings;

/// What the thread needs from the settings.
#[derive(Clone)]
pub struct SchedulerJob {
    pub interval: Duration,
    pub public_url: Option<String>,
    pub orders: domain::orders::OrderConfig,
    pub worklist: domain::worklist::WorklistConfig,
    pub smtp: Option<app::outbox::SmtpSettings>,
    pub retry: app::outbox::RetryPolicy,
    /// The hour (Norwegian time: `domain::clock`) from which a tick makes the day's unit digests.
    pub digest_hour: u32,
}

impl SchedulerJob {
    /// The job of `settings`, or none when it is switched off.
    pub fn of(settings: &Settings) -> Option<Self> {
        settings.scheduler_interval_seconds.map(|seconds| Self {
            interval: Duration::from_secs(seconds),
            public_url: settings.public_url.as_deref().map(|u| u.trim_end_matches('/').to_owned()),
            orders: settings.orders,
            worklist: settings.worklist,
            smtp: settings.smtp.clone(),
            retry: settings.smtp_retry,
            digest_hour: settings.digest_hour,
        })
    }

    /// One tick: the pass (when the public URL for the letters is known), then the e-mail.
    pub fn tick(&self, pool: &DbPool, mailer: Option<&app::outbox::Mailer>) {
        let Ok(mut conn) = pool.get() else {
            tracing::warn!("scheduler: no database connection; trying again at the next tick");
            return;
        };
        if let Some(url) = &self.public_url {
            let now = chrono::Utc::now();
            let digests = app::digests::digest_due(now, self.digest_hour);
            match app::scheduler::run_pass_with(
                &mut conn,
                self.orders,
                self.worklist,
                url,
                domain::clock::date_at(now),
                1000,
                digests,
            ) {
                Ok(r) => tracing::info!(
                    follow_ups_ordered = r.follow_ups_ordered,
                    reminded = r.reminded,
                    expired = r.expired,
                    digests = r.digests,
                    notified = r.notified,
                    not_reached = r.not_reached,
                    "scheduler pass"
                ),
                Err(e) => tracing::error!(error = %e, "scheduler pass failed"),
            }
        }
        if let Some(mailer) = mailer {
            match app::outbox::send_email(&mut conn, mailer, self.retry, chrono::Utc::now(), 100) {
                Ok(r) => tracing::info!(sent = r.sent, retried = r.retried, failed = r.failed, "e-mail sender"),
                Err(e) => tracing::error!(error = %e, "e-mail sender failed"),
            }
        }
    }

    /// Starts the thread; it runs a tick at once and then every interval, until the process ends.
    pub fn spawn(self, pool: DbPool) -> std::io::Result<std::thread::JoinHandle<()>> {
        if self.public_url.is_none() {
            tracing::warn!(
                "RUSREG_PUBLIC_URL is not set: the server's scheduler sends e-mail but orders no follow-ups"
            );
        }
        let mailer = match self.smtp.as_ref().map(app::outbox::Mailer::new) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                tracing::error!(error = %e, "SMTP settings unusable: no e-mail is sent");
                None
            }
            None => None,
        };
        std::thread::Builder::new().name("rusreg-scheduler".into()).spawn(move || loop {
            self.tick(&pool, mailer.as_ref());
            std::thread::sleep(self.interval);
        })
    }
}
