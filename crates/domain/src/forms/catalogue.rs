//! The field catalogue: a static description of every field of the patient, the pathway and the
//! four forms, and the Markdown data dictionary (docs/data-dictionary.md) generated from it.
//!
//! Code lists and ranges come from [`super::codes`], the same constants validation uses, and a
//! test checks that the catalogue names exactly the fields of the form structs, that every field
//! marked `Always` is reported as `required` by `validate_complete`, and that the committed
//! docs/data-dictionary.md equals [`data_dictionary_markdown`].

use std::fmt::Write as _;

use super::codes::{self, CodeList, Icd10Rule, IntRange};
use super::FormKind;

/// Which record a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOwner {
    Patient,
    Pathway,
    Form(FormKind),
}

impl FieldOwner {
    /// `patient`, `pathway`, or the form kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Patient => "patient",
            Self::Pathway => "pathway",
            Self::Form(k) => k.as_str(),
        }
    }
}

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A national id: 11 digits (never stored in clear).
    NationalId,
    /// A year.
    Year,
    /// One code from `codes`.
    Code,
    /// A set of codes from `codes` (a JSON array, each code at most once).
    CodeSet,
    /// An integer in a range.
    Integer(IntRange),
    /// One ICD-10 code (a string such as `F10.2`).
    Icd10(Icd10Rule),
    /// A list of ICD-10 codes.
    Icd10List(Icd10Rule),
    /// A list of objects, whose fields are listed as `name[].field`.
    List,
    /// A municipality number (four digits) or a city district (six), valid on a date.
    AreaCode,
}

impl FieldKind {
    /// The type in words, for the dictionary.
    pub fn describe(self) -> String {
        match self {
            Self::Date => "date".into(),
            Self::NationalId => "national id (11 digits)".into(),
            Self::Year => "year".into(),
            Self::Code => "code".into(),
            Self::CodeSet => "set of codes".into(),
            Self::Integer(r) => format!("integer {}–{}", r.min, r.max),
            Self::Icd10(_) => "ICD-10 code".into(),
            Self::Icd10List(_) => "list of ICD-10 codes".into(),
            Self::List => "list".into(),
            Self::AreaCode => "area code (4 or 6 digits)".into(),
        }
    }
}

/// When a field must be filled in for the form (or record) to be completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    Always,
    /// Only under the condition, in words.
    When(&'static str),
    /// Optional.
    Never,
}

impl Required {
    pub fn describe(self) -> String {
        match self {
            Self::Always => "always".into(),
            Self::When(cond) => format!("when {cond}"),
            Self::Never => "no".into(),
        }
    }
}

/// One field of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub owner: FieldOwner,
    /// The JSON name; nested fields are dotted (`substance_use.main_substance`) and fields of
    /// list entries use `[]` (`substance_use.substances[].route`).
    pub name: &'static str,
    /// The Norwegian label.
    pub label_nb: &'static str,
    pub kind: FieldKind,
    /// The code list, for `Code` and `CodeSet` (empty otherwise).
    pub codes: CodeList,
    pub required_on_completion: Required,
    /// Further rules in words (empty when none).
    pub rules: &'static str,
}

const fn spec(
    owner: FieldOwner,
    name: &'static str,
    label_nb: &'static str,
    kind: FieldKind,
    codes: CodeList,
    required_on_completion: Required,
    rules: &'static str,
) -> FieldSpec {
    FieldSpec { owner, name, label_nb, kind, codes, required_on_completion, rules }
}

const NONE: CodeList = &[];
use FieldKind as K;
use Required::{Always, Never, When};

