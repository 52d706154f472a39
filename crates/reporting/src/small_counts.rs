//! Small counts in the internal completeness figures (docs/indicators.md, "Small counts"): a caller who may not see
//! them — a register contact, for the units of its legal entity and the entity itself — gets a
//! count from 1 to k−1 withheld, and every count from which one could be worked out.
//!
//! The completeness and variable-completeness counts of a year are one linked table, like a
//! release: placements of units in the tree × categories of each count family (a pathway
//! started has its baseline done, due and not done, or not yet due; a completed measurement is
//! on time, late, late and after a missed point, or after a missed point only; a pathway with
//! a measurement point overdue at the end of the year is its own family; ...). Every count
//! a register contact can be shown (each measure at each unit and legal entity) is a published
//! cell; every category not shown as such (baselines due and not done, measurements on time,
//! draft discharges, answered variables, ...) is a protected cell. The suppression engine
//! withholds, the auditor checks the result; if it ever found a disclosure every non-zero count
//! would be withheld.
//!
//! Some counts of the two reports are equal by definition (completed measurements of a unit in
//! completeness and the measurement forms of each measurement variable; likewise discharges),
//! which the table cannot express: such cells are withheld together — when the engine withholds
//! one of a group, the others are made primary and the table suppressed again, until every
//! group is all shown or all withheld.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use crate::completeness::{CompletenessCounts, CompletenessRow, VariableCompleteness, VariableCounts};
use serde::{Deserialize, Serialize};

use crate::history::{Fixed, History};
use crate::releases::{org_dimension, unit_groups, AuditSummary, Protection};
use crate::suppression::{
    audit_flags, suppress, AuditOptions, CellRole, Dimension, PrimaryRule, SuppressOptions, SuppressionError,
    TableBuilder,
};
use crate::tree::{OrgTree, Placement};

/// The categories (inner codes) of the completeness families, the published measures as
/// groups of them, and the protected categories.
const FAMILIES: [(&str, &[&str]); 5] = [
    ("b", &["b_done", "b_due", "b_later"]),
    ("m", &["m_ok", "m_late", "m_late_missing", "m_missing"]),
    ("o", &["o_overdue"]),
    ("d", &["d_done", "d_draft"]),
    ("f", &["f_reached", "f_not_reached", "f_declined", "f_other", "f_missing"]),
];

/// Each measure of [`crate::completeness::MEASURES`] as the categories it sums.
const MEASURE_CODES: [(&str, &[&str]); 15] = [
    ("pathways_started", &["b_done", "b_due", "b_later"]),
    ("baseline.expected", &["b_done", "b_due"]),
    ("baseline.completed", &["b_done"]),
    ("measurements.completed", &["m_ok", "m_late", "m_late_missing", "m_missing"]),
    ("measurements.late", &["m_late", "m_late_missing"]),
    ("measurements.missing", &["m_late_missing", "m_missing"]),
    ("measurements.overdue", &["o_overdue"]),
    ("discharge.expected", &["d_done", "d_draft"]),
    ("discharge.completed", &["d_done"]),
    ("follow_up.due", &["f_reached", "f_not_reached", "f_declined", "f_other", "f_missing"]),
    ("follow_up.done", &["f_reached", "f_not_reached", "f_declined", "f_other"]),
    ("follow_up.followed_up", &["f_reached"]),
    ("follow_up.not_reached", &["f_not_reached"]),
    ("follow_up.declined", &["f_declined"]),
    ("follow_up.missing", &["f_missing"]),
];

/// The categories that no measure shows on its own (baselines due and not done, measurements
/// on time, draft discharges, ...): protected cells.
fn protected_categories() -> impl Iterator<Item = &'static str> {
    FAMILIES
        .iter()
        .flat_map(|(_, codes)| codes.iter().copied())
        .filter(|c| !MEASURE_CODES.iter().any(|(_, codes)| *codes == [*c]))
}

/// The counts withheld from a caller without the right to small counts: `(node, measure)` for
/// completeness, `(node, "form.variable.count")` for variable completeness.
#[derive(Debug, Clone, Default)]
pub struct Withheld {
    cells: HashSet<(i64, String)>,
}

impl Withheld {
    /// The withheld counts of a stored snapshot.
    pub fn from_cells(cells: &[ShownCell]) -> Self {
        Withheld { cells: cells.iter().filter(|c| c.withheld).map(|c| (c.node, c.measure.clone())).collect() }
    }

    /// Whether the count `measure` of `node` is withheld.
    pub fn contains(&self, node: i64, measure: &str) -> bool {
        self.cells.contains(&(node, measure.to_owned()))
    }

