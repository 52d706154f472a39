//! The substance-use block shared by all four forms (docs/domain.md, The substance-use block): the
//! list of substances with frequency, route and (baseline only) debut age, the main substance,
//! injection in the last 30 days and overdoses in the last 12 months.

use serde::{Deserialize, Deserializer, Serialize};

use super::check::Checker;
use super::codes;

/// The JSON key of the block inside every form.
pub const BLOCK: &str = "substance_use";

/// One substance the patient uses or has used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstanceEntry {
    /// [`codes::SUBSTANCES`].
    pub substance: Option<i16>,
    /// [`codes::FREQUENCY_30D`].
    pub frequency_30d: Option<i16>,
    /// [`codes::ROUTE`]: the usual route.
    pub route: Option<i16>,
    /// Age at first use, [`codes::DEBUT_AGE`]; baseline only.
    pub debut_age: Option<i16>,
}

/// The substance-use block. Every field is optional so that a draft may be partial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstanceUse {
    pub substances: Option<Vec<SubstanceEntry>>,
    /// [`codes::SUBSTANCES`]; must be one of the listed substances.
    pub main_substance: Option<i16>,
    /// [`codes::YES_NO_UNKNOWN`].
    pub injected_30d: Option<i16>,
    /// [`codes::OVERDOSE_COUNT`].
    pub overdose_12m: Option<i16>,
}

/// Deserialize `null` as the empty block, so clients may send `"substance_use": null`.
pub(crate) fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<SubstanceUse, D::Error> {
    Ok(Option::<SubstanceUse>::deserialize(d)?.unwrap_or_default())
}

/// Where the block is used: the debut age belongs to the baseline only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockUse {
    Baseline,
    Other,
}

impl SubstanceUse {
    /// True when nothing in the block is filled in.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Types, ranges and code lists.
    pub(crate) fn check_draft(&self, c: &mut Checker, usage: BlockUse) {
        if let Some(list) = &self.substances {
            if list.len() > codes::MAX_SUBSTANCES {
                c.push(
                    format!("{BLOCK}.substances"),
                    "range",
                    format!("must hold at most {} substances", codes::MAX_SUBSTANCES),
                );
            }
            for (i, e) in list.iter().enumerate() {
                let p = format!("{BLOCK}.substances.{i}");
                c.code(&format!("{p}.substance"), e.substance, codes::SUBSTANCES);
                if e.substance.is_some() && list[..i].iter().any(|o| o.substance == e.substance) {
                    c.push(format!("{p}.substance"), "duplicate", "is listed twice");
                }
                c.code(&format!("{p}.frequency_30d"), e.frequency_30d, codes::FREQUENCY_30D);
                c.code(&format!("{p}.route"), e.route, codes::ROUTE);
                match usage {
                    BlockUse::Baseline => c.range(&format!("{p}.debut_age"), e.debut_age, codes::DEBUT_AGE),
                    BlockUse::Other => {
                        if e.debut_age.is_some() {
                            c.push(format!("{p}.debut_age"), "not_applicable", "is recorded in the baseline only");
                        }
                    }
                }
            }
        }
        c.code(&format!("{BLOCK}.main_substance"), self.main_substance, codes::SUBSTANCES);
        c.code(&format!("{BLOCK}.injected_30d"), self.injected_30d, codes::YES_NO_UNKNOWN);
        c.range(&format!("{BLOCK}.overdose_12m"), self.overdose_12m, codes::OVERDOSE_COUNT);
    }

    /// Completion: every field required (route only when the substance was used in the last 30
    /// days; debut age at baseline), the main substance among the listed ones, and `injected_30d`
    /// yes when a substance used in the last 30 days has the route "injected".
    pub(crate) fn check_complete(&self, c: &mut Checker, usage: BlockUse) {
        c.required_non_empty(&format!("{BLOCK}.substances"), &self.substances);
        for (i, e) in self.substances.iter().flatten().enumerate() {
            let p = format!("{BLOCK}.substances.{i}");
            c.required(&format!("{p}.substance"), &e.substance);
            c.required(&format!("{p}.frequency_30d"), &e.frequency_30d);
            if e.frequency_30d.is_some_and(|f| f != codes::NOT_USED) {
                c.required(&format!("{p}.route"), &e.route);
            }
            if usage == BlockUse::Baseline {
                c.required(&format!("{p}.debut_age"), &e.debut_age);
            }
        }
        c.required(&format!("{BLOCK}.main_substance"), &self.main_substance);
        if let (Some(main), Some(list)) = (self.main_substance, &self.substances) {
            if !list.iter().any(|e| e.substance == Some(main)) {
                c.push(format!("{BLOCK}.main_substance"), "conflict_rule", "must be one of the listed substances");
            }
        }
        c.required(&format!("{BLOCK}.injected_30d"), &self.injected_30d);
        if self.injected_recently() && self.injected_30d.is_some_and(|v| v != codes::YES) {
            c.push(
                format!("{BLOCK}.injected_30d"),
                "conflict_rule",
                "must be yes when a substance used in the last 30 days is injected",
            );
        }
        c.required(&format!("{BLOCK}.overdose_12m"), &self.overdose_12m);
    }

