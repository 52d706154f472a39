//! Property tests of the suppression engine and the auditor on random hierarchical tables.
#![expect(clippy::unwrap_used, reason = "tests fail loudly on bad input")]

use proptest::prelude::*;
use reporting::suppression::auditor::DisclosureKind;
use reporting::suppression::{
    audit, audit_flags, suppress, AuditOptions, CandidateOrder, CellStatus, Dimension, Model, PivotRule, PrimaryRule,
    Singletons, SuppressOptions, TableBuilder,
};

#[derive(Debug, Clone)]
struct Spec {
    /// (number of leaves, hierarchy kind) per dimension.
    dims: Vec<(usize, u8)>,
    /// Counts, used cyclically over the leaf cross.
    counts: Vec<i64>,
    /// Crossings as bit masks over the dimensions; empty = full cross.
    terms: Vec<u8>,
    k: u32,
    protect_zeros: bool,
}

fn dimension(i: usize, leaves: usize, kind: u8) -> Dimension {
    let name = format!("d{i}");
    let codes: Vec<String> = (0..leaves).map(|l| format!("c{l}")).collect();
    let half = leaves.div_ceil(2);
    let mut h: Vec<(String, Vec<String>)> = Vec::new();
    match kind % 3 {
        0 => h.push(("T".into(), codes.clone())),
        1 => {
            h.push(("T".into(), vec!["G0".into(), "G1".into()]));
            h.push(("G0".into(), codes[..half].to_vec()));
            h.push(("G1".into(), codes[half..].to_vec()));
        }
        _ => {
            // Not a tree: two breakdowns of the total; c0 has parents G0 and H0.
            h.push(("T".into(), vec!["G0".into(), "G1".into()]));
            h.push(("G0".into(), codes[..half].to_vec()));
            h.push(("G1".into(), codes[half..].to_vec()));
            h.push(("T".into(), vec!["H0".into(), "H1".into()]));
            let mut h0 = vec![codes[0].clone()];
            h0.push(codes[leaves - 1].clone());
            h.push(("H0".into(), h0));
            h.push(("H1".into(), codes[1..leaves - 1].to_vec()));
        }
    }
    Dimension::new(&name, "T", &h).unwrap()
}

fn build(spec: &Spec) -> Model {
    let mut b = TableBuilder::new();
    let nd = spec.dims.len();
    for (i, &(leaves, kind)) in spec.dims.iter().enumerate() {
        // The non-tree kind needs at least three leaves.
        let kind = if leaves < 3 && kind % 3 == 2 { 1 } else { kind };
        b.dimension(dimension(i, leaves, kind));
    }
    let total: usize = spec.dims.iter().map(|d| d.0).product();
    let mut idx = vec![0usize; nd];
    for n in 0..total {
        let codes: Vec<String> = idx.iter().map(|l| format!("c{l}")).collect();
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let v = spec.counts[n % spec.counts.len()];
        if v > 0 {
            b.count(&refs, v).unwrap();
        }
        for d in (0..nd).rev() {
            idx[d] += 1;
            if idx[d] < spec.dims[d].0 {
                break;
            }
            idx[d] = 0;
        }
    }
    let term = |mask: u8| -> String {
        let f: Vec<String> = (0..nd).filter(|d| mask & (1 << d) != 0).map(|d| format!("d{d}")).collect();
        if f.is_empty() {
            "1".into()
        } else {
            f.join("*")
        }
    };
    let formula = if spec.terms.is_empty() {
        term(u8::MAX)
    } else {
        spec.terms.iter().map(|&m| term(m)).collect::<Vec<_>>().join(" + ")
    };
    b.publish(&formula).unwrap();
    b.build().unwrap()
}

fn count() -> impl Strategy<Value = i64> {
    prop_oneof![4 => Just(0i64), 3 => 1i64..5, 2 => 5i64..30, 1 => 30i64..500]
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=4)
        .prop_flat_map(|nd| {
            let max_leaves = if nd >= 3 { 3 } else { 5 };
            (
                prop::collection::vec((2usize..=max_leaves, any::<u8>()), nd),
                prop::collection::vec(count(), 1..60),
                prop::option::weighted(0.5, prop::collection::vec(any::<u8>(), 1..4)),
                3u32..=6,
                prop::bool::weighted(0.25),
            )
        })
        .prop_map(|(dims, counts, terms, k, protect_zeros)| Spec {
            dims,
            counts,
            terms: terms.unwrap_or_default(),
            k,
            protect_zeros,
        })
}

