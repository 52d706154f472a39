//! The quality indicators and the reporting conventions (docs/indicators.md, "The indicators"
//! and "Conventions"): definitions, the Wilson 95 % interval, the high / moderate / low level
//! against the targets, the trend against the year before, the age groups and the report levels.
//!
//! How each indicator is counted from the database is in `persistence/src/reports/facts.sql`;
//! docs/indicators.md gives every definition as computed.

use serde::{Deserialize, Serialize};

use crate::{DomainError, FieldError};

/// The indicators, in the order of docs/indicators.md, "The indicators".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorId {
    TreatmentPlanEarly,
    CrisisPlanEarly,
    LargeBenefit,
    MutualEnding,
    FollowUpAgreed,
    FollowUpReached,
    SomaticAssessed,
    BaselineOnTime,
}

/// The event whose date decides the reporting year (and, as registered, the unit and tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum YearOf {
    FirstMeasurement,
    Discharge,
    WindowClose,
    Baseline,
    Start,
}

/// Which way is better. All indicators are "higher is better".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
}

/// One indicator's definition.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Indicator {
    pub id: IndicatorId,
    pub title_no: &'static str,
    pub title_en: &'static str,
    pub population: &'static str,
    pub numerator: &'static str,
    pub denominator: &'static str,
    pub year_of: YearOf,
    pub direction: Direction,
    /// Share at or above which the result is "high".
    pub high: f64,
    /// Share at or above which the result is "moderate" (below: "low").
    pub moderate: f64,
}

const FIRST_MEASUREMENT: &str = "pathways whose first completed measurement point (earliest event date) falls in the \
     year, while the pathway was active (on or before any completed discharge)";
const DISCHARGES: &str = "completed discharges in the year with ending 3 (broken off) or 4 (mutual agreement)";

/// Every indicator (docs/indicators.md, "The indicators").
pub const INDICATORS: [Indicator; 8] = [
    Indicator {
        id: IndicatorId::TreatmentPlanEarly,
        title_no: "Behandlingsplan ved første målepunkt",
        title_en: "Treatment plan at the first measurement point",
        population: FIRST_MEASUREMENT,
        numerator: "the first measurement has treatment_plan = 1 (yes)",
        denominator: "the population",
        year_of: YearOf::FirstMeasurement,
        direction: Direction::HigherIsBetter,
        high: 0.80,
        moderate: 0.60,
    },
    Indicator {
        id: IndicatorId::CrisisPlanEarly,
        title_no: "Kriseplan ved første målepunkt",
        title_en: "Crisis plan at the first measurement point",
        population: FIRST_MEASUREMENT,
        numerator: "the first measurement has crisis_plan = 1 (yes)",
        denominator: "the population",
        year_of: YearOf::FirstMeasurement,
        direction: Direction::HigherIsBetter,
        high: 0.60,
        moderate: 0.40,
    },
    Indicator {
        id: IndicatorId::LargeBenefit,
        title_no: "Stor nytte av behandlingen",
        title_en: "Large benefit from treatment",
        population: FIRST_MEASUREMENT,
        numerator: "the first measurement has benefit 4 or 5",
        denominator: "the population",
        year_of: YearOf::FirstMeasurement,
        direction: Direction::HigherIsBetter,
        high: 0.80,
        moderate: 0.60,
    },
    Indicator {
        id: IndicatorId::MutualEnding,
        title_no: "Avsluttet etter gjensidig avtale",
        title_en: "Ended by mutual agreement",
        population: DISCHARGES,
        numerator: "ending = 4 (mutual agreement)",
        denominator: "the population",
        year_of: YearOf::Discharge,
        direction: Direction::HigherIsBetter,
        high: 0.80,
        moderate: 0.60,
    },
    Indicator {
        id: IndicatorId::FollowUpAgreed,
        title_no: "Avtalt oppfølging etter utskrivning",
        title_en: "Follow-up agreed at discharge",
        population: DISCHARGES,
        numerator: "agreed_follow_up holds at least one code other than 7 (none)",
        denominator: "the population",
        year_of: YearOf::Discharge,
        direction: Direction::HigherIsBetter,
        high: 0.90,
        moderate: 0.70,
    },
    Indicator {
        id: IndicatorId::FollowUpReached,
        title_no: "Fulgt opp etter ett år",
        title_en: "Followed up after one year",
        population: "pathways with a completed discharge with ending 3 or 4 and contact_consent_1y = 1 (yes), \
             whose follow-up window (discharge + 14 months by default) closes in the year and has closed by \
             today, or whose follow-up is completed; a window still open without a completed follow-up is \
             not yet due and is left out",
        numerator: "a completed follow-up with outcome 5 (followed up)",
        denominator: "the population",
        year_of: YearOf::WindowClose,
        direction: Direction::HigherIsBetter,
        high: 0.60,
        moderate: 0.40,
    },
    Indicator {
        id: IndicatorId::SomaticAssessed,
        title_no: "Somatisk helse vurdert",
        title_en: "Somatic health assessed",
        population: "completed baselines with event date in the year",
        numerator: "somatic_health_assessed = 1 (yes)",
        denominator: "the population",
        year_of: YearOf::Baseline,
        direction: Direction::HigherIsBetter,
        high: 0.90,
        moderate: 0.70,
    },
    Indicator {
        id: IndicatorId::BaselineOnTime,
        title_no: "Basisregistrering innen fristen",
        title_en: "Baseline within the due date",
        population: "pathways started in the year, at the unit that opened them; a pathway whose baseline due \
             date (start + 21 days outpatient, + 7 inpatient, by default) is still ahead and that has no \
             completed baseline is not yet due and is left out",
        numerator: "a completed baseline with event date on or before the due date",
        denominator: "the population",
        year_of: YearOf::Start,
        direction: Direction::HigherIsBetter,
        high: 0.80,
        moderate: 0.60,
    },
];

