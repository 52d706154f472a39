//! The code lists, numeric ranges and ICD-10 rules of the forms (docs/domain.md, Code lists): the
//! single source used by both validation and the field catalogue.
//!
//! Codes are small integers, stable forever; a retired code is never reused. Labels are English,
//! with the Norwegian term where staff use one.

/// A code list: (code, label).
pub type CodeList = &'static [(i16, &'static str)];

/// yes/no/unknown = 1/2/3.
pub const YES_NO_UNKNOWN: CodeList = &[(1, "yes"), (2, "no"), (3, "unknown")];
/// yes/no = 1/2 (the same codes as [`YES_NO_UNKNOWN`], without "unknown").
pub const YES_NO: CodeList = &[(1, "yes"), (2, "no")];
/// The code meaning "yes" in [`YES_NO`] and [`YES_NO_UNKNOWN`].
pub const YES: i16 = 1;
/// The code meaning "no" in [`YES_NO`] and [`YES_NO_UNKNOWN`].
pub const NO: i16 = 2;

/// `substance` (rusmiddel).
pub const SUBSTANCES: CodeList = &[
    (1, "alcohol"),
    (2, "cannabis"),
    (3, "heroin"),
    (4, "other opioids"),
    (5, "benzodiazepines and other sedatives"),
    (6, "amphetamine/methamphetamine"),
    (7, "cocaine"),
    (8, "hallucinogens"),
    (9, "GHB"),
    (10, "solvents"),
    (11, "new psychoactive substances"),
    (12, "other"),
];

/// `frequency_30d`: use in the last 30 days.
pub const FREQUENCY_30D: CodeList =
    &[(0, "not used"), (1, "at most weekly"), (2, "two–three days a week"), (3, "four–six days a week"), (4, "daily")];
/// The frequency code meaning "not used".
pub const NOT_USED: i16 = 0;

/// `route` (inntaksmåte).
pub const ROUTE: CodeList = &[(1, "injected"), (2, "smoked/inhaled"), (3, "oral"), (4, "sniffed"), (5, "other")];
/// The route code meaning "injected".
pub const INJECTED: i16 = 1;

/// `housing` (bosituasjon).
pub const HOUSING: CodeList = &[
    (1, "owns"),
    (2, "rents privately"),
    (3, "rents municipal housing"),
    (4, "with family without own home"),
    (5, "with friends"),
    (6, "hostel/temporary"),
    (7, "supported housing"),
    (8, "institution or prison"),
    (9, "homeless (sleeping rough)"),
    (10, "other"),
];

/// `occupation` (hovedbeskjeftigelse / inntekt).
pub const OCCUPATION: CodeList = &[
    (1, "full-time work"),
    (2, "part-time work"),
    (3, "studies"),
    (4, "work assessment allowance"),
    (5, "disability pension"),
    (6, "social assistance"),
    (7, "unemployed"),
    (8, "other"),
];

/// `lives_with` (bor sammen med): a code list of the register's own, with an explicit "unknown".
pub const LIVES_WITH: CodeList = &[
    (1, "alone"),
    (2, "with partner"),
    (3, "with partner and children"),
    (4, "alone with children"),
    (5, "with parents or other family"),
    (6, "with others"),
    (7, "unknown"),
];

/// `lar_medication` (LAR-legemiddel).
pub const LAR_MEDICATION: CodeList =
    &[(1, "methadone"), (2, "buprenorphine"), (3, "buprenorphine-naloxone"), (4, "depot buprenorphine"), (5, "other")];

/// `needs_followed_up` (measurement point).
pub const NEEDS_FOLLOWED_UP: CodeList = &[(1, "yes"), (2, "partly"), (3, "no")];

/// `agreed_follow_up` and `received_follow_up`: a set; 7 excludes the others.
pub const FOLLOW_UP_SERVICES: CodeList = &[
    (1, "municipal services"),
    (2, "GP"),
    (3, "NAV"),
    (4, "TSB outpatient"),
    (5, "LAR"),
    (6, "mental health care"),
    (7, "none"),
];
/// The follow-up service code meaning "none".
pub const NO_SERVICES: i16 = 7;

pub use crate::pathways::{DISCHARGE_ENDING_CODES as ENDING, FOLLOW_UP_OUTCOME_CODES as OUTCOME};
pub use crate::pathways::{TREATMENT_LEVEL_CODES as TREATMENT_LEVEL, TREATMENT_STATUS_CODES as TREATMENT_STATUS};
pub use crate::patients::SEX_CODES as SEX;

/// An inclusive integer range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntRange {
    pub min: i16,
    pub max: i16,
}

impl IntRange {
    pub const fn contains(self, v: i16) -> bool {
        self.min <= v && v <= self.max
    }
}