fn rule(spec: &Spec) -> PrimaryRule {
    PrimaryRule { min_cell: spec.k, protect_zeros: spec.protect_zeros }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn engine_output_has_no_disclosure(spec in spec()) {
        let model = build(&spec);
        let rule = rule(&spec);
        let p = suppress(&model, &SuppressOptions::with_rule(rule)).unwrap();
        prop_assert!(p.unsafe_cells.is_empty());
        let a = audit(&model, &p, rule);
        prop_assert!(a.disclosures.is_empty(), "{:?}", a);
        // Every primary is suppressed.
        for j in 0..model.ncells() {
            if p.primary[j] {
                prop_assert_eq!(p.status[j], CellStatus::Primary);
            }
        }
    }

    #[test]
    fn zero_propagation_protects_even_with_zeros_late_and_no_singletons(spec in spec()) {
        // Kernel variant A settings (published-cell order, no singleton handling), under
        // which R's kernel can leak through published zeros (case01a).
        let model = build(&spec);
        let rule = rule(&spec);
        let opts = SuppressOptions {
            order: CandidateOrder::Given((0..model.ncells()).collect()),
            singletons: Singletons::None,
            ..SuppressOptions::with_rule(rule)
        };
        let p = suppress(&model, &opts).unwrap();
        let a = audit(&model, &p, AuditOptions { rule, insider: false, ..Default::default() });
        prop_assert!(a.disclosures.is_empty(), "{:?}", a.disclosures);
    }

    #[test]
    fn strict_policy_has_no_group_disclosure(spec in spec()) {
        let model = build(&spec);
        let rule = rule(&spec);
        let p = suppress(&model, &SuppressOptions { rule, strict: true, ..Default::default() }).unwrap();
        let a = audit(&model, &p, AuditOptions { rule, strict: true, ..Default::default() });
        prop_assert!(a.disclosures.is_empty(), "{:?}", a);
        prop_assert!(a.group_disclosures.is_empty(), "{:?}", a);
        prop_assert!(a.passes());
    }

    #[test]
    fn the_same_input_gives_the_same_pattern(spec in spec()) {
        let model = build(&spec);
        let opts = SuppressOptions::with_rule(rule(&spec));
        let a = suppress(&model, &opts).unwrap();
        let b = suppress(&build(&spec), &opts).unwrap();
        prop_assert_eq!(a.status, b.status);
    }

    #[test]
    fn the_pivot_choice_does_not_change_the_pattern_without_singletons(spec in spec()) {
        let model = build(&spec);
        let base = SuppressOptions { singletons: Singletons::None, ..SuppressOptions::with_rule(rule(&spec)) };
        let first = suppress(&model, &SuppressOptions { pivot: PivotRule::First, ..base.clone() }).unwrap();
        let sparse = suppress(&model, &SuppressOptions { pivot: PivotRule::Sparse, ..base }).unwrap();
        prop_assert_eq!(first.status, sparse.status);
    }

    #[test]
    fn auditor_finds_a_published_primary(spec in spec(), pick in any::<usize>()) {
        let model = build(&spec);
        let rule = rule(&spec);
        let p = suppress(&model, &SuppressOptions::with_rule(rule)).unwrap();
        let primaries: Vec<usize> = (0..model.ncells()).filter(|&j| p.primary[j]).collect();
        if primaries.is_empty() {
            return Ok(());
        }
        let leak = primaries[pick % primaries.len()];
        let mut flags: Vec<bool> = (0..model.ncells()).map(|j| p.is_suppressed(j)).collect();
        flags[leak] = false;
        let a = audit_flags(&model, &flags, &AuditOptions::from(rule));
        prop_assert!(a.disclosures.iter().any(|d| d.cell == leak && d.kind == DisclosureKind::Published));
        prop_assert!(!a.passes());
    }

    #[test]
    fn auditor_finds_a_primary_derived_from_its_parent(spec in spec(), pick in any::<usize>()) {
        let model = build(&spec);
        let rule = rule(&spec);
        let p = suppress(&model, &SuppressOptions::with_rule(rule)).unwrap();
        // A relation with exactly one primary child and a parent that is not primary.
        let rels: Vec<_> = model
            .relations()
            .into_iter()
            .filter(|r| !p.primary[r.parent] && r.children.iter().filter(|&&c| p.primary[c]).count() == 1)
            .collect();
        if rels.is_empty() {
            return Ok(());
        }
        let rel = &rels[pick % rels.len()];
        let mut flags: Vec<bool> = (0..model.ncells()).map(|j| p.is_suppressed(j)).collect();
        flags[rel.parent] = false;
        let mut target = rel.parent;
        for &c in &rel.children {
            if p.primary[c] {
                target = c;
            } else {
                flags[c] = false;
            }
        }
        let a = audit_flags(&model, &flags, &AuditOptions::from(rule));
        prop_assert!(
            a.disclosures.iter().any(|d| d.cell == target && d.kind == DisclosureKind::Derivable),
            "{:?}", a
        );
    }
}