/// The patient's and the pathway's fields (not form fields).
pub fn header_fields() -> Vec<FieldSpec> {
    let p = FieldOwner::Patient;
    let w = FieldOwner::Pathway;
    vec![
        spec(
            p,
            "national_id",
            "Fødselsnummer / D-nummer / H-nummer / FH-nummer",
            K::NationalId,
            NONE,
            Always,
            "both check digits; fødselsnummer, D-number (day + 40), H-number (month + 40) or FH-number (first \
             digit 8 or 9, no date); a real birth date with the century from the individual number; the 2032 \
             check-digit rule when configured; never shown, logged or exported; stored as a keyed hash and \
             encrypted",
        ),
        spec(
            p,
            "sex",
            "Kjønn",
            K::Code,
            codes::SEX,
            Always,
            "given by the registrar, never derived from the national id",
        ),
        spec(
            p,
            "birth_year",
            "Fødselsår",
            K::Year,
            NONE,
            Always,
            "from 1854 (the first year a national id can encode) to the current year; equal to the year in the \
             national id when the id has a date",
        ),
        spec(
            w,
            "start_date",
            "Startdato pakkeforløp",
            K::Date,
            NONE,
            Always,
            "not in the future, not before 2000-01-01",
        ),
        spec(
            w,
            "treatment_level",
            "Behandlingsnivå",
            K::Code,
            codes::TREATMENT_LEVEL,
            Always,
            "day, inpatient and detoxification use the inpatient time limits; the others the outpatient ones; \
             the baseline's limit follows this level, a measurement point's the level recorded by the point \
             before it (this one until a measurement point records a level)",
        ),
        spec(
            w,
            "residence_code",
            "Bostedskommune (bydel i Oslo) ved start",
            K::AreaCode,
            NONE,
            Never,
            "the municipality number valid on the start date (the 2020 and 2024 reforms renumbered many: an old \
             number is refused after its end, naming its successor); in a municipality recorded by city district \
             (Oslo) the six-digit district; empty when not recorded (docs/residence.md)",
        ),
        spec(
            w,
            "treatment_status",
            "Behandlingsstatus",
            K::Code,
            codes::TREATMENT_STATUS,
            Always,
            "set by the register, not entered: 1 when the pathway opens, 2–4 from a completed discharge's ending, \
             5–7 from a completed follow-up's outcome; reopening the follow-up goes back to the discharge's \
             status, reopening the discharge back to 1; kept with its history",
        ),
    ]
}

/// The substance-use block of a form.
fn substance_fields(kind: FormKind) -> Vec<FieldSpec> {
    let o = FieldOwner::Form(kind);
    let follow_up = kind == FormKind::FollowUp;
    let req = if follow_up { When("outcome is 5 (followed up)") } else { Always };
    let route_req = if follow_up {
        When("outcome is 5 and frequency_30d is not 0 (not used)")
    } else {
        When("frequency_30d is not 0 (not used)")
    };
    let mut v = vec![
        spec(
            o,
            "substance_use.substances",
            "Rusmidler",
            K::List,
            NONE,
            req,
            "at least one entry; each substance at most once; at most 12 entries",
        ),
        spec(o, "substance_use.substances[].substance", "Rusmiddel", K::Code, codes::SUBSTANCES, req, ""),
        spec(
            o,
            "substance_use.substances[].frequency_30d",
            "Hyppighet siste 30 dager",
            K::Code,
            codes::FREQUENCY_30D,
            req,
            "",
        ),
        spec(o, "substance_use.substances[].route", "Inntaksmåte", K::Code, codes::ROUTE, route_req, ""),
    ];
    if kind == FormKind::Baseline {
        v.push(spec(
            o,
            "substance_use.substances[].debut_age",
            "Debutalder",
            K::Integer(codes::DEBUT_AGE),
            NONE,
            Always,
            "baseline only",
        ));
    }
    v.extend([
        spec(
            o,
            "substance_use.main_substance",
            "Hovedrusmiddel",
            K::Code,
            codes::SUBSTANCES,
            req,
            "must be one of the listed substances",
        ),
        spec(
            o,
            "substance_use.injected_30d",
            "Injisert siste 30 dager",
            K::Code,
            codes::YES_NO_UNKNOWN,
            req,
            "yes when a substance used in the last 30 days has route 1 (injected)",
        ),
        spec(
            o,
            "substance_use.overdose_12m",
            "Antall overdoser siste 12 måneder",
            K::Integer(codes::OVERDOSE_COUNT),
            NONE,
            req,
            "",
        ),
    ]);
    v
}

