//! The synthetic-data generator: reproducible, valid by the domain rules, and consistent with
//! the register's invariants.

use diesel::RunQueryDsl;
use integration_tests::{TestDb, TEST_ID_KEY};

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct Shape {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn scalar(conn: &mut diesel::PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Shape>(conn).unwrap().n
}

fn load(seed: u64, writers: usize, batch_pathways: usize) -> (TestDb, persistence::synthetic::LoadSummary) {
    let db = TestDb::new();
    let key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    let settings = persistence::synthetic::SyntheticSettings::builtin().unwrap();
    let options = persistence::synthetic::LoadOptions { writers, batch_pathways };
    let summary = persistence::synthetic::load(&db.url, &key, 3_000, seed, &settings, &options, |_| {}).unwrap();
    (db, summary)
}

/// A fingerprint of the loaded rows (everything but timestamps set by the database and the
/// encrypted ids, whose nonces are random by design).
fn fingerprint(conn: &mut diesel::PgConnection) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Md5 {
        #[diesel(sql_type = diesel::sql_types::Text)]
        md5: String,
    }
    [
        "SELECT id, pseudonym, sex, birth_year FROM patients",
        "SELECT id, patient_id, unit_id, opened_unit_id, start_date, treatment_level, status, anchor_date, \
         last_form_date, discharge_date, discharge_ending, discharge_contact_consent_1y, follow_up_done FROM pathways",
        "SELECT id, pathway_id, kind, unit_id, event_date, status, version FROM forms",
        "SELECT * FROM baseline_forms",
        "SELECT * FROM measurement_forms",
        "SELECT * FROM discharge_forms",
        "SELECT * FROM follow_up_forms",
        "SELECT * FROM form_substances",
        "SELECT pathway_id, from_unit_id, to_unit_id, transfer_date FROM pathway_transfers",
        "SELECT pathway_id, from_status, to_status, event, form_id FROM pathway_status_history",
    ]
    .iter()
    .map(|q| {
        let sql = format!("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS md5 FROM ({q}) t");
        diesel::sql_query(sql).get_result::<Md5>(conn).unwrap().md5
    })
    .collect()
}