#[test]
fn crossings_publish_margins_of_each_term() {
    let mut b = TableBuilder::new();
    b.dimension(Dimension::flat("unit", "All", &["u1", "u2", "u3"]).unwrap());
    b.dimension(Dimension::flat("year", "Total", &["2024", "2025"]).unwrap());
    b.dimension(Dimension::flat("sex", "Total", &["F", "M"]).unwrap());
    b.count(&["u1", "2024", "F"], 3).unwrap();
    b.publish("unit*year + year*sex").unwrap();
    let m = b.build().unwrap();
    // unit*year: 4×3 = 12; year*sex: 3×3 = 9; shared: year margins (3) → 18 cells.
    assert_eq!(m.ncells(), 18);
    assert_eq!(m.inner().len(), 12);
    assert_eq!(m.freq().iter().copied().max(), Some(3));
}

#[test]
fn release_rule_refuses_k_below_three() {
    assert!(PrimaryRule::for_release(2, false).is_err());
    assert!(PrimaryRule::for_release(3, false).is_ok());
    assert!(PrimaryRule::default().is_primary(4));
    assert!(!PrimaryRule::default().is_primary(0));
    assert!(!PrimaryRule::default().is_primary(5));
}

#[test]
fn forced_cells_that_disclose_a_primary_are_reported_unsafe() {
    let mut b = TableBuilder::new();
    b.dimension(Dimension::flat("unit", "All", &["u1", "u2"]).unwrap());
    b.count(&["u1"], 2).unwrap();
    b.count(&["u2"], 40).unwrap();
    b.publish("unit").unwrap();
    let m = b.build().unwrap();
    let all = (0..m.ncells()).find(|&j| m.freq()[j] == 42).unwrap();
    let u2 = (0..m.ncells()).find(|&j| m.freq()[j] == 40).unwrap();
    let u1 = (0..m.ncells()).find(|&j| m.freq()[j] == 2).unwrap();
    let opts = SuppressOptions { forced: vec![all, u2], ..Default::default() };
    let p = suppress(&m, &opts).unwrap();
    assert_eq!(p.unsafe_cells, vec![u1]);
    // Without forcing, u2 becomes secondary.
    let p = suppress(&m, &SuppressOptions::default()).unwrap();
    assert_eq!(p.status[u2], CellStatus::Secondary);
    assert!(audit(&m, &p, 5).passes());
}

#[test]
fn protected_no_cells_are_protected_but_not_published() {
    // outcome yes/no: 98 of 100 achieved, so `no` = 2 must not be derivable.
    let mut b = TableBuilder::new();
    b.dimension(Dimension::flat("unit", "All", &["u1", "u2"]).unwrap());
    b.dimension(Dimension::flat("outcome", "total", &["yes", "no"]).unwrap());
    b.count(&["u1", "yes"], 98).unwrap();
    b.count(&["u1", "no"], 2).unwrap();
    b.count(&["u2", "yes"], 50).unwrap();
    b.count(&["u2", "no"], 30).unwrap();
    for u in ["u1", "u2", "All"] {
        b.publish_cell(&[u, "yes"]).unwrap();
        b.publish_cell(&[u, "total"]).unwrap();
        b.protect_cell(&[u, "no"]).unwrap();
    }
    let m = b.build().unwrap();
    let p = suppress(&m, &SuppressOptions::default()).unwrap();
    let a = audit(&m, &p, 5);
    assert!(a.passes(), "{a:?}");
    assert!(p.n_secondary() >= 2);
    let idx = m.cell_index();
    let code = |u: &str, o: &str| vec![m.dims()[0].code(u).unwrap(), m.dims()[1].code(o).unwrap()];
    let no_u1 = idx[code("u1", "no").as_slice()];
    assert_eq!(p.status[no_u1], CellStatus::Primary);
}