impl IndicatorId {
    pub const ALL: [IndicatorId; 8] = [
        Self::TreatmentPlanEarly,
        Self::CrisisPlanEarly,
        Self::LargeBenefit,
        Self::MutualEnding,
        Self::FollowUpAgreed,
        Self::FollowUpReached,
        Self::SomaticAssessed,
        Self::BaselineOnTime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TreatmentPlanEarly => "treatment_plan_early",
            Self::CrisisPlanEarly => "crisis_plan_early",
            Self::LargeBenefit => "large_benefit",
            Self::MutualEnding => "mutual_ending",
            Self::FollowUpAgreed => "follow_up_agreed",
            Self::FollowUpReached => "follow_up_reached",
            Self::SomaticAssessed => "somatic_assessed",
            Self::BaselineOnTime => "baseline_on_time",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == raw)
    }

    pub fn definition(self) -> &'static Indicator {
        &INDICATORS[self as usize]
    }

    /// Where the indicator is counted: its population, the outcome (0..3) that is its numerator,
    /// and the outcome that must hold to be in its denominator (`None`: the whole population).
    /// Indicators with the same population share its counts (and, in a release, its cells).
    pub fn counted_in(self) -> (Population, usize, Option<usize>) {
        match self {
            Self::TreatmentPlanEarly => (Population::FirstMeasurement, 0, None),
            Self::CrisisPlanEarly => (Population::FirstMeasurement, 1, None),
            Self::LargeBenefit => (Population::FirstMeasurement, 2, None),
            Self::MutualEnding => (Population::Discharge, 0, None),
            Self::FollowUpAgreed => (Population::Discharge, 1, None),
            Self::FollowUpReached => (Population::Window, 0, None),
            Self::SomaticAssessed => (Population::Baseline, 0, None),
            Self::BaselineOnTime => (Population::Started, 0, Some(1)),
        }
    }
}

/// The populations the indicators and the activity table are counted in (facts.sql), each with
/// up to three yes/no outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Population {
    /// Pathways started: o1 baseline on time, o2 baseline due (or done). The activity table.
    Started,
    /// First completed measurement points: o1 treatment plan, o2 crisis plan, o3 benefit 4–5.
    FirstMeasurement,
    /// Completed discharges with ending 3 or 4: o1 mutual agreement, o2 agreed follow-up.
    Discharge,
    /// Follow-up windows closing: o1 followed up.
    Window,
    /// Completed baselines: o1 somatic health assessed.
    Baseline,
}

