//! The outbox's e-mail sender against a real SMTP server: aiosmtpd (PyPI, pinned; `.ci/run`
//! installs it and names it in `AIOSMTPD_BIN`; the test fails without it) on a free port, with
//! its Mailbox handler writing every delivered mail into a maildir. An order with an e-mail
//! address and a phone number puts an invitation for each channel in the outbox; the sender
//! delivers the e-mail to the right recipient with no health words, no national id and no code,
//! and moves the order to `notified`; a second run sends nothing; a server that is down gets the
//! message tried again after the delay, once; a message whose sender died while sending is
//! marked failed and never sent again.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use app::outbox::{Mailer, RetryPolicy, SendReport, SmtpSettings, SmtpTls};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use domain::access::Role;
use integration_tests::{json, TestApp, UNIT_MOLDE};
use serde_json::Value;

use crate::fixtures::{call, create, pathway_for_new_patient, IDS};

fn aiosmtpd_bin() -> PathBuf {
    // `.ci/run` installs it and names it in AIOSMTPD_BIN; without that, a pinned venv under the
    // tests' target folder.
    integration_tests::python_tool(
        "AIOSMTPD_BIN",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        "aiosmtpd-1.4.6",
        &["aiosmtpd==1.4.6"],
        "aiosmtpd",
    )
}

/// aiosmtpd listening on `port`, delivering into the maildir `dir`; killed on drop.
struct SmtpServer {
    child: Child,
}

impl SmtpServer {
    fn start(port: u16, dir: &Path) -> Self {
        let child = Command::new(aiosmtpd_bin())
            .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < StdDuration::from_secs(20), "aiosmtpd did not listen on {port}");
            std::thread::sleep(StdDuration::from_millis(50));
        }
        Self { child }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mailer(port: u16) -> Mailer {
    Mailer::new(&SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "noreply@example.no".into(),
        timeout_seconds: 5,
    })
    .unwrap()
}

fn send(app: &TestApp, mailer: &Mailer, at: chrono::DateTime<Utc>) -> SendReport {
    app::outbox::send_email(&mut app.db.server_conn(), mailer, RetryPolicy::default(), at, 10).unwrap()
}

/// The delivered mails, read with Python's own e-mail parser (the venv's python beside aiosmtpd):
/// (To, Subject, Message-ID, decoded body), oldest first.
fn delivered(dir: &Path) -> Vec<(String, String, String, String)> {
    let new = dir.join("new");
    let mut files: Vec<_> = match std::fs::read_dir(&new) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort_by_key(|f| std::fs::metadata(f).unwrap().modified().unwrap());
    let python = aiosmtpd_bin().with_file_name("python");
    files
        .iter()
        .map(|f| {
            let script = "import email, email.policy, json, sys\n\
                m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n\
                print(json.dumps([str(m['To']), str(m['Subject']), str(m['Message-ID']), m.get_body().get_content()]))";
            let out = Command::new(&python).args(["-c", script]).arg(f).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let v: (String, String, String, String) = serde_json::from_slice(&out.stdout).unwrap();
            v
        })
        .collect()
}

/// Words that would tell what the message is about: none may be in a mail.
const HEALTH_WORDS: &[&str] = &[
    "rus",
    "behandl",
    "alkohol",
    "narkoti",
    "avhengig",
    "helse",
    "diagnos",
    "klinikk",
    "substans",
    "legemiddel",
    "audit",
    "dudit",
    "injiser",
    "f10",
    "kvarus",
    "poliklin",
    "døgn",
];

fn assert_says_nothing_about_health(text: &str, national_id: &str, code: &str) {
    let lower = text.to_lowercase();
    for word in HEALTH_WORDS {
        assert!(!lower.contains(word), "the mail says {word:?}: {text}");
    }
    assert!(!text.contains(national_id), "the national id is in the mail");
    assert!(!text.contains(&national_id[..6]), "the date of birth is in the mail");
    assert!(!text.contains(code), "the code is in the mail");
}

