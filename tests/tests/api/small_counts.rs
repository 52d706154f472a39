//! Small counts in the completeness reports: a register contact, on a synthetic population with
//! large and small counts, never sees a count from 1 to k−1 at its legal entity or its units,
//! nor one that it could work out from everything it is shown (both reports, both levels) —
//! checked by an equation solver written here, independent of the suppression engine and the
//! auditor: every relation between the counts (each family's categories, units summing to the
//! entity, counts equal across the two reports) is solved for every value it determines.

use std::collections::{BTreeMap, HashMap};

use chrono::Datelike;
use domain::access::Role;
use domain::organisations::NodeId;
use integration_tests::{TestApp, TEST_ID_KEY};
use serde_json::Value;

const K: i64 = 5;

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// The counts of one node as `name → value` (`None` = withheld), with the family categories
/// that are never shown (`b_due`, ...) derived from the true counts when all are known.
pub(crate) fn counts_of(completeness: &Value, variables: &[&Value]) -> BTreeMap<String, Option<i64>> {
    let mut out = BTreeMap::new();
    let mut put = |k: String, v: &Value| {
        out.insert(k, v.as_i64());
    };
    put("pathways_started".into(), &completeness["pathways_started"]);
    for (family, fields) in [
        ("baseline", &["expected", "completed"][..]),
        ("measurements", &["completed", "late", "missing", "overdue"][..]),
        ("discharge", &["expected", "completed"][..]),
        ("follow_up", &["due", "done", "followed_up", "not_reached", "declined", "missing"][..]),
    ] {
        for f in fields {
            put(format!("{family}.{f}"), &completeness[family][f]);
        }
    }
    for v in variables {
        let name = format!("{}.{}", v["form"].as_str().unwrap(), v["variable"].as_str().unwrap());
        for c in ["forms", "missing", "unknown"] {
            put(format!("{name}.{c}"), &v[c]);
        }
    }
    out
}

/// Linear relations `Σ coef·x = 0` between the counts of a node (names as in [`counts_of`], plus
/// the unshown categories).
pub(crate) fn node_relations(names: &[String]) -> Vec<Vec<(String, i64)>> {
    let r = |terms: &[(&str, i64)]| terms.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect::<Vec<_>>();
    let mut out = vec![
        r(&[("pathways_started", 1), ("baseline.expected", -1), ("b_later", -1)]),
        r(&[("baseline.expected", 1), ("baseline.completed", -1), ("b_due", -1)]),
        r(&[("measurements.completed", 1), ("m_ok", -1), ("m_late", -1), ("m_late_missing", -1), ("m_missing", -1)]),
        r(&[("measurements.late", 1), ("m_late", -1), ("m_late_missing", -1)]),
        r(&[("measurements.missing", 1), ("m_missing", -1), ("m_late_missing", -1)]),
        r(&[("discharge.expected", 1), ("discharge.completed", -1), ("d_draft", -1)]),
        r(&[("follow_up.due", 1), ("follow_up.done", -1), ("follow_up.missing", -1)]),
        r(&[
            ("follow_up.done", 1),
            ("follow_up.followed_up", -1),
            ("follow_up.not_reached", -1),
            ("follow_up.declined", -1),
            ("f_other", -1),
        ]),
    ];
    let variables: Vec<&str> = names.iter().filter_map(|n| n.strip_suffix(".forms")).collect();
    for v in &variables {
        out.push(vec![
            (format!("{v}.forms"), 1),
            (format!("{v}.missing"), -1),
            (format!("{v}.unknown"), -1),
            (format!("{v}.value"), -1),
        ]);
        // Equal by definition: the forms of a kind, and completed measurements / discharges.
        let kind = v.split('.').next().unwrap();
        if let Some(other) = variables.iter().find(|o| o.starts_with(&format!("{kind}.")) && *o != v) {
            out.push(vec![(format!("{v}.forms"), 1), (format!("{other}.forms"), -1)]);
        }
        let total = match kind {
            "measurement" => Some("measurements.completed"),
            "discharge" => Some("discharge.completed"),
            _ => None,
        };
        if let Some(t) = total {
            out.push(vec![(format!("{v}.forms"), 1), (t.to_owned(), -1)]);
        }
    }
    out
}

/// The true value of every unknown category of a node, from its true counts.
pub(crate) fn categories(t: &BTreeMap<String, Option<i64>>) -> BTreeMap<String, i64> {
    let v = |n: &str| t[n].unwrap();
    let mut out = BTreeMap::new();
    out.insert("b_later".to_owned(), v("pathways_started") - v("baseline.expected"));
    out.insert("b_due".to_owned(), v("baseline.expected") - v("baseline.completed"));
    out.insert("d_draft".to_owned(), v("discharge.expected") - v("discharge.completed"));
    out.insert(
        "f_other".to_owned(),
        v("follow_up.done") - v("follow_up.followed_up") - v("follow_up.not_reached") - v("follow_up.declined"),
    );
    // With the default limits every measurement after a missed point is also late.
    out.insert("m_missing".to_owned(), 0);
    out.insert("m_late_missing".to_owned(), v("measurements.missing"));
    out.insert("m_late".to_owned(), v("measurements.late") - v("measurements.missing"));
    out.insert("m_ok".to_owned(), v("measurements.completed") - v("measurements.late"));
    for (name, _) in t.iter().filter(|(n, _)| n.ends_with(".forms")) {
        let var = name.trim_end_matches(".forms");
        out.insert(format!("{var}.value"), v(name) - v(&format!("{var}.missing")) - v(&format!("{var}.unknown")));
    }
    out
}