#[test]
fn the_same_seed_gives_the_same_population_and_it_keeps_the_invariants() {
    // The same rows whatever the number of writers and the batch size (no dependence on
    // scheduling), other rows from another seed.
    let (db, a) = load(42, 2, 500);
    let (db2, b) = load(42, 1, 700);
    let (_db3, c) = load(43, 2, 500);
    assert_eq!(a.pathways, 3_000);
    assert_eq!(
        (a.patients, a.forms, a.completed_forms, a.substances, a.transfers),
        (b.patients, b.forms, b.completed_forms, b.substances, b.transfers)
    );
    assert_ne!((a.forms, a.substances), (c.forms, c.substances), "another seed, another population");
    let mut conn = db.conn();
    assert_eq!(fingerprint(&mut conn), fingerprint(&mut db2.conn()));
    // The loader writes the worklist and report facts itself (its triggers are off): they match
    // the forms.
    let mismatches = integration_tests::worklist_facts_mismatches(&mut conn);
    assert!(mismatches.is_empty(), "{} pathways, e.g. {:?}", mismatches.len(), mismatches.first());
    let mismatches = integration_tests::report_facts_mismatches(&mut conn);
    assert!(mismatches.is_empty(), "{} mismatches, e.g. {:?}", mismatches.len(), mismatches.first());
    let measurements_with_a_previous_point =
        scalar(&mut conn, "SELECT count(*) AS n FROM forms WHERE previous_date IS NOT NULL");
    assert!(measurements_with_a_previous_point > 0, "the check compared something");
    assert_eq!(scalar(&mut conn, "SELECT count(*) AS n FROM pathways"), 3_000);
    assert_eq!(scalar(&mut conn, "SELECT count(*) AS n FROM patients"), a.patients as i64);
    // At most one active pathway per patient (also a unique index), every status has history.
    assert_eq!(scalar(&mut conn, "SELECT count(*) AS n FROM (SELECT patient_id FROM pathways WHERE status = 1 GROUP BY 1 HAVING count(*) > 1) x"), 0);
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) AS n FROM pathways p WHERE p.status <> (SELECT h.to_status FROM pathway_status_history h WHERE h.pathway_id = p.id ORDER BY h.id DESC LIMIT 1)"),
        0
    );
    // Every kind of form is there, with drafts and completed ones, and late and missing ones.
    for kind in ["baseline", "measurement", "discharge", "follow-up"] {
        assert!(
            scalar(
                &mut conn,
                &format!("SELECT count(*) AS n FROM forms WHERE kind = '{kind}' AND status = 'completed'")
            ) > 0,
            "{kind}"
        );
    }
    assert!(scalar(&mut conn, "SELECT count(*) AS n FROM forms WHERE status = 'draft'") > 0);
    assert!(scalar(&mut conn, "SELECT count(*) AS n FROM pathways p WHERE NOT EXISTS (SELECT 1 FROM forms f WHERE f.pathway_id = p.id AND f.kind = 'baseline')") > 0);
    // Completed discharges set the status; follow-ups only after a completed discharge 3 or 4.
    assert_eq!(
        scalar(&mut conn, "SELECT count(*) AS n FROM forms f JOIN discharge_forms d ON d.form_id = f.id JOIN pathways p ON p.id = f.pathway_id \
                          WHERE f.status = 'completed' AND p.status NOT IN (d.ending, 5, 6, 7)"),
        0
    );
    // Unit sizes are skewed: the largest unit has several times the pathways of the median one.
    let largest =
        scalar(&mut conn, "SELECT max(c) AS n FROM (SELECT count(*) AS c FROM pathways GROUP BY opened_unit_id) x");
    let median = scalar(&mut conn, "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY c)::bigint AS n FROM (SELECT count(*) AS c FROM pathways GROUP BY opened_unit_id) x");
    assert!(largest >= 3 * median, "largest {largest}, median {median}");
    // The stored ids decrypt to valid national ids whose pseudonym matches.
    let key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    #[derive(diesel::QueryableByName)]
    struct Enc {
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        national_id_enc: Vec<u8>,
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        pseudonym: Vec<u8>,
    }
    let rows: Vec<Enc> =
        diesel::sql_query("SELECT national_id_enc, pseudonym FROM patients LIMIT 50").load(&mut conn).unwrap();
    for r in rows {
        let id = key.decrypt(&r.national_id_enc).unwrap();
        assert_eq!(key.pseudonym(&id).to_vec(), r.pseudonym);
    }
}

fn load_realistic(db: &TestDb, seed: u64) -> persistence::synthetic::LoadSummary {
    let key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    let mut settings = persistence::synthetic::SyntheticSettings::builtin().unwrap();
    settings.tree = persistence::synthetic::Tree::Realistic;
    let options = persistence::synthetic::LoadOptions { writers: 2, batch_pathways: 1_000 };
    persistence::synthetic::load(&db.url, &key, 3_000, seed, &settings, &options, |_| {}).unwrap()
}

/// The organisation tree by identifiers: every node with its kind, name, flag and parent.
fn tree_fingerprint(conn: &mut diesel::PgConnection) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Node {
        #[diesel(sql_type = diesel::sql_types::Text)]
        node: String,
    }
    diesel::sql_query(
        "SELECT concat_ws('|', n.kind, n.name, n.org_number, n.resh_id, n.is_demo, p.org_number, l.valid_from) AS node \
         FROM org_nodes n LEFT JOIN org_links l ON l.child_id = n.id AND l.valid_to IS NULL \
         LEFT JOIN org_nodes p ON p.id = l.parent_id ORDER BY n.id",
    )
    .load::<Node>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.node)
    .collect()
}