/// A pathway at Molde with a baseline draft; returns the form.
async fn baseline_draft(app: &TestApp, token: &str, id: (&str, i32)) -> String {
    let pathway = pathway_for_new_patient(app, token, app.unit(UNIT_MOLDE).0, id, 20, 1).await;
    let body =
        json!({"event_date": (domain::clock::today() - Duration::days(10)).to_string(), "referral_diagnosis": "F10.2"});
    create(app, token, &pathway, "baseline", &body).await.0
}

#[derive(QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    channel: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    attempts: i16,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    recipient: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    body: String,
    #[diesel(sql_type = diesel::sql_types::Double)]
    retry_in: f64,
}

fn outbox(app: &TestApp, order: &str) -> Vec<Row> {
    diesel::sql_query(
        "SELECT channel, status, attempts, recipient, body,
                extract(epoch FROM next_attempt_at - now())::float8 AS retry_in
         FROM outbox_messages WHERE order_id = $1::uuid ORDER BY id",
    )
    .bind::<diesel::sql_types::Text, _>(order)
    .load(&mut app.conn())
    .unwrap()
}

async fn order_with(app: &TestApp, token: &str, form: &str, contacts: Value) -> Value {
    let mut body = json!({"form_id": form});
    body.as_object_mut().unwrap().extend(contacts.as_object().unwrap().clone());
    let (status, created) = call(app, "POST", "/api/v1/orders", Some(&body), Some(token)).await;
    assert_eq!(status, 201, "{created}");
    created
}

#[actix_web::test]
async fn the_invitation_e_mail_reaches_the_patient_once_and_says_nothing_about_health() {
    let app = TestApp::spawn().await;
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let dir = tempfile_dir("mailbox");
    let port = free_port();
    let smtp = SmtpServer::start(port, &dir);
    let mailer = mailer(port);

    let form = baseline_draft(&app, &registrar, IDS[0]).await;
    let created =
        order_with(&app, &registrar, &form, json!({"email": "pasient@example.no", "phone": "912 34 567"})).await;
    let (order, code) =
        (created["id"].as_str().unwrap().to_owned(), created["access_code"].as_str().unwrap().to_owned());
    let rows = outbox(&app, &order);
    assert_eq!(
        rows.iter().map(|r| (r.channel.as_str(), r.status.as_str())).collect::<Vec<_>>(),
        [("email", "pending"), ("sms", "pending")]
    );
    // The SMS waits for the gateway, in E.164, without the code.
    assert_eq!(rows[1].recipient.as_deref(), Some("+4791234567"));
    assert_says_nothing_about_health(&rows[1].body, IDS[0].0, &code);

    let report = send(&app, &mailer, Utc::now());
    assert_eq!((report.sent, report.retried, report.failed), (1, 0, 0), "{report:?} {:?}", last_errors(&app));
    let mails = delivered(&dir);
    assert_eq!(mails.len(), 1);
    let (to, subject, message_id, body) = &mails[0];
    assert_eq!(to, "pasient@example.no");
    assert!(message_id.starts_with("<outbox-") && message_id.ends_with("@example.no>"), "{message_id}");
    assert!(body.contains("/p") && body.contains("spørreskjema"), "{body}");
    assert_says_nothing_about_health(&format!("{subject}\n{body}"), IDS[0].0, &code);
    let rows = outbox(&app, &order);
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("sent", 1));
    assert_eq!(rows[1].status, "pending", "the SMS is the gateway's to send");
    let (_, read) = call(&app, "GET", &format!("/api/v1/orders/{order}"), None, Some(&registrar)).await;
    assert_eq!(read["status"], "notified");
    assert_eq!(read["history"][1]["actor"], "system");

    // A second run sends nothing again.
    let report = send(&app, &mailer, Utc::now() + Duration::days(1));
    assert_eq!(report, SendReport::default());
    assert_eq!(delivered(&dir).len(), 1);

    // The address is forgotten once the order is closed (here: cancelled), by the scheduler's pass.
    let (status, _) =
        call(&app, "POST", &format!("/api/v1/orders/{order}/cancel"), Some(&json!({})), Some(&registrar)).await;
    assert_eq!(status, 200);
    let today = domain::clock::today();
    let mut conn = app.db.server_conn();
    let pass = app::scheduler::run_pass(
        &mut conn,
        domain::orders::OrderConfig::default(),
        domain::worklist::WorklistConfig::default(),
        "https://rusreg.example",
        today,
        100,
    )
    .unwrap();
    assert_eq!(pass.addresses_forgotten, 1, "the sent e-mail's address ({pass:?})");
    let rows = outbox(&app, &order);
    assert_eq!(rows[0].recipient, None);
    smtp.stop();
}