impl Population {
    pub const ALL: [Population; 5] =
        [Self::Started, Self::FirstMeasurement, Self::Discharge, Self::Window, Self::Baseline];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::FirstMeasurement => "first_measurement",
            Self::Discharge => "discharge",
            Self::Window => "window",
            Self::Baseline => "baseline",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// How many of the three outcomes mean something (the rest are always yes).
    pub fn outcomes(self) -> usize {
        match self {
            Self::FirstMeasurement => 3,
            Self::Started | Self::Discharge => 2,
            Self::Window | Self::Baseline => 1,
        }
    }
}

/// A result's standing against the indicator's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetLevel {
    High,
    Moderate,
    Low,
}

/// The change against the year before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Better,
    Unchanged,
    Worse,
}

/// A numerator over a denominator (counts summed at a level, never averaged percentages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Ratio {
    pub numerator: i64,
    pub denominator: i64,
}

impl Ratio {
    pub fn new(numerator: i64, denominator: i64) -> Self {
        Ratio { numerator, denominator }
    }

    /// The share, or `None` for an empty denominator.
    pub fn share(self) -> Option<f64> {
        (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64)
    }

    /// The Wilson score interval at 95 % (z = 1.959964), or `None` for an empty denominator.
    pub fn wilson(self) -> Option<(f64, f64)> {
        const Z: f64 = 1.959_963_984_540_054;
        let p = self.share()?;
        let n = self.denominator as f64;
        let z2 = Z * Z;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
        Some(((centre - half).max(0.0), (centre + half).min(1.0)))
    }

    pub fn add(&mut self, other: Ratio) {
        self.numerator += other.numerator;
        self.denominator += other.denominator;
    }
}

impl Indicator {
    /// High / moderate / low against the targets, or `None` for an empty denominator.
    pub fn level(&self, r: Ratio) -> Option<TargetLevel> {
        let p = r.share()?;
        Some(if p >= self.high {
            TargetLevel::High
        } else if p >= self.moderate {
            TargetLevel::Moderate
        } else {
            TargetLevel::Low
        })
    }

    /// The trend against the year before: better or worse when the shares, each rounded to
    /// tenths of a percent as published, differ by at least one percentage point, else
    /// unchanged. `None` when either year has no denominator.
    pub fn trend(&self, now: Ratio, before: Ratio) -> Option<Trend> {
        let tenths = |p: f64| (p * 1000.0).round() as i64;
        let diff = tenths(now.share()?) - tenths(before.share()?);
        let better = match self.direction {
            Direction::HigherIsBetter => diff,
        };
        Some(if better >= 10 {
            Trend::Better
        } else if better <= -10 {
            Trend::Worse
        } else {
            Trend::Unchanged
        })
    }
}

/// The lower bounds of the age groups after the first (age at the event: year − birth year).
pub const AGE_GROUP_BOUNDS: [i32; 4] = [25, 35, 45, 55];
/// The age-group labels, in order.
pub const AGE_GROUPS: [&str; 5] = ["0-24", "25-34", "35-44", "45-54", "55+"];

/// The age group (index into [`AGE_GROUPS`]) of a person born in `birth_year` at an event in
/// `year`.
pub fn age_group(year: i32, birth_year: i32) -> usize {
    let age = year - birth_year;
    AGE_GROUP_BOUNDS.iter().take_while(|&&b| age >= b).count()
}

/// Sex codes as reported (`patients.sex`).
pub const SEXES: [(i16, &str); 3] = [(1, "male"), (2, "female"), (9, "unknown")];

/// The report levels (docs/indicators.md, "Conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportLevel {
    Unit,
    LegalEntity,
    Region,
    Nation,
}

impl ReportLevel {
    pub const ALL: [ReportLevel; 4] = [Self::Unit, Self::LegalEntity, Self::Region, Self::Nation];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unit => "unit",
            Self::LegalEntity => "legal_entity",
            Self::Region => "region",
            Self::Nation => "nation",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|l| l.as_str() == raw).ok_or_else(|| {
            DomainError::Invalid(vec![FieldError::new(
                "level",
                "code_list",
                "level is one of unit, legal_entity, region, nation",
            )])
        })
    }
}

/// How pathways are placed in the tree (docs/indicators.md, "Conventions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// The unit that registered the event, in the tree as it was on the event's date.
    #[default]
    AsRegistered,
    /// The same unit, in the tree as it is today.
    AsOfToday,
}