#[test]
fn the_realistic_tree_is_made_up_reproducible_and_leaves_many_units_small() {
    use persistence::synthetic::tree::{FIRST_RESH_ID, PRIVATE_ORG_PREFIX, TRUST_ORG_PREFIX};
    let (db, db2, db3) = (TestDb::new(), TestDb::new(), TestDb::new());
    let a = load_realistic(&db, 5);
    let b = load_realistic(&db2, 5);
    load_realistic(&db3, 6);
    let mut conn = db.conn();
    let count = |conn: &mut diesel::PgConnection, filter: &str| {
        scalar(conn, &format!("SELECT count(*) AS n FROM org_nodes WHERE {filter}"))
    };

    // The shape: 250 units, 20 trusts (19 real ones and one made up), 40 private institutions
    // (the 3 demo ones and 37 made up) under the 4 regions.
    assert_eq!(count(&mut conn, "kind = 'region'"), 4);
    assert_eq!(count(&mut conn, "kind = 'unit'"), 250);
    let trusts = format!("kind = 'legal_entity' AND (NOT is_demo OR org_number LIKE '{TRUST_ORG_PREFIX}%')");
    assert_eq!(count(&mut conn, &trusts), 20);
    assert_eq!(count(&mut conn, &format!("kind = 'legal_entity' AND NOT ({trusts})")), 40);
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) AS n FROM org_nodes e WHERE e.kind = 'legal_entity' AND NOT EXISTS \
             (SELECT 1 FROM org_links l WHERE l.parent_id = e.id AND l.valid_to IS NULL)"
        ),
        0,
        "every legal entity has a unit"
    );
    assert_eq!(
        scalar(
            &mut conn,
            "SELECT count(*) AS n FROM org_nodes e JOIN org_links l ON l.child_id = e.id AND l.valid_to IS NULL \
             JOIN org_nodes p ON p.id = l.parent_id WHERE e.kind = 'legal_entity' AND p.kind <> 'region'"
        ),
        0,
        "legal entities, private institutions too, hang under a region"
    );

    // Every node added is made up and says so; nothing else was added.
    let added = format!(
        "resh_id >= {FIRST_RESH_ID} OR org_number LIKE '{TRUST_ORG_PREFIX}%' OR org_number LIKE '{PRIVATE_ORG_PREFIX}%'"
    );
    assert_eq!(count(&mut conn, &added), 221 + 1 + 37);
    assert_eq!(a.org_nodes_added, 221 + 1 + 37);
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "({added}) AND NOT (is_demo AND name LIKE 'Syntetisk %' \
                 AND (name LIKE '% (synthetic)' OR name LIKE '% (synthetic private institution)'))"
            )
        ),
        0
    );

    // The same seed gives the same tree and population; another seed another tree.
    assert_eq!((a.patients, a.forms, a.transfers), (b.patients, b.forms, b.transfers));
    assert_eq!(tree_fingerprint(&mut conn), tree_fingerprint(&mut db2.conn()));
    assert_eq!(fingerprint(&mut conn), fingerprint(&mut db2.conn()));
    assert_ne!(tree_fingerprint(&mut conn), tree_fingerprint(&mut db3.conn()));

    // Unit sizes are skewed: the smaller half of the 250 units (units without a pathway
    // included) opened a small share of the pathways, and both made-up and demo units have
    // pathways.
    let smaller_half = scalar(
        &mut conn,
        "SELECT coalesce(sum(c), 0)::bigint AS n FROM (SELECT count(p.id) AS c FROM org_nodes u \
         LEFT JOIN pathways p ON p.opened_unit_id = u.id WHERE u.kind = 'unit' GROUP BY u.id ORDER BY c LIMIT 125) x",
    );
    assert!(smaller_half < 3_000 / 10, "the smaller half of the units opened {smaller_half} of 3,000 pathways");
    for units in [format!("resh_id >= {FIRST_RESH_ID}"), format!("resh_id < {FIRST_RESH_ID}")] {
        let opened = scalar(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM pathways WHERE opened_unit_id IN (SELECT id FROM org_nodes WHERE {units})"
            ),
        );
        assert!(opened > 0, "{units}");
    }

    // Loading again (another seed) keeps the tree as it is and adds no node.
    let before = tree_fingerprint(&mut conn);
    let again = load_realistic(&db, 6);
    assert_eq!((again.org_nodes_added, again.pathways), (0, 3_000));
    assert_eq!(tree_fingerprint(&mut conn), before);
}