#[actix_web::test]
async fn an_smtp_server_that_is_down_gets_the_mail_later_once() {
    let app = TestApp::spawn().await;
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let dir = tempfile_dir("mailbox-down");
    let port = free_port();
    let mailer = mailer(port);
    let form = baseline_draft(&app, &registrar, IDS[1]).await;
    let created = order_with(&app, &registrar, &form, json!({"email": "nummer.to@example.no"})).await;
    let order = created["id"].as_str().unwrap().to_owned();

    // Nobody listens: the message is tried again after the first delay (60 s), not lost.
    let now = Utc::now();
    let report = send(&app, &mailer, now);
    assert_eq!((report.sent, report.retried, report.failed), (0, 1, 0), "{report:?}");
    let rows = outbox(&app, &order);
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("pending", 1));
    assert!((40.0..=61.0).contains(&rows[0].retry_in), "next attempt in {} s", rows[0].retry_in);
    // Before the delay nothing is tried.
    assert_eq!(send(&app, &mailer, now + Duration::seconds(30)), SendReport::default());
    assert_eq!(outbox(&app, &order)[0].attempts, 1);
    // Still down at the second attempt: the delay doubles.
    let report = send(&app, &mailer, now + Duration::seconds(61));
    assert_eq!(report.retried, 1);
    let rows = outbox(&app, &order);
    assert_eq!(rows[0].attempts, 2);
    assert!((100.0..=182.0).contains(&rows[0].retry_in), "next attempt in {} s", rows[0].retry_in);

    // The server is back: the mail goes out once.
    let smtp = SmtpServer::start(port, &dir);
    let report = send(&app, &mailer, now + Duration::seconds(61 + 121));
    assert_eq!((report.sent, report.retried), (1, 0), "{report:?}");
    let mails = delivered(&dir);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "nummer.to@example.no");
    assert_eq!(outbox(&app, &order)[0].status, "sent");
    assert_eq!(send(&app, &mailer, now + Duration::hours(7)), SendReport::default());
    assert_eq!(delivered(&dir).len(), 1);
    smtp.stop();
}

#[actix_web::test]
async fn a_mail_whose_sender_died_while_sending_is_never_sent_again() {
    let app = TestApp::spawn().await;
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let dir = tempfile_dir("mailbox-died");
    let port = free_port();
    let smtp = SmtpServer::start(port, &dir);
    let form = baseline_draft(&app, &registrar, IDS[2]).await;
    let created = order_with(&app, &registrar, &form, json!({"email": "tre@example.no"})).await;
    let order = created["id"].as_str().unwrap().to_owned();
    // A sender claimed it 20 minutes ago and died before recording what happened.
    diesel::sql_query(
        "UPDATE outbox_messages SET status = 'sending', attempts = 1, sending_since = now() - interval '20 minutes'
         WHERE order_id = $1::uuid",
    )
    .bind::<diesel::sql_types::Text, _>(&order)
    .execute(&mut app.conn())
    .unwrap();
    // A claim younger than the limit is left alone (its sender may still be at work).
    let report = send(&app, &mailer(port), Utc::now() - Duration::minutes(15));
    assert_eq!(report, SendReport::default());
    let report = send(&app, &mailer(port), Utc::now());
    assert_eq!((report.interrupted, report.sent), (1, 0), "{report:?}");
    assert_eq!(outbox(&app, &order)[0].status, "failed");
    assert!(delivered(&dir).is_empty());
    smtp.stop();
}