fn event_date(kind: FormKind) -> FieldSpec {
    let (label, rules) = match kind {
        FormKind::Baseline => (
            "Dato for basisregistrering",
            "not before the pathway start, not after today, not after any completed measurement point or the \
             completed discharge",
        ),
        FormKind::Measurement => (
            "Dato for målepunkt",
            "not before the pathway start or the completed baseline, not after today or the completed discharge",
        ),
        FormKind::Discharge => (
            "Dato for avslutning",
            "not before the pathway start, the completed baseline or any completed measurement point, not after \
             today; completing needs a completed baseline or measurement point",
        ),
        FormKind::FollowUp => (
            "Dato for ettårsoppfølging",
            "at least 300 days after the discharge (a warning when more than 14 months after it), not after \
             today; completing needs a completed discharge with ending 3 or 4 and contact_consent_1y yes",
        ),
    };
    spec(FieldOwner::Form(kind), "event_date", label, K::Date, NONE, Always, rules)
}

/// The fields of one form, in the order of the form.
pub fn form_fields(kind: FormKind) -> Vec<FieldSpec> {
    let o = FieldOwner::Form(kind);
    let ynu = codes::YES_NO_UNKNOWN;
    let mut v = vec![event_date(kind)];
    match kind {
        FormKind::Baseline => {
            v.extend([
                spec(
                    o,
                    "referral_diagnosis",
                    "Henvisningsdiagnose",
                    K::Icd10(Icd10Rule::Any),
                    NONE,
                    Always,
                    "any chapter",
                ),
                spec(
                    o,
                    "substance_diagnoses",
                    "Rusdiagnoser",
                    K::Icd10List(Icd10Rule::Substance),
                    NONE,
                    Always,
                    "F10–F19 with a 4th character; at least one F1x.1 (harmful use) or F1x.2 (dependence) other \
                     than F17",
                ),
                spec(
                    o,
                    "psychiatric_diagnoses",
                    "Psykiatriske diagnoser",
                    K::Icd10List(Icd10Rule::Psychiatric),
                    NONE,
                    Always,
                    "chapter F but not F10–F19; an empty list means none",
                ),
                spec(
                    o,
                    "somatic_diagnoses",
                    "Somatiske diagnoser",
                    K::Icd10List(Icd10Rule::Somatic),
                    NONE,
                    Always,
                    "not chapter F; an empty list means none",
                ),
                spec(o, "somatic_health_assessed", "Somatisk helse vurdert", K::Code, ynu, Always, ""),
                spec(o, "mental_health_assessed", "Psykisk helse vurdert", K::Code, ynu, Always, ""),
                spec(o, "in_lar", "I LAR", K::Code, codes::YES_NO, Always, ""),
                spec(
                    o,
                    "lar_medication",
                    "LAR-legemiddel",
                    K::Code,
                    codes::LAR_MEDICATION,
                    When("in_lar is yes"),
                    "empty when in_lar is no",
                ),
                spec(o, "individual_plan", "Individuell plan", K::Code, ynu, Always, ""),
                spec(o, "responsibility_group", "Ansvarsgruppe", K::Code, ynu, Always, ""),
            ]);
            v.extend(substance_fields(kind));
            v.extend([
                spec(
                    o,
                    "injected_ever",
                    "Noen gang injisert",
                    K::Code,
                    ynu,
                    Always,
                    "yes when substance_use.injected_30d is yes",
                ),
                spec(o, "audit_score", "AUDIT-skår", K::Integer(codes::AUDIT_SCORE), NONE, Never, ""),
                spec(o, "dudit_score", "DUDIT-skår", K::Integer(codes::DUDIT_SCORE), NONE, Never, ""),
                spec(
                    o,
                    "self_rated_severity",
                    "Egenvurdert alvorlighet av rusproblemet",
                    K::Integer(codes::SCALE_1_5),
                    NONE,
                    Always,
                    "",
                ),
                spec(
                    o,
                    "self_rated_life_situation",
                    "Egenvurdert livssituasjon",
                    K::Integer(codes::SCALE_1_5),
                    NONE,
                    Always,
                    "",
                ),
                spec(o, "housing", "Bosituasjon", K::Code, codes::HOUSING, Always, ""),
                spec(o, "lives_with", "Bor sammen med", K::Code, codes::LIVES_WITH, Always, ""),
                spec(o, "children_under_18", "Har barn under 18 år", K::Code, ynu, Always, ""),
                spec(o, "occupation", "Hovedbeskjeftigelse", K::Code, codes::OCCUPATION, Always, ""),
            ]);
        }
        FormKind::Measurement => {
            v.extend([
                spec(
                    o,
                    "treatment_level",
                    "Behandlingsnivå",
                    K::Code,
                    codes::TREATMENT_LEVEL,
                    Always,
                    "the level in force from this point: the time limit to the next point follows it (42 days for \
                     inpatient, day and detoxification, else 56)",
                ),
                spec(o, "treatment_plan", "Behandlingsplan", K::Code, ynu, Always, ""),
                spec(o, "crisis_plan", "Kriseplan", K::Code, ynu, Always, ""),
                spec(
                    o,
                    "benefit",
                    "Nytte av behandlingen",
                    K::Integer(codes::SCALE_1_5),
                    NONE,
                    Always,
                    "the patient's benefit from treatment; 4–5 = large",
                ),
                spec(o, "feedback_tool_used", "Tilbakemeldingsverktøy brukt", K::Code, codes::YES_NO, Always, ""),
                spec(
                    o,
                    "needs_followed_up",
                    "Pasientens behov fulgt opp",
                    K::Code,
                    codes::NEEDS_FOLLOWED_UP,
                    Always,
                    "",
                ),
            ]);
            v.extend(substance_fields(kind));
            v.extend([
                spec(o, "housing", "Bosituasjon", K::Code, codes::HOUSING, Always, ""),
                spec(o, "occupation", "Hovedbeskjeftigelse", K::Code, codes::OCCUPATION, Always, ""),
            ]);
        }
        FormKind::Discharge => {
            v.extend([
                spec(
                    o,
                    "ending",
                    "Avslutningsårsak",
                    K::Code,
                    codes::ENDING,
                    Always,
                    "sets the pathway status to the same code when the discharge is completed",
                ),
                spec(
                    o,
                    "agreed_follow_up",
                    "Avtalt oppfølging",
                    K::CodeSet,
                    codes::FOLLOW_UP_SERVICES,
                    Always,
                    "at least one; 7 (none) excludes the others",
                ),
                spec(
                    o,
                    "municipality_informed",
                    "Kommunen informert",
                    K::Code,
                    ynu,
                    When("ending is 3 (broken off)"),
                    "",
                ),
            ]);
            v.extend(substance_fields(kind));
            v.extend([
                spec(o, "housing", "Bosituasjon", K::Code, codes::HOUSING, Always, ""),
                spec(o, "occupation", "Hovedbeskjeftigelse", K::Code, codes::OCCUPATION, Always, ""),
                spec(
                    o,
                    "satisfaction",
                    "Fornøydhet med behandlingen",
                    K::Integer(codes::SCALE_1_5),
                    NONE,
                    When("ending is 2 or 4 (not broken off)"),
                    "",
                ),
                spec(
                    o,
                    "contact_consent_1y",
                    "Samtykke til kontakt etter ett år",
                    K::Code,
                    codes::YES_NO,
                    When("ending is 3 or 4"),
                    "the one-year follow-up is only done with yes",
                ),
            ]);
        }
        FormKind::FollowUp => {
            let followed = When("outcome is 5 (followed up)");
            v.push(spec(
                o,
                "outcome",
                "Resultat av oppfølgingen",
                K::Code,
                codes::OUTCOME,
                Always,
                "sets the pathway status to the same code when the follow-up is completed",
            ));
            v.extend(substance_fields(kind));
            v.extend([
                spec(o, "housing", "Bosituasjon", K::Code, codes::HOUSING, followed, "empty unless outcome is 5"),
                spec(
                    o,
                    "occupation",
                    "Hovedbeskjeftigelse",
                    K::Code,
                    codes::OCCUPATION,
                    followed,
                    "empty unless outcome is 5",
                ),
                spec(
                    o,
                    "received_follow_up",
                    "Mottatt oppfølging",
                    K::CodeSet,
                    codes::FOLLOW_UP_SERVICES,
                    followed,
                    "at least one; 7 (none) excludes the others; empty unless outcome is 5",
                ),
                spec(
                    o,
                    "self_rated_life_situation",
                    "Egenvurdert livssituasjon",
                    K::Integer(codes::SCALE_1_5),
                    NONE,
                    followed,
                    "empty unless outcome is 5",
                ),
            ]);
        }
    }
    v
}