    /// Withholds what is withheld of a completeness row, and its coverage unless every unit
    /// whose pathways started make its numerator has that count shown.
    pub fn apply(&self, row: &mut CompletenessRow) {
        let node = row.node_id;
        row.withhold(crate::completeness::MEASURES.into_iter().filter(|m| self.contains(node, m)));
        if row.coverage_units.iter().any(|u| self.contains(*u, "pathways_started")) {
            row.withhold_coverage();
        }
    }

    /// Withholds what is withheld of a variable-completeness row.
    pub fn apply_variable(&self, row: &mut VariableCompleteness) {
        let key = |c: &str| format!("{}.{}.{c}", row.form, row.variable);
        let withheld: Vec<&str> = crate::completeness::VARIABLE_MEASURES
            .into_iter()
            .filter(|c| self.contains(row.node_id, &key(c)))
            .collect();
        row.withhold(withheld);
    }

    /// Number of withheld counts.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

/// One count of the linked table: a measure of a node, with its code in the measure dimension.
struct Cell {
    node: i64,
    measure: String,
    org: String,
    code: String,
    role: CellRole,
}

/// How to protect the completeness table: the primary rule's k, what the year showed before,
/// and whether units are insiders.
#[derive(Debug, Clone, Copy)]
pub struct How<'a> {
    pub k: u32,
    pub history: &'a History<(i64, String)>,
    pub protection: Protection,
}

/// One count the completeness table shows at a unit or legal entity: its value and whether it
/// is withheld from callers without small counts (stored with a snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownCell {
    pub node: i64,
    pub measure: String,
    pub value: i64,
    pub withheld: bool,
}

/// The result of protecting the completeness table.
#[derive(Debug, Clone)]
pub struct Protected {
    pub withheld: Withheld,
    /// Every count shown at a unit or legal entity, with its value and status.
    pub cells: Vec<ShownCell>,
    /// The audit of the pattern (a failed audit withholds every non-zero count).
    pub audit: AuditSummary,
}