#[actix_web::test]
async fn an_order_with_a_bad_address_or_number_is_refused_at_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let registrar = app.token_for(Role::Registrar, app.unit(UNIT_MOLDE)).await;
    let form = baseline_draft(&app, &registrar, IDS[3]).await;
    let body = json!({"form_id": form, "email": "not an address", "phone": "12"});
    let (status, problem) = call(&app, "POST", "/api/v1/orders", Some(&body), Some(&registrar)).await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<_> = problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "phone"], "{problem}");
    assert!(!problem.to_string().contains("not an address"), "the value is not echoed");
    assert_eq!(app.count("orders"), 0);
    assert_eq!(app.count("outbox_messages"), 0);
}

/// A new maildir path (aiosmtpd's Mailbox makes the maildir when it does not exist yet).
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

fn last_errors(app: &TestApp) -> Vec<Option<String>> {
    #[derive(QueryableByName)]
    struct E {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        last_error: Option<String>,
    }
    let rows: Vec<E> =
        diesel::sql_query("SELECT last_error FROM outbox_messages ORDER BY id").load(&mut app.conn()).unwrap();
    rows.into_iter().map(|r| r.last_error).collect()
}

#[actix_web::test]
async fn a_unit_contact_gets_one_daily_digest_of_counts_by_e_mail_and_nobody_else_does() {
    let app = TestApp::spawn().await;
    let unit = app.unit(UNIT_MOLDE);
    let registrar = app.token_for(Role::Registrar, unit).await;
    let admin = app.token_for(Role::Admin, app.nation()).await;
    let contact = app.user_with("digest-contact", Role::UnitContact, unit);
    let second = app.user_with("digest-second-contact", Role::UnitContact, unit);
    let no_address = app.user_with("digest-no-address", Role::UnitContact, unit);
    let clerk = app.user_with("digest-registrar", Role::Registrar, unit);
    let disabled = app.user_with("digest-disabled", Role::UnitContact, unit);
    let set_email = |user: uuid::Uuid, body: Value| {
        let (app, admin) = (&app, admin.clone());
        async move { call(app, "PATCH", &format!("/api/v1/users/{user}"), Some(&body), Some(&admin)).await }
    };
    for (user, address) in [
        (contact, "kontakt@example.no"),
        (second, "kontakt2@example.no"),
        (clerk, "registrar@example.no"),
        (disabled, "disabled@example.no"),
    ] {
        let (status, body) = set_email(user, json!({"email": address})).await;
        assert_eq!((status, body["email"].as_str()), (200, Some(address)), "{body}");
    }
    // A bad address is refused at the field and nothing changes: not the stored address, nor the
    // name sent with it.
    let (status, refused) =
        set_email(contact, json!({"email": "not an address", "display_name": "Et nytt navn"})).await;
    assert_eq!((status, refused["errors"][0]["field"].as_str()), (422, Some("email")), "{refused}");
    let unchanged =
        format!("users WHERE id = '{contact}' AND email = 'kontakt@example.no' AND display_name = 'digest-contact'");
    assert_eq!(app.count(&unchanged), 1);
    let (status, _) = set_email(disabled, json!({"disabled": true})).await;
    assert_eq!(status, 200);
    let (status, cleared) = set_email(no_address, json!({"email": ""})).await;
    assert_eq!((status, &cleared["email"]), (200, &Value::Null));

    // Nothing due yesterday: no digest, and the day is done.
    let today = domain::clock::today();
    let pass = |day| {
        let mut conn = app.db.server_conn();
        app::scheduler::run_pass(&mut conn, Default::default(), Default::default(), "https://rusreg.example", day, 100)
            .unwrap()
    };
    assert_eq!(pass(today - chrono::Duration::days(1)).digests, 0);
    // Before the digest hour the server's pass makes none (and leaves the day open).
    {
        let mut conn = app.db.server_conn();
        let early = app::scheduler::run_pass_with(
            &mut conn,
            Default::default(),
            Default::default(),
            "https://rusreg.example",
            today,
            100,
            false,
        )
        .unwrap();
        assert_eq!(early.digests, 0);
    }
    // A pathway started 40 days ago without a baseline: its baseline is overdue; another with a
    // baseline draft whose patient part was ordered (not answered yet).
    pathway_for_new_patient(&app, &registrar, unit.0, IDS[0], 40, 1).await;
    let form = baseline_draft(&app, &registrar, IDS[1]).await;
    order_with(&app, &registrar, &form, json!({})).await;
    // The patient has answered (as the patient's page leaves it: answered, the form a draft).
    diesel::sql_query("UPDATE orders SET status = 'answered', closed_at = now()").execute(&mut app.conn()).unwrap();

    // Two passes at once make one digest per unit contact with an address, and only for today.
    let reports: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| pass(today));
        let b = s.spawn(|| pass(today));
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    assert_eq!(reports.iter().map(|r| r.digests).sum::<usize>(), 2, "{reports:?}");
    assert_eq!(pass(today).digests, 0, "once a day");
    // The day is done: a contact given an address now waits for tomorrow, and the pass reads
    // no recipient or worklist again today.
    assert_eq!(app.count(&format!("digest_days WHERE day = '{today}'")), 1);
    let (status, _) = set_email(no_address, json!({"email": "sen@example.no"})).await;
    assert_eq!(status, 200);
    assert_eq!(pass(today).digests, 0);

    let dir = tempfile_dir("digests");
    let port = free_port();
    let smtp = SmtpServer::start(port, &dir);
    let report = send(&app, &mailer(port), Utc::now());
    assert_eq!(report.sent, 2, "{report:?}");
    let mut mails = delivered(&dir);
    mails.sort();
    let to: Vec<&str> = mails.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(to, ["kontakt2@example.no", "kontakt@example.no"]);
    let unit_name = {
        let mut conn = app.conn();
        persistence::organisations::find_node(&mut conn, unit.0, today).unwrap().node.name
    };
    // The counts are the unit's worklist's, as its registrar sees it.
    let mut totals = Vec::new();
    for overdue in [false, true] {
        let path = format!("/api/v1/units/{}/worklist?overdue={overdue}", unit.0);
        let (status, list) = call(&app, "GET", &path, None, Some(&registrar)).await;
        assert_eq!(status, 200, "{list}");
        totals.push(list["total"].as_i64().unwrap());
    }
    assert!(totals[1] >= 1, "the baseline started 40 days ago is overdue: {totals:?}");
    for (_, subject, _, body) in &mails {
        assert_eq!(subject, app::digests::DIGEST_SUBJECT);
        assert!(body.contains(&format!("Daglig oversikt for {unit_name}")), "{body}");
        assert!(body.contains(&format!("Skjema som skal fylles ut: {}\n", totals[0])), "{body}");
        assert!(body.contains(&format!("Skjema på overtid: {}\n", totals[1])), "{body}");
        assert!(body.contains("Svar fra pasienter som venter på gjennomgang: 1"), "{body}");
        // Counts only: no patient's national id, date of birth or id.
        for (national_id, _) in &IDS[..2] {
            assert!(!body.contains(national_id) && !body.contains(&national_id[..6]), "{body}");
        }
    }
    // The addresses are forgotten once the digests are sent (the next pass).
    pass(today);
    let remembered: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM outbox_messages WHERE purpose = 'digest' AND recipient IS NOT NULL",
    )
    .get_result::<Count>(&mut app.conn())
    .unwrap()
    .n;
    assert_eq!(remembered, 0);
    assert_eq!(pass(today + chrono::Duration::days(1)).digests, 3, "the next day: all three contacts");
    smtp.stop();
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