/// `debut_age` (baseline only).
pub const DEBUT_AGE: IntRange = IntRange { min: 5, max: 90 };
/// `overdose_12m`: a count.
pub const OVERDOSE_COUNT: IntRange = IntRange { min: 0, max: 99 };
/// `audit_score` (AUDIT).
pub const AUDIT_SCORE: IntRange = IntRange { min: 0, max: 40 };
/// `dudit_score` (DUDIT).
pub const DUDIT_SCORE: IntRange = IntRange { min: 0, max: 44 };
/// The 1–5 scales: `self_rated_severity`, `self_rated_life_situation`, `benefit`, `satisfaction`.
pub const SCALE_1_5: IntRange = IntRange { min: 1, max: 5 };

/// Most entries a list of diagnoses may hold.
pub const MAX_DIAGNOSES: usize = 20;
/// Most entries the substance list may hold (one per substance code).
pub const MAX_SUBSTANCES: usize = SUBSTANCES.len();

/// Whether `code` is in `list`.
pub fn in_list(list: CodeList, code: i16) -> bool {
    list.iter().any(|(c, _)| *c == code)
}

/// The ICD-10 restriction of a diagnosis field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icd10Rule {
    /// Any well-formed code.
    Any,
    /// F10–F19 with a 4th character (`substance_diagnoses`).
    Substance,
    /// Chapter F but not F1x (`psychiatric_diagnoses`).
    Psychiatric,
    /// Not chapter F (`somatic_diagnoses`).
    Somatic,
}

impl Icd10Rule {
    /// The rule in words, for messages and the data dictionary.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Any => "an ICD-10 code",
            Self::Substance => "an ICD-10 code from F10 to F19 with a 4th character",
            Self::Psychiatric => "an ICD-10 code in chapter F, not F10–F19",
            Self::Somatic => "an ICD-10 code outside chapter F",
        }
    }

    /// Whether a well-formed code satisfies the rule.
    pub fn allows(self, code: &str) -> bool {
        let b = code.as_bytes();
        let f = b.first() == Some(&b'F');
        let f1x = f && b.get(1) == Some(&b'1');
        match self {
            Self::Any => true,
            Self::Substance => f1x && b.len() >= 5,
            Self::Psychiatric => f && !f1x,
            Self::Somatic => !f,
        }
    }
}