/// Solves every relation with exactly one unknown until none is left; returns what is known.
fn solve(mut known: HashMap<String, i64>, relations: &[Vec<(String, i64)>]) -> HashMap<String, i64> {
    loop {
        let mut progress = false;
        for rel in relations {
            let unknown: Vec<&(String, i64)> = rel.iter().filter(|(n, _)| !known.contains_key(n)).collect();
            if let [(name, coef)] = unknown[..] {
                let rest: i64 = rel.iter().filter(|(n, _)| n != name).map(|(n, c)| c * known[n]).sum();
                known.insert(name.clone(), -rest / coef);
                progress = true;
            }
        }
        if !progress {
            return known;
        }
    }
}

#[actix_web::test]
async fn a_register_contact_never_sees_a_small_completeness_count_nor_one_it_could_work_out() {
    let app = TestApp::spawn().await;
    let key = domain::national_id::IdKey::from_bytes(&TEST_ID_KEY);
    let settings = persistence::synthetic::SyntheticSettings::builtin().unwrap();
    let options = persistence::synthetic::LoadOptions { writers: 1, batch_pathways: 1_000 };
    persistence::synthetic::load(&app.db.url, &key, 3_000, 11, &settings, &options, |_| {}).unwrap();
    let year = domain::clock::today().year() - 1;
    let staff = app.token_for(Role::RegisterStaff, app.nation()).await;
    let at = |report: &str, level: &str, node: i64| {
        format!("/api/v1/reports/{report}?year={year}&level={level}&unit={node}")
    };
    let entities = get(&app, &staff, &format!("/api/v1/reports/completeness?year={year}&level=legal_entity")).await;
    let (mut entities_checked, mut withheld, mut shown_nonzero) = (0, 0, 0);
    for e in entities["rows"].as_array().unwrap() {
        let entity = e["node_id"].as_i64().unwrap();
        let contact = app.token_for(Role::RegisterContact, NodeId(entity)).await;
        // What the contact sees and the truth, per node: both reports, both levels.
        let mut seen: BTreeMap<i64, BTreeMap<String, Option<i64>>> = BTreeMap::new();
        let mut truth: BTreeMap<i64, BTreeMap<String, Option<i64>>> = BTreeMap::new();
        let mut units = Vec::new();
        for (token, out) in [(&contact, &mut seen), (&staff, &mut truth)] {
            for level in ["unit", "legal_entity"] {
                let c = get(&app, token, &at("completeness", level, entity)).await;
                let v = get(&app, token, &at("variable-completeness", level, entity)).await;
                for row in c["rows"].as_array().unwrap() {
                    let node = row["node_id"].as_i64().unwrap();
                    let vars: Vec<&Value> =
                        v["rows"].as_array().unwrap().iter().filter(|r| r["node_id"] == node).collect();
                    out.insert(node, counts_of(row, &vars));
                    if level == "unit" && std::ptr::eq(token, &staff) {
                        units.push(node);
                    }
                }
            }
        }
        assert_eq!(seen.keys().collect::<Vec<_>>(), truth.keys().collect::<Vec<_>>(), "the same rows");
        // Shown counts are true and never small.
        for (node, counts) in &seen {
            for (name, value) in counts {
                match value {
                    Some(v) => {
                        assert_eq!(Some(*v), truth[node][name], "{node} {name}");
                        assert!(*v == 0 || *v >= K, "{node} {name} = {v} is small");
                        shown_nonzero += usize::from(*v > 0);
                    }
                    None => withheld += 1,
                }
            }
        }
        // Nothing small can be worked out from all of it together.
        let mut relations = Vec::new();
        let mut known = HashMap::new();
        let mut true_values: HashMap<String, i64> = HashMap::new();
        for (node, counts) in &truth {
            let names: Vec<String> = counts.keys().cloned().collect();
            for rel in node_relations(&names) {
                relations.push(rel.into_iter().map(|(n, c)| (format!("{node}:{n}"), c)).collect());
            }
            for (name, value) in counts {
                true_values.insert(format!("{node}:{name}"), value.unwrap());
                if let Some(v) = seen[node][name] {
                    known.insert(format!("{node}:{name}"), v);
                }
            }
            for (name, value) in categories(counts) {
                true_values.insert(format!("{node}:{name}"), value);
            }
        }
        // A unit without forms of a kind has no row for its variables: zero, and known to be.
        let entity_names: Vec<String> = truth[&entity].keys().cloned().collect();
        let entity_categories: Vec<String> = categories(&truth[&entity]).into_keys().collect();
        for u in &units {
            for name in entity_names.iter().filter(|n| !truth[u].contains_key(*n)) {
                known.insert(format!("{u}:{name}"), 0);
                true_values.insert(format!("{u}:{name}"), 0);
            }
            // ... and so are the unshown categories of those variables (answered values).
            let own = categories(&truth[u]);
            for name in entity_categories.iter().filter(|n| !own.contains_key(*n)) {
                true_values.insert(format!("{u}:{name}"), 0);
            }
        }
        if units.len() > 1 || !units.contains(&entity) {
            for name in entity_names.iter().cloned().chain(categories(&truth[&entity]).into_keys()) {
                let mut rel = vec![(format!("{entity}:{name}"), 1)];
                rel.extend(units.iter().map(|u| (format!("{u}:{name}"), -1)));
                relations.push(rel);
            }
        }
        let solved = solve(known, &relations);
        for (name, value) in &solved {
            assert_eq!(Some(value), true_values.get(name), "the relations hold: {name}");
            assert!(*value == 0 || *value >= K, "{name} = {value} can be worked out");
        }
        entities_checked += 1;
    }
    assert!(entities_checked >= 2, "{entities_checked} legal entities checked");
    assert!(withheld > 0 && shown_nonzero > 0, "withheld {withheld}, shown {shown_nonzero}: both happen");
}