/// Every field: the header fields, then each form's.
pub fn catalogue() -> Vec<FieldSpec> {
    let mut v = header_fields();
    for kind in FormKind::ALL {
        v.extend(form_fields(kind));
    }
    v
}

/// The choices the register made on its own (rendered into the dictionary).
const CHOICES: &[&str] = &[
    "`sex` codes are 1 male, 2 female, 9 unknown / not stated; 0 is refused. Sex is given by the registrar and \
     never derived from the national id.",
    "`birth_year` must equal the year in the national id when the id carries a date (all kinds but FH), with \
     the century from the individual number by the standard table for D- and H-numbers too (docs/domain.md, \
     National ids: `01410199935` is born in 2001, `70019950032` in 1899). Birth years go back to 1854, the \
     first year a national id can encode, so every valid dated id can be registered.",
    "The national id must be exactly 11 digits with no spaces. A number that is both a D- and an H-number, and \
     synthetic test numbers, are refused. Under the 2032 rule (a switch in the code, off today) the first \
     weighted sum including k1 may leave remainder 0, 1, 2 or 3; k2 is checked as before.",
    "`lives_with` has a code list of the register's own.",
    "`in_lar` is yes/no (the clinician knows); `feedback_tool_used` and `contact_consent_1y` are yes/no; the \
     other yes/no/unknown fields allow 3 unknown.",
    "List fields (`substance_diagnoses`, `psychiatric_diagnoses`, `somatic_diagnoses`, `agreed_follow_up`, \
     `received_follow_up`, `substance_use.substances`) are missing when null; an empty list is an answer \
     (none). A code or substance listed twice is an error even in a draft.",
    "ICD-10 codes are written in upper case with a dot: a letter, two digits, and optionally a dot and one or \
     two digits (`F10.2`).",
    "In the substance-use block, `route` is required only for substances used in the last 30 days, and \
     `injected_30d` must be yes when such a substance has route 1 (injected). `debut_age` exists in the \
     baseline only; elsewhere it is refused (`not_applicable`).",
    "Part 2 of the baseline (answered by the patient) is required for completion, except the AUDIT and DUDIT \
     scores.",
    "A discharge that was broken off (ending 3) does not need `satisfaction`; a discharge with ending 2 \
     (transferred outside the register, no follow-up) does not need `contact_consent_1y`.",
    "A follow-up with outcome 6 or 7 must leave the answer fields empty. Completing a follow-up also needs \
     `contact_consent_1y` yes on the discharge.",
    "Pathway start dates before 2000-01-01 are refused. A transfer must not be dated before the previous \
     transfer. New baselines, measurements and discharges may be started only on an active pathway, a \
     follow-up only after ending 3 or 4.",
    "Reopening a completed follow-up sets the status back to the discharge's ending; reopening a completed \
     discharge sets it back to 1 (active) and is refused while the follow-up is completed.",
];