/// An ICD-10 code is well formed when it is an upper-case letter, two digits, and optionally a
/// dot followed by one or two digits: `F10`, `F10.2`, `Z51.81`. No spaces, no lower case.
pub fn is_icd10(code: &str) -> bool {
    let b = code.as_bytes();
    let head = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    let tail = match &b[3.min(b.len())..] {
        [] => true,
        [b'.', rest @ ..] => (1..=2).contains(&rest.len()) && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    head && tail
}

/// Whether a substance diagnosis is harmful use (F1x.1) or dependence (F1x.2) of a substance that
/// qualifies for the register: any F10–F19 except F17 (tobacco).
pub fn is_qualifying_substance_diagnosis(code: &str) -> bool {
    let b = code.as_bytes();
    is_icd10(code) && Icd10Rule::Substance.allows(code) && b[2] != b'7' && matches!(b[4], b'1' | b'2')
}

/// Norwegian (bokmål) labels of the code lists a patient answers, for the patient's pages: the
/// same codes as the list itself (a test holds them equal), worded for the patient.
pub fn labels_nb(list: CodeList) -> Option<CodeList> {
    const YES_NO_UNKNOWN_NB: CodeList = &[(1, "Ja"), (2, "Nei"), (3, "Vet ikke")];
    const YES_NO_NB: CodeList = &[(1, "Ja"), (2, "Nei")];
    const HOUSING_NB: CodeList = &[
        (1, "Eier egen bolig"),
        (2, "Leier privat"),
        (3, "Leier kommunal bolig"),
        (4, "Bor hos familie, uten egen bolig"),
        (5, "Bor hos venner"),
        (6, "Hospits eller midlertidig bolig"),
        (7, "Bolig med oppfølging"),
        (8, "Institusjon eller fengsel"),
        (9, "Uten bolig (sover ute)"),
        (10, "Annet"),
    ];
    const OCCUPATION_NB: CodeList = &[
        (1, "Arbeid, heltid"),
        (2, "Arbeid, deltid"),
        (3, "Studier"),
        (4, "Arbeidsavklaringspenger"),
        (5, "Uføretrygd"),
        (6, "Sosialhjelp"),
        (7, "Arbeidsledig"),
        (8, "Annet"),
    ];
    const LIVES_WITH_NB: CodeList = &[
        (1, "Alene"),
        (2, "Med partner"),
        (3, "Med partner og barn"),
        (4, "Alene med barn"),
        (5, "Med foreldre eller annen familie"),
        (6, "Med andre"),
        (7, "Vet ikke"),
    ];
    const SUBSTANCES_NB: CodeList = &[
        (1, "Alkohol"),
        (2, "Cannabis (hasj, marihuana)"),
        (3, "Heroin"),
        (4, "Andre opioider (for eksempel metadon, morfin, oksykodon)"),
        (5, "Benzodiazepiner og andre beroligende midler"),
        (6, "Amfetamin eller metamfetamin"),
        (7, "Kokain"),
        (8, "Hallusinogener (for eksempel LSD, sopp)"),
        (9, "GHB"),
        (10, "Løsemidler"),
        (11, "Nye psykoaktive stoffer"),
        (12, "Annet"),
    ];
    const FREQUENCY_30D_NB: CodeList = &[
        (0, "Brukt før, men ikke siste 30 dager"),
        (1, "Inntil én dag i uken"),
        (2, "2–3 dager i uken"),
        (3, "4–6 dager i uken"),
        (4, "Daglig"),
    ];
    const ROUTE_NB: CodeList = &[
        (1, "Injisert (med sprøyte)"),
        (2, "Røyket eller inhalert"),
        (3, "Spist eller drukket"),
        (4, "Sniffet"),
        (5, "Annen måte"),
    ];
    const FOLLOW_UP_SERVICES_NB: CodeList = &[
        (1, "Tjenester fra kommunen"),
        (2, "Fastlege"),
        (3, "NAV"),
        (4, "Poliklinisk rusbehandling (TSB)"),
        (5, "LAR (legemiddelassistert rehabilitering)"),
        (6, "Psykisk helsevern"),
        (7, "Ingen av disse"),
    ];
    [
        (SUBSTANCES, SUBSTANCES_NB),
        (FREQUENCY_30D, FREQUENCY_30D_NB),
        (ROUTE, ROUTE_NB),
        (FOLLOW_UP_SERVICES, FOLLOW_UP_SERVICES_NB),
        (YES_NO_UNKNOWN, YES_NO_UNKNOWN_NB),
        (YES_NO, YES_NO_NB),
        (HOUSING, HOUSING_NB),
        (OCCUPATION, OCCUPATION_NB),
        (LIVES_WITH, LIVES_WITH_NB),
    ]
    .into_iter()
    .find(|(l, _)| *l == list)
    .map(|(_, nb)| nb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_format_accepts_well_formed_codes() {
        for c in ["F10", "F10.2", "Z51.81", "A00.0"] {
            assert!(is_icd10(c), "{c}");
        }
    }

    #[test]
    fn icd10_format_rejects_malformed_codes() {
        for c in ["", "F1", "f10.2", "F10.", "F102", "F10.234", "F10,2", " F10.2", "F10.2 ", "FF0.2", "F10.X"] {
            assert!(!is_icd10(c), "{c}");
        }
    }

    #[test]
    fn icd10_rules_restrict_chapters() {
        assert!(Icd10Rule::Substance.allows("F10.2"));
        assert!(Icd10Rule::Substance.allows("F19.1"));
        assert!(!Icd10Rule::Substance.allows("F10"));
        assert!(!Icd10Rule::Substance.allows("F20.0"));
        assert!(Icd10Rule::Psychiatric.allows("F32.1"));
        assert!(!Icd10Rule::Psychiatric.allows("F12.2"));
        assert!(!Icd10Rule::Psychiatric.allows("K70.3"));
        assert!(Icd10Rule::Somatic.allows("K70.3"));
        assert!(!Icd10Rule::Somatic.allows("F32.1"));
        assert!(Icd10Rule::Any.allows("F32.1"));
    }

    #[test]
    fn qualifying_substance_diagnoses_are_f1x_1_or_2_except_f17() {
        for c in ["F10.1", "F10.2", "F12.2", "F19.1", "F18.2", "F11.21"] {
            assert!(is_qualifying_substance_diagnosis(c), "{c}");
        }
        for c in ["F17.2", "F17.1", "F10.0", "F10.3", "F10", "F20.1", "K70.1"] {
            assert!(!is_qualifying_substance_diagnosis(c), "{c}");
        }
    }

    #[test]
    fn code_lists_have_unique_codes() {
        for list in [
            YES_NO_UNKNOWN,
            YES_NO,
            SUBSTANCES,
            FREQUENCY_30D,
            ROUTE,
            HOUSING,
            OCCUPATION,
            LIVES_WITH,
            LAR_MEDICATION,
            NEEDS_FOLLOWED_UP,
            FOLLOW_UP_SERVICES,
            ENDING,
            OUTCOME,
            TREATMENT_LEVEL,
            TREATMENT_STATUS,
            SEX,
        ] {
            let mut codes: Vec<i16> = list.iter().map(|(c, _)| *c).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), list.len());
        }
        assert!(in_list(SUBSTANCES, 12));
        assert!(!in_list(SUBSTANCES, 13));
    }

    #[test]
    fn ranges_are_inclusive() {
        assert!(DEBUT_AGE.contains(5) && DEBUT_AGE.contains(90));
        assert!(!DEBUT_AGE.contains(4) && !DEBUT_AGE.contains(91));
    }
}