/// Finds the counts of `year` to withhold at the units and legal entities, with the primary
/// rule `k` (at least 3), from the counts of both reports. `history` holds what earlier
/// publications of the year showed of each count, by `(node, measure)`: a count shown before
/// and unchanged is shown again, a count withheld before or changed by 1..k−1 is withheld.
pub fn protect(
    tree: &OrgTree,
    year: i32,
    today: NaiveDate,
    completeness: &CompletenessCounts,
    variables: &VariableCounts,
    how: &How<'_>,
) -> Result<Protected, SuppressionError> {
    let How { k, history, protection } = *how;
    let rule = PrimaryRule::for_release(k, false)?;
    let mut places: BTreeSet<Placement> = tree.units_in_year(year, today).into_iter().collect();
    places.extend(completeness.placements().copied());
    places.extend(variables.iter().map(|((p, _, _), _)| *p));
    let org = org_dimension(tree, &places)?;

    // The measure dimension: the families' categories, each measure a group of them.
    let variable_names: BTreeSet<String> = variables.iter().map(|((_, f, v), _)| format!("{f}.{v}")).collect();
    let mut hierarchy: Vec<(String, Vec<String>)> = Vec::new();
    let mut families: Vec<String> = FAMILIES.iter().map(|(f, _)| (*f).to_owned()).collect();
    families.extend(variable_names.iter().map(|v| format!("v:{v}")));
    hierarchy.push(("all".to_owned(), families));
    for (f, codes) in FAMILIES {
        hierarchy.push((f.to_owned(), codes.iter().map(|c| (*c).to_owned()).collect()));
    }
    for (measure, codes) in MEASURE_CODES {
        if codes.len() > 1 {
            let family = &codes[0][..1];
            let rest: Vec<String> = FAMILIES
                .iter()
                .find(|(f, _)| *f == family)
                .map(|(_, all)| all.iter().filter(|c| !codes.contains(c)).map(|c| (*c).to_owned()).collect())
                .unwrap_or_default();
            // An alternative breakdown of the family: the measure's group and the rest.
            hierarchy.push((family.to_owned(), std::iter::once(format!("g:{measure}")).chain(rest).collect()));
            hierarchy.push((format!("g:{measure}"), codes.iter().map(|c| (*c).to_owned()).collect()));
        }
    }
    for v in &variable_names {
        hierarchy
            .push((format!("v:{v}"), ["value", "missing", "unknown"].iter().map(|c| format!("v:{v}:{c}")).collect()));
    }
    let measure_dim = Dimension::new("measure", "all", &hierarchy)?;

    let mut b = TableBuilder::new();
    b.dimension(org.dim.clone()).dimension(measure_dim);
    // The inner cells: each placement's counts by category.
    let negative = || SuppressionError::invalid("completeness counts do not add up");
    for place in completeness.placements() {
        let get = |m: &str| completeness.get(place, m);
        let leaf = org.leaf[place].as_str();
        let started = get("pathways_started").1;
        let (b_done, expected) = get("baseline");
        let (late, measurements) = get("measurement_late");
        let missing = get("measurement_missing").0;
        let late_missing = get("measurement_late_missing").0;
        let (d_done, discharges) = get("discharge");
        let (done, due) = get("follow_up");
        let (reached, not_reached, declined) =
            (get("follow_up_reached").0, get("follow_up_not_reached").0, get("follow_up_declined").0);
        let categories = [
            ("b_done", b_done),
            ("b_due", expected - b_done),
            ("b_later", started - expected),
            ("m_ok", measurements - late - missing + late_missing),
            ("m_late", late - late_missing),
            ("m_late_missing", late_missing),
            ("m_missing", missing - late_missing),
            ("o_overdue", get("measurement_overdue").1),
            ("d_done", d_done),
            ("d_draft", discharges - d_done),
            ("f_reached", reached),
            ("f_not_reached", not_reached),
            ("f_declined", declined),
            ("f_other", done - reached - not_reached - declined),
            ("f_missing", due - done),
        ];
        for (code, n) in categories {
            if n < 0 {
                return Err(negative());
            }
            b.count(&[leaf, code], n)?;
        }
    }
    for ((place, f, v), (forms, missing, unknown)) in variables.iter() {
        let leaf = org.leaf[place].as_str();
        let value = forms - missing - unknown;
        if value < 0 {
            return Err(negative());
        }
        for (c, n) in [("value", value), ("missing", *missing), ("unknown", *unknown)] {
            b.count(&[leaf, &format!("v:{f}.{v}:{c}")], n)?;
        }
    }

    // The cells: every measure at every unit and legal entity; categories not shown, protected.
    let shown: Vec<&(String, i64)> =
        org.published.iter().filter(|(code, _)| code.starts_with('u') || code.starts_with('e')).collect();
    let mut cells: Vec<Cell> = Vec::new();
    for (code, node) in &shown {
        let mut add = |measure: String, m: String, role: CellRole| {
            cells.push(Cell { node: *node, measure, org: code.clone(), code: m, role });
        };
        for (measure, codes) in MEASURE_CODES {
            let m = if codes.len() > 1 { format!("g:{measure}") } else { codes[0].to_owned() };
            add(measure.to_owned(), m, CellRole::Published);
        }
        for protected in protected_categories() {
            add(format!("protected:{protected}"), protected.to_owned(), CellRole::Protected);
        }
        for v in &variable_names {
            add(format!("{v}.forms"), format!("v:{v}"), CellRole::Published);
            add(format!("{v}.missing"), format!("v:{v}:missing"), CellRole::Published);
            add(format!("{v}.unknown"), format!("v:{v}:unknown"), CellRole::Published);
            add(format!("protected:{v}.value"), format!("v:{v}:value"), CellRole::Protected);
        }
    }
    for c in &cells {
        match c.role {
            CellRole::Published => b.publish_cell(&[&c.org, &c.code])?,
            CellRole::Protected => b.protect_cell(&[&c.org, &c.code])?,
        };
    }
    let model = b.build()?;
    let column: Vec<usize> = cells
        .iter()
        .map(|c| {
            let ids: Vec<u32> = model
                .dims()
                .iter()
                .zip([&c.org, &c.code])
                .map(|(d, code)| d.code(code))
                .collect::<Result<_, SuppressionError>>()?;
            model
                .find_cell(&ids)
                .ok_or_else(|| SuppressionError::invalid("a completeness cell is missing from the model"))
        })
        .collect::<Result<_, SuppressionError>>()?;

    // Groups of cells equal by definition, per node.
    let mut by_key: HashMap<(i64, &str), usize> = HashMap::new();
    for (i, c) in cells.iter().enumerate() {
        by_key.insert((c.node, c.measure.as_str()), column[i]);
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (_, node) in &shown {
        for (kind, total) in [("measurement", "measurements.completed"), ("discharge", "discharge.completed")] {
            let mut g: Vec<usize> = by_key.get(&(*node, total)).copied().into_iter().collect();
            for v in variable_names.iter().filter(|v| v.starts_with(&format!("{kind}."))) {
                g.extend(by_key.get(&(*node, format!("{v}.forms").as_str())).copied());
            }
            if g.len() > 1 {
                groups.push(g);
            }
        }
        for kind in ["baseline", "follow-up"] {
            let g: Vec<usize> = variable_names
                .iter()
                .filter(|v| v.starts_with(&format!("{kind}.")))
                .filter_map(|v| by_key.get(&(*node, format!("{v}.forms").as_str())).copied())
                .collect();
            if g.len() > 1 {
                groups.push(g);
            }
        }
    }

    // A unit sees its own counts unsuppressed: every unit's staff is an insider.
    let insiders = if protection == Protection::InsiderSafe { unit_groups(&model, 0, &org.leaf).0 } else { Vec::new() };
    let freq = model.freq();
    let keys: Vec<(i64, String)> = cells.iter().map(|c| (c.node, c.measure.clone())).collect();
    // A count's change less one unit's own change is a count too (crate::history).
    let units = crate::releases::units_under(tree, year, today);
    let Fixed { mut forced, mut extra_primary, mut insider_exempt, .. } = history.fix_with_parts(
        keys.iter()
            .zip(cells.iter().zip(&column))
            .map(|(key, (c, &j))| (key, j, freq[j], c.role == CellRole::Published)),
        k,
        |(node, measure): &(i64, String)| {
            units.get(node).map_or_else(Vec::new, |us| us.iter().map(|u| (*u, measure.clone())).collect())
        },
    );
    // Sums of sibling counts whose changes add up to 1..k−1 must not be derivable either.
    let relations = model.relations();
    let extra_sums = history.small_change_sums(
        keys.iter().zip(&column).map(|(key, &j)| (key, j, freq[j])),
        relations.iter().map(|r| r.children.as_slice()),
        k,
    );
    let suppressed = loop {
        let opts = SuppressOptions {
            strict: true,
            forced: forced.clone(),
            extra_primary: extra_primary.clone(),
            insiders: insiders.clone(),
            insider_exempt: insider_exempt.clone(),
            extra_sums: extra_sums.clone(),
            ..SuppressOptions::with_rule(rule)
        };
        let pattern = suppress(&model, &opts)?;
        let suppressed: Vec<bool> = (0..model.ncells()).map(|j| pattern.is_suppressed(j)).collect();
        let mut more: Vec<usize> = Vec::new();
        for g in &groups {
            if g.iter().any(|&j| suppressed[j]) {
                more.extend(g.iter().copied().filter(|&j| !suppressed[j] && !extra_primary.contains(&j)));
            }
        }
        if more.is_empty() {
            break (suppressed, pattern.unsafe_cells.len() + pattern.unsafe_extra);
        }
        // A forced count of a group withheld now is not forced any more.
        forced.retain(|j| !more.contains(j));
        insider_exempt.extend(more.iter().copied());
        extra_primary.extend(more);
    };
    let (suppressed, unsafe_forced) = suppressed;
    let report = audit_flags(
        &model,
        &suppressed,
        &AuditOptions {
            rule,
            strict: true,
            insider: false,
            extra_primary,
            insiders,
            insider_exempt,
            extra_sums,
            extra_combinations: Vec::new(),
        },
    );
    let audit = AuditSummary::new(&report, unsafe_forced);
    let fail_closed = !audit.passed;
    let mut withheld = Withheld::default();
    let mut shown = Vec::new();
    for (c, &j) in cells.iter().zip(&column) {
        if c.role != CellRole::Published {
            continue;
        }
        let w = suppressed[j] || (fail_closed && freq[j] != 0);
        if w {
            withheld.cells.insert((c.node, c.measure.clone()));
        }
        shown.push(ShownCell { node: c.node, measure: c.measure.clone(), value: freq[j], withheld: w });
    }
    Ok(Protected { withheld, cells: shown, audit })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_not_shown_as_a_measure_of_its_own_is_protected() {
        let protected: Vec<&str> = protected_categories().collect();
        assert_eq!(
            protected,
            ["b_due", "b_later", "m_ok", "m_late", "m_late_missing", "m_missing", "d_draft", "f_other"]
        );
        // Every measure sums categories of one family, and every category is in a family.
        for (measure, codes) in MEASURE_CODES {
            let family = FAMILIES.iter().find(|(_, all)| all.contains(&codes[0]));
            assert!(family.is_some_and(|(_, all)| codes.iter().all(|c| all.contains(c))), "{measure}");
        }
        assert_eq!(MEASURE_CODES.map(|(m, _)| m), crate::completeness::MEASURES);
    }
}