/// Escape text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn render_codes(list: CodeList) -> String {
    list.iter().map(|(c, l)| format!("{c} = {l}")).collect::<Vec<_>>().join("; ")
}

fn render_table(out: &mut String, fields: &[FieldSpec]) {
    out.push_str("| field | label (nb) | type | codes | required on completion | rules |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for f in fields {
        let kind = f.kind.describe();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            f.name,
            cell(f.label_nb),
            cell(&kind),
            cell(&render_codes(f.codes)),
            cell(&f.required_on_completion.describe()),
            cell(f.rules),
        );
    }
}

/// The data dictionary in Markdown: docs/data-dictionary.md is exactly this text.
pub fn data_dictionary_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Data dictionary\n\n");
    out.push_str(
        "<!-- Generated from the field catalogue in crates/domain/src/forms/catalogue.rs by \
         `domain::forms::data_dictionary_markdown()`. Do not edit by hand: a test in `domain` fails when this \
         file differs; run `UPDATE_DATA_DICTIONARY=1 cargo test -p domain data_dictionary` to rewrite it. -->\n\n",
    );
    out.push_str(
        "Every field the register records, with its Norwegian label, type, code list and rules. Codes are small \
         integers, stable forever (a retired code is never reused). `unknown` is an answer; a field that was \
         never answered is missing (null) and counts against completeness.\n\n",
    );
    out.push_str(
        "Every form also has: pathway, kind, unit, status (draft / completed), version, and who and when \
         created, updated, completed and reopened it. A draft is checked for types, ranges and code lists only; \
         completing checks every rule below. Only completed forms count in reports. A pathway has at most one \
         baseline, one discharge and one follow-up; measurement points repeat. Field names in validation errors \
         are the JSON paths, dotted for nested values (`substance_use.substances.0.route`).\n\n",
    );
    out.push_str("## The register's own choices\n\n");
    for c in CHOICES {
        let _ = writeln!(out, "- {c}");
    }
    out.push('\n');
    out.push_str("## Patient\n\n");
    let header = header_fields();
    render_table(&mut out, &header.iter().copied().filter(|f| f.owner == FieldOwner::Patient).collect::<Vec<_>>());
    out.push_str("\n## Pathway\n\n");
    render_table(&mut out, &header.iter().copied().filter(|f| f.owner == FieldOwner::Pathway).collect::<Vec<_>>());
    for kind in FormKind::ALL {
        let _ = write!(out, "\n## Form `{}` ({})\n\n", kind.as_str(), kind.label_nb());
        render_table(&mut out, &form_fields(kind));
    }
    out.push_str("\n## Research extracts\n\n");
    out.push_str(
        "The variables a research project may be approved for (docs/research.md). Each row of an extract is one \
         pathway; the column `patient` (the project's own pseudonym of the patient) always comes first. The \
         codebook of each delivery says the type and the generalisation level each column was delivered at.\n\n",
    );
    out.push_str("| variable | description | codes | quasi-identifier |\n|---|---|---|---|\n");
    for v in crate::research::Variable::ALL {
        let qi = crate::research::QUASI_IDENTIFIERS
            .iter()
            .find(|q| q.variable == v)
            .map(|q| q.ladder.level_names()[1..].join(" → "))
            .unwrap_or_default();
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", v.as_str(), v.description(), v.codes(), qi);
    }
    out
}

