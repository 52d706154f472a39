//! The use cases called directly, as the CLI, import and FHIR will call them: a connection and
//! a caller in, a typed outcome or a typed error out — no HTTP anywhere.

#![expect(clippy::unwrap_used, reason = "tests")]

use app::forms::FormInput;
use app::{Caller, Conflict, Error};
use chrono::Duration;
use diesel::prelude::*;
use domain::access::{Actor, Role};
use domain::forms::{Baseline, FormData, FormId, FormKind};
use domain::national_id::IdKey;
use domain::organisations::NodeId;
use domain::pathways::OpenPathwayInput;
use domain::patients::{NewPatientInput, PatientId};
use integration_tests::{TestDb, TEST_ID_KEY, TEST_PASSWORD, UNIT_ALESUND, UNIT_MOLDE};

mod login;

fn caller(conn: &mut PgConnection, username: &str, role: Role, node: NodeId) -> Caller {
    let id = app::users::ensure_user_with_grant(conn, username, username, TEST_PASSWORD, role, node).unwrap();
    let actor: Actor = app::access::actor_of(conn, id, None).unwrap().unwrap();
    Caller::new(actor, Some(format!("test-{username}")))
}

fn unit(conn: &mut PgConnection, resh: i64) -> NodeId {
    NodeId(persistence::organisations::find_by_resh_id(conn, resh).unwrap().unwrap().id)
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

/// A registrar at Molde with a patient, a pathway and a baseline draft.
fn setup(conn: &mut PgConnection) -> (Caller, FormId) {
    let molde = unit(conn, UNIT_MOLDE);
    let registrar = caller(conn, "molde-registrar", Role::Registrar, molde);
    let today = domain::clock::today();
    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let input = NewPatientInput { national_id: "02029404855".into(), sex: 1, birth_year: 1994 };
    let patient = app::patients::register(conn, &registrar, &key, input, today).unwrap();
    assert!(patient.created);
    let open = OpenPathwayInput {
        patient_id: PatientId(patient.id),
        unit_id: molde,
        start_date: today - Duration::days(10),
        treatment_level: 1,
        residence_code: None,
    };
    let pathway = app::pathways::open(conn, &registrar, &open, today).unwrap();
    let draft = FormData::Baseline(Baseline::default());
    let form = app::forms::create(conn, &registrar, pathway.row.pathway(), FormKind::Baseline, draft).unwrap();
    assert_eq!(form.row.version, 1);
    (registrar, FormId(form.row.id))
}

fn with_in_lar(v: i16) -> impl FormInput {
    FormData::Baseline(Baseline { in_lar: Some(v), ..Baseline::default() })
}

#[test]
fn a_form_update_writes_the_change_its_history_and_its_audit_row() {
    let db = TestDb::new();
    let conn = &mut db.conn();
    let (registrar, form) = setup(conn);
    let before = count(conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'form.update'");

    let updated = app::forms::update(conn, &registrar, form, Some(1), with_in_lar(2)).unwrap();
    assert_eq!(updated.row.version, 2);
    let FormData::Baseline(b) = &updated.data else { panic!("a baseline") };
    assert_eq!(b.in_lar, Some(2));

    let history = app::forms::history(conn, &registrar, form).unwrap();
    let last = history.last().unwrap();
    assert_eq!(last.row.action, "updated");
    assert_eq!(last.row.changes[0]["field"], "in_lar");
    assert_eq!(count(conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'form.update'"), before + 1);
}

#[test]
fn a_stale_or_missing_version_is_a_typed_error_and_changes_nothing() {
    let db = TestDb::new();
    let conn = &mut db.conn();
    let (registrar, form) = setup(conn);
    app::forms::update(conn, &registrar, form, Some(1), with_in_lar(2)).unwrap();
    let history = app::forms::history(conn, &registrar, form).unwrap().len();

    let stale = app::forms::update(conn, &registrar, form, Some(1), with_in_lar(1));
    assert!(matches!(stale, Err(Error::Conflict(Conflict::StaleVersion))), "{stale:?}");
    let missing = app::forms::update(conn, &registrar, form, None, with_in_lar(1));
    assert!(matches!(missing, Err(Error::VersionRequired)), "{missing:?}");
    let wrong_kind = app::forms::update(conn, &registrar, form, Some(2), FormData::Discharge(Default::default()));
    assert!(matches!(wrong_kind, Err(Error::Invalid(_))), "{wrong_kind:?}");

    let FormData::Baseline(b) = app::forms::read(conn, &registrar, form).unwrap().data else { panic!() };
    assert_eq!(b.in_lar, Some(2), "the refused updates changed nothing");
    assert_eq!(app::forms::history(conn, &registrar, form).unwrap().len(), history);
}

#[test]
fn a_caller_out_of_scope_learns_nothing_and_changes_nothing() {
    let db = TestDb::new();
    let conn = &mut db.conn();
    let (registrar, form) = setup(conn);
    let alesund = unit(conn, UNIT_ALESUND);
    let other = caller(conn, "alesund-registrar", Role::Registrar, alesund);
    let nation = persistence::organisations::nation_id(conn).unwrap();
    let admin = caller(conn, "admin", Role::Admin, nation);

    for who in [&other, &admin] {
        let read = app::forms::read(conn, who, form);
        assert!(matches!(read, Err(Error::Hidden)), "{read:?}");
        let update = app::forms::update(conn, who, form, Some(1), with_in_lar(2));
        assert!(matches!(update, Err(Error::Hidden)), "{update:?}");
    }
    let FormData::Baseline(b) = app::forms::read(conn, &registrar, form).unwrap().data else { panic!() };
    assert_eq!(b.in_lar, None);
}

#[test]
fn database_uniqueness_comes_back_as_named_conflicts() {
    let db = TestDb::new();
    let conn = &mut db.conn();
    let nation = persistence::organisations::nation_id(conn).unwrap();
    let admin = caller(conn, "admin", Role::Admin, nation);
    let staff = caller(conn, "staff", Role::RegisterStaff, nation);
    let today = domain::clock::today();

    let new = || app::users::NewUser {
        username: "kari".into(),
        display_name: "Kari".into(),
        password: "a long enough password".into(),
    };
    let kari = app::users::create(conn, &admin, new()).unwrap();
    let again = app::users::create(conn, &admin, new());
    assert!(matches!(again, Err(Error::Conflict(Conflict::UsernameTaken))), "{again:?}");

    let molde = unit(conn, UNIT_MOLDE).0;
    app::users::add_grant(conn, &admin, kari.row.id, "registrar", molde, None, today).unwrap();
    let twice = app::users::add_grant(conn, &admin, kari.row.id, "registrar", molde, None, today);
    assert!(matches!(twice, Err(Error::Conflict(Conflict::GrantExists))), "{twice:?}");
    let not_admin = app::users::add_grant(conn, &staff, kari.row.id, "registrar", molde, None, today);
    assert!(matches!(not_admin, Err(Error::Forbidden)), "{not_admin:?}");

    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let reservation =
        || app::reservations::ReservationInput { national_id: "12106346508".into(), received_date: today };
    let first = app::reservations::reserve(conn, &staff, &key, reservation(), today).unwrap();
    assert!(!first.deleted_patient_data);
    let second = app::reservations::reserve(conn, &staff, &key, reservation(), today);
    assert!(matches!(second, Err(Error::Conflict(Conflict::AlreadyReserved))), "{second:?}");
    let by_admin = app::reservations::reserve(conn, &admin, &key, reservation(), today);
    assert!(matches!(by_admin, Err(Error::Forbidden)), "{by_admin:?}");
    assert_eq!(count(conn, "SELECT count(*) AS n FROM reservations"), 1);
}

/// A registration that starts while a reservation of the same person is being written (not yet
/// committed) must wait for it and then be refused: it may not slip in between and leave a
/// patient row beside the reservation.
#[test]
fn a_registration_racing_a_reservation_of_the_same_person_waits_and_is_refused() {
    let db = TestDb::new();
    let mut a = db.conn();
    let molde = unit(&mut a, UNIT_MOLDE);
    let nation = persistence::organisations::nation_id(&mut a).unwrap();
    let staff = caller(&mut a, "staff", Role::RegisterStaff, nation);
    let registrar = caller(&mut a, "registrar", Role::Registrar, molde);
    let today = domain::clock::today();
    let (id, year) = ("17046204441", 1962);
    let url = db.url.clone();
    let registration = a
        .transaction::<_, diesel::result::Error, _>(|a| {
            let key = IdKey::from_bytes(&TEST_ID_KEY);
            let input = app::reservations::ReservationInput { national_id: id.into(), received_date: today };
            app::reservations::reserve(a, &staff, &key, input, today).unwrap();
            // Written, not committed: a registration of the same person starts now.
            let registration = std::thread::spawn(move || {
                let mut b = PgConnection::establish(&url).unwrap();
                let key = IdKey::from_bytes(&TEST_ID_KEY);
                let input = NewPatientInput { national_id: id.into(), sex: 2, birth_year: year };
                app::patients::register(&mut b, &registrar, &key, input, today)
            });
            std::thread::sleep(std::time::Duration::from_millis(700));
            Ok(registration)
        })
        .unwrap();
    let registered = registration.join().unwrap();
    assert!(matches!(registered, Err(Error::Conflict(Conflict::Reserved))), "{registered:?}");
    assert_eq!(count(&mut a, "SELECT count(*) AS n FROM patients"), 0);
    assert_eq!(count(&mut a, "SELECT count(*) AS n FROM reservations"), 1);
}

/// Opening a pathway takes the person's lock like a registration: an opening that starts while
/// a reservation of the patient is being written waits for it and is refused (`reserved`), and
/// openings racing reservations never fail otherwise nor leave a pathway beside a reservation.
#[test]
fn opening_a_pathway_racing_a_reservation_of_the_patient_waits_and_is_refused() {
    let db = TestDb::new();
    let mut a = db.conn();
    let molde = unit(&mut a, UNIT_MOLDE);
    let nation = persistence::organisations::nation_id(&mut a).unwrap();
    let staff = caller(&mut a, "staff", Role::RegisterStaff, nation);
    let registrar = caller(&mut a, "registrar", Role::Registrar, molde);
    let today = domain::clock::today();
    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let ids = [
        ("17046204441", 1962),
        ("01027012333", 1970),
        ("03047123401", 1971),
        ("05067234660", 1972),
        ("07087345658", 1973),
        ("09107411140", 1974),
    ];
    let register = |conn: &mut PgConnection, id: &str, year: i32| {
        let input = NewPatientInput { national_id: id.into(), sex: 2, birth_year: year };
        app::patients::register(conn, &registrar, &key, input, today).unwrap().id
    };
    let open_input = |patient| OpenPathwayInput {
        patient_id: PatientId(patient),
        unit_id: molde,
        start_date: today - Duration::days(3),
        treatment_level: 1,
        residence_code: None,
    };

    // The reservation is written, not committed, when the opening starts.
    let (id, year) = ids[0];
    let patient = register(&mut a, id, year);
    let url = db.url.clone();
    let opening = a
        .transaction::<_, diesel::result::Error, _>(|a| {
            let input = app::reservations::ReservationInput { national_id: id.into(), received_date: today };
            app::reservations::reserve(a, &staff, &key, input, today).unwrap();
            let registrar = registrar.clone();
            let input = open_input(patient);
            let opening = std::thread::spawn(move || {
                let mut b = PgConnection::establish(&url).unwrap();
                app::pathways::open(&mut b, &registrar, &input, today)
            });
            std::thread::sleep(std::time::Duration::from_millis(700));
            Ok(opening)
        })
        .unwrap();
    let opened = opening.join().unwrap();
    assert!(matches!(opened, Err(Error::Conflict(Conflict::Reserved))), "{opened:?}");

    // Reserve and open at once, many times: either the opening comes first (and the reservation
    // deletes its pathway), or it is refused as reserved, or the patient is gone; nothing else.
    for round in 0..4 {
        for &(id, year) in &ids[1..] {
            let patient = register(&mut a, id, year);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let (url, b2, r) = (db.url.clone(), barrier.clone(), registrar.clone());
            let input = open_input(patient);
            let opening = std::thread::spawn(move || {
                let mut b = PgConnection::establish(&url).unwrap();
                b2.wait();
                app::pathways::open(&mut b, &r, &input, today)
            });
            let (url, s) = (db.url.clone(), staff.clone());
            let national_id = id.to_owned();
            let reserving = std::thread::spawn(move || {
                let mut c = PgConnection::establish(&url).unwrap();
                let key = IdKey::from_bytes(&TEST_ID_KEY);
                barrier.wait();
                let input = app::reservations::ReservationInput { national_id, received_date: today };
                app::reservations::reserve(&mut c, &s, &key, input, today)
            });
            reserving.join().unwrap().unwrap();
            match opening.join().unwrap() {
                Ok(_) | Err(Error::Conflict(Conflict::Reserved)) => {}
                // The reservation came first and deleted the patient.
                Err(Error::Invalid(e)) if e.len() == 1 && e[0].field == "patient_id" => {}
                other => panic!("round {round}: {other:?}"),
            }
            assert_eq!(count(&mut a, "SELECT count(*) AS n FROM pathways"), 0, "round {round}");
            assert_eq!(count(&mut a, "SELECT count(*) AS n FROM patients"), 0, "round {round}");
            diesel::sql_query("DELETE FROM reservations").execute(&mut a).unwrap();
        }
    }
}

/// A bulk import's chunk keeps its log rows for one multi-row insert (`persistence::deferred`);
/// a savepoint rolled back inside the chunk must drop the rows recorded in it — here a pathway
/// opened and then refused, whose "opened" status row and audit row would otherwise be written
/// at the flush for a pathway that no longer exists.
#[test]
fn log_rows_recorded_in_a_rolled_back_savepoint_are_not_written_at_the_flush() {
    let db = TestDb::new();
    let conn = &mut db.conn();
    let molde = unit(conn, UNIT_MOLDE);
    let registrar = caller(conn, "molde-registrar", Role::Registrar, molde);
    let today = domain::clock::today();
    let key = IdKey::from_bytes(&TEST_ID_KEY);
    let statuses = count(conn, "SELECT count(*) AS n FROM pathway_status_history");
    let openings = count(conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'pathway.open'");
    let registrations = count(conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'patient.register'");
    persistence::in_transaction(conn, |conn| {
        let logs = persistence::deferred::Deferred::open(conn);
        let input = NewPatientInput { national_id: "02029404855".into(), sex: 1, birth_year: 1994 };
        let patient = app::patients::register(conn, &registrar, &key, input, today)?;
        let open = OpenPathwayInput {
            patient_id: PatientId(patient.id),
            unit_id: molde,
            start_date: today - Duration::days(10),
            treatment_level: 1,
            residence_code: None,
        };
        let refused = persistence::in_transaction(conn, |conn| {
            app::pathways::open(conn, &registrar, &open, today)?;
            Err::<(), Error>(Error::Forbidden)
        });
        assert!(matches!(refused, Err(Error::Forbidden)));
        logs.flush(conn)?;
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(count(conn, "SELECT count(*) AS n FROM pathways"), 0);
    assert_eq!(count(conn, "SELECT count(*) AS n FROM pathway_status_history"), statuses);
    assert_eq!(count(conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'pathway.open'"), openings);
    assert_eq!(count(conn, "SELECT count(*) AS n FROM audit_log WHERE action = 'patient.register'"), registrations + 1);
}