    /// Whether a substance used in the last 30 days has the route "injected".
    fn injected_recently(&self) -> bool {
        self.substances
            .iter()
            .flatten()
            .any(|e| e.route == Some(codes::INJECTED) && e.frequency_30d.is_some_and(|f| f != codes::NOT_USED))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    pub(crate) fn entry(substance: i16, freq: i16, route: Option<i16>, debut: Option<i16>) -> SubstanceEntry {
        SubstanceEntry { substance: Some(substance), frequency_30d: Some(freq), route, debut_age: debut }
    }

    fn block() -> SubstanceUse {
        SubstanceUse {
            substances: Some(vec![entry(1, 4, Some(3), Some(15)), entry(2, 0, None, Some(16))]),
            main_substance: Some(1),
            injected_30d: Some(2),
            overdose_12m: Some(0),
        }
    }

    fn draft(b: &SubstanceUse, u: BlockUse) -> Vec<(String, String)> {
        let mut c = Checker::new();
        b.check_draft(&mut c, u);
        c.finish().into_iter().map(|e| (e.field, e.code)).collect()
    }

    fn complete(b: &SubstanceUse, u: BlockUse) -> Vec<(String, String)> {
        let mut c = Checker::new();
        b.check_draft(&mut c, u);
        b.check_complete(&mut c, u);
        c.finish().into_iter().map(|e| (e.field, e.code)).collect()
    }

    fn pair(f: &str, c: &str) -> (String, String) {
        (f.to_string(), c.to_string())
    }

    #[test]
    fn a_full_block_passes_at_baseline() {
        assert!(complete(&block(), BlockUse::Baseline).is_empty());
    }

    #[test]
    fn codes_and_ranges_are_checked_in_drafts() {
        let b = SubstanceUse {
            substances: Some(vec![entry(13, 5, Some(6), Some(4)), entry(13, 1, None, None)]),
            main_substance: Some(0),
            injected_30d: Some(4),
            overdose_12m: Some(100),
        };
        assert_eq!(
            draft(&b, BlockUse::Baseline),
            [
                pair("substance_use.substances.0.substance", "code_list"),
                pair("substance_use.substances.0.frequency_30d", "code_list"),
                pair("substance_use.substances.0.route", "code_list"),
                pair("substance_use.substances.0.debut_age", "range"),
                pair("substance_use.substances.1.substance", "code_list"),
                pair("substance_use.substances.1.substance", "duplicate"),
                pair("substance_use.main_substance", "code_list"),
                pair("substance_use.injected_30d", "code_list"),
                pair("substance_use.overdose_12m", "range"),
            ]
        );
    }

    #[test]
    fn debut_age_is_only_for_the_baseline() {
        let errs = draft(&block(), BlockUse::Other);
        assert_eq!(errs[0], pair("substance_use.substances.0.debut_age", "not_applicable"));
        let mut b = block();
        for e in b.substances.iter_mut().flatten() {
            e.debut_age = None;
        }
        assert!(complete(&b, BlockUse::Other).is_empty());
        assert_eq!(complete(&b, BlockUse::Baseline).len(), 2);
    }

    #[test]
    fn an_empty_block_fails_completion_on_every_field() {
        assert_eq!(
            complete(&SubstanceUse::default(), BlockUse::Other),
            [
                pair("substance_use.substances", "required"),
                pair("substance_use.main_substance", "required"),
                pair("substance_use.injected_30d", "required"),
                pair("substance_use.overdose_12m", "required"),
            ]
        );
        let b = SubstanceUse { substances: Some(vec![]), ..block() };
        assert!(complete(&b, BlockUse::Other).contains(&pair("substance_use.substances", "required")));
    }

    #[test]
    fn route_is_required_only_for_substances_used_in_the_last_30_days() {
        let mut b = block();
        b.substances = Some(vec![entry(1, 2, None, Some(15))]);
        assert_eq!(complete(&b, BlockUse::Baseline), [pair("substance_use.substances.0.route", "required")]);
        b.substances = Some(vec![entry(1, 0, None, Some(15))]);
        assert!(complete(&b, BlockUse::Baseline).is_empty());
    }

    #[test]
    fn main_substance_must_be_listed() {
        let b = SubstanceUse { main_substance: Some(3), ..block() };
        assert_eq!(complete(&b, BlockUse::Baseline), [pair("substance_use.main_substance", "conflict_rule")]);
    }

    #[test]
    fn injected_30d_must_be_yes_when_an_injected_substance_was_used() {
        let mut b = block();
        b.substances = Some(vec![entry(1, 4, Some(1), Some(15))]);
        assert_eq!(complete(&b, BlockUse::Baseline), [pair("substance_use.injected_30d", "conflict_rule")]);
        b.injected_30d = Some(1);
        assert!(complete(&b, BlockUse::Baseline).is_empty());
        // Injected earlier but not in the last 30 days: no constraint.
        b.substances = Some(vec![entry(1, 0, Some(1), Some(15))]);
        b.injected_30d = Some(2);
        assert!(complete(&b, BlockUse::Baseline).is_empty());
    }

    #[test]
    fn the_block_denies_unknown_fields_and_accepts_null() {
        assert!(serde_json::from_str::<SubstanceUse>(r#"{"main_substance":1,"x":1}"#).is_err());
        assert!(serde_json::from_str::<SubstanceEntry>(r#"{"substance":1,"dose":1}"#).is_err());
        let mut de = serde_json::Deserializer::from_str("null");
        assert!(null_as_empty(&mut de).unwrap().is_empty());
    }
}