/// When a field (or the block of fields under a name) of a form applies at all: the structured
/// form of the dependencies that [`Required::When`] states in words. The FHIR Questionnaire's
/// `enableWhen` is generated from it; a field that does not apply stays empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    /// The field it depends on, a code field of the same form (for fields of list entries, a
    /// field of the same entry: `substance_use.substances[].frequency_30d`).
    pub on: &'static str,
    /// The codes that enable it (`in`), or that disable it (`!in`).
    pub codes: &'static [i16],
    /// `true`: enabled when the other field has one of `codes`; `false`: when it has none of them.
    pub is_in: bool,
}

/// The condition under which `name` applies on a form of `kind` (`None`: always). `name` may be
/// a field of the catalogue or a block (`substance_use`) whose fields all share the condition.
pub fn enabled_when(kind: FormKind, name: &str) -> Option<Condition> {
    let when = |on, codes, is_in| Some(Condition { on, codes, is_in });
    match (kind, name) {
        (_, "substance_use.substances[].route") => {
            when("substance_use.substances[].frequency_30d", &[codes::NOT_USED], false)
        }
        (FormKind::Baseline, "lar_medication") => when("in_lar", &[codes::YES], true),
        (FormKind::Discharge, "municipality_informed") => when("ending", &[3], true),
        (FormKind::Discharge, "satisfaction") => when("ending", &[2, 4], true),
        (FormKind::Discharge, "contact_consent_1y") => when("ending", &[3, 4], true),
        (
            FormKind::FollowUp,
            "substance_use" | "housing" | "occupation" | "received_follow_up" | "self_rated_life_situation",
        ) => when("outcome", &[5], true),
        _ => None,
    }
}

/// The condition of a field itself or of the block it is in (`substance_use.main_substance` is
/// in the block `substance_use`).
pub fn applies_when(kind: FormKind, name: &str) -> Option<Condition> {
    enabled_when(kind, name).or_else(|| name.split_once('.').and_then(|(block, _)| enabled_when(kind, block)))
}