/// Checks a report year: from 2000 up to this year.
pub fn parse_year(raw: i32, this_year: i32) -> Result<i32, DomainError> {
    if (2000..=this_year).contains(&raw) {
        Ok(raw)
    } else {
        Err(DomainError::Invalid(vec![FieldError::new(
            "year",
            "range",
            format!("year is between 2000 and {this_year}"),
        )]))
    }
}

/// Coverage below this share is flagged "low coverage" (docs/indicators.md, "Coverage (dekningsgrad)").
pub const LOW_COVERAGE: f64 = 0.60;

/// Coverage = registered pathways / pathways in NPR; `None` without an NPR count.
pub fn coverage(registered: i64, npr: i64) -> Option<f64> {
    (npr > 0).then(|| registered as f64 / npr as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_in_the_order_of_their_ids() {
        for (i, d) in INDICATORS.iter().enumerate() {
            assert_eq!(d.id as usize, i);
            assert_eq!(IndicatorId::parse(d.id.as_str()), Some(d.id));
            assert!(d.high > d.moderate);
        }
        assert_eq!(IndicatorId::parse("nope"), None);
    }

    #[test]
    fn wilson_interval_matches_hand_computed_values() {
        // 8 of 10: p = 0.8, z = 1.96; known Wilson bounds 0.4902 .. 0.9433.
        let (lo, hi) = Ratio::new(8, 10).wilson().unwrap_or_default();
        assert!((lo - 0.4902).abs() < 1e-4, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-4, "{hi}");
        // 0 of 5: lower bound 0, upper 0.4345.
        let (lo, hi) = Ratio::new(0, 5).wilson().unwrap_or_default();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.4345).abs() < 1e-4, "{hi}");
        // 5 of 5: upper bound 1.
        let (_, hi) = Ratio::new(5, 5).wilson().unwrap_or_default();
        assert!((hi - 1.0).abs() < 1e-12);
        assert_eq!(Ratio::new(0, 0).wilson(), None);
    }

    #[test]
    fn level_uses_the_targets_inclusively() {
        let d = IndicatorId::MutualEnding.definition();
        assert_eq!(d.level(Ratio::new(8, 10)), Some(TargetLevel::High));
        assert_eq!(d.level(Ratio::new(79, 100)), Some(TargetLevel::Moderate));
        assert_eq!(d.level(Ratio::new(6, 10)), Some(TargetLevel::Moderate));
        assert_eq!(d.level(Ratio::new(59, 100)), Some(TargetLevel::Low));
        assert_eq!(d.level(Ratio::new(0, 0)), None);
    }

    #[test]
    fn trend_needs_a_full_percentage_point() {
        let d = IndicatorId::SomaticAssessed.definition();
        assert_eq!(d.trend(Ratio::new(81, 100), Ratio::new(80, 100)), Some(Trend::Better));
        assert_eq!(d.trend(Ratio::new(805, 1000), Ratio::new(80, 100)), Some(Trend::Unchanged));
        assert_eq!(d.trend(Ratio::new(79, 100), Ratio::new(80, 100)), Some(Trend::Worse));
        assert_eq!(d.trend(Ratio::new(1, 2), Ratio::new(0, 0)), None);
    }

    #[test]
    fn age_groups_by_age_at_the_event() {
        assert_eq!(age_group(2025, 2001), 0); // 24
        assert_eq!(age_group(2025, 2000), 1); // 25
        assert_eq!(age_group(2025, 1991), 1); // 34
        assert_eq!(AGE_GROUPS[age_group(2025, 1991)], "25-34");
        assert_eq!(AGE_GROUPS[age_group(2025, 1970)], "55+");
        assert_eq!(AGE_GROUPS[age_group(2025, 1981)], "35-44");
    }

    #[test]
    fn years_and_levels_are_checked() {
        assert!(parse_year(1999, 2026).is_err());
        assert!(parse_year(2027, 2026).is_err());
        assert_eq!(parse_year(2026, 2026).ok(), Some(2026));
        assert_eq!(ReportLevel::parse("legal_entity").ok(), Some(ReportLevel::LegalEntity));
        assert!(ReportLevel::parse("county").is_err());
        assert_eq!(coverage(3, 5), Some(0.6));
        assert_eq!(coverage(3, 0), None);
    }
}
