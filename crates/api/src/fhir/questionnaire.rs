//! `Questionnaire`, `CodeSystem` and `ValueSet`, generated from the domain's form catalogue
//! (`domain::forms::catalogue`): one Questionnaire per form kind, one CodeSystem per code list
//! and one ValueSet per list a field takes its answers from. Nothing here is written by hand but
//! the ids and titles of the code lists; a test fails when the catalogue and the resources drift.
//!
//! Item structure: a field of the catalogue is an item whose `linkId` is its JSON name
//! (`event_date`, `substance_use.main_substance`, `substance_use.substances[].route`); the block
//! `substance_use` is a group item, and the list `substance_use.substances` a repeating group.
//! The patient's items (the questions of the patient channel) carry the extension
//! [`PATIENT_PART_EXTENSION`] with `valueBoolean` true.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::forms::catalogue::{self, FieldKind, FieldSpec, Required};
use domain::forms::codes::{self, CodeList};
use domain::forms::FormKind;
use domain::orders::{question_groups, Questionnaire as PatientQuestionnaire};
use fhirbolt::model::r4::resources::{
    CodeSystem, CodeSystemConcept, CodeSystemConceptDesignation, Questionnaire, QuestionnaireItem,
    QuestionnaireItemEnableWhen, QuestionnaireItemEnableWhenAnswer, ValueSet, ValueSetCompose, ValueSetComposeInclude,
    ValueSetComposeIncludeConcept,
};
use fhirbolt::model::r4::types::{Boolean, Canonical, Code, Coding, Extension, ExtensionValue, Integer, Uri};
use fhirbolt::model::r4::Resource;

use super::{respond, searchset, SearchQuery, CANONICAL, PATIENT_PART_EXTENSION};
use crate::error::ApiError;

/// A code list as FHIR sees it: the ValueSet id, the CodeSystem id it draws from, its title and
/// its codes (the catalogue's constant).
#[derive(Debug, Clone, Copy)]
pub struct CodeListDef {
    pub value_set: &'static str,
    pub code_system: &'static str,
    pub title: &'static str,
    pub codes: CodeList,
}

const fn def(value_set: &'static str, code_system: &'static str, title: &'static str, codes: CodeList) -> CodeListDef {
    CodeListDef { value_set, code_system, title, codes }
}

/// Every code list of the forms and the patient. `yes-no` is the ValueSet of codes 1 and 2 of
/// the CodeSystem `yes-no-unknown` (the same codes, without "unknown").
pub const CODE_LISTS: &[CodeListDef] = &[
    def("yes-no-unknown", "yes-no-unknown", "Ja / nei / ukjent", codes::YES_NO_UNKNOWN),
    def("yes-no", "yes-no-unknown", "Ja / nei", codes::YES_NO),
    def("substance", "substance", "Rusmiddel", codes::SUBSTANCES),
    def("frequency-30d", "frequency-30d", "Hyppighet siste 30 dager", codes::FREQUENCY_30D),
    def("route", "route", "Inntaksmåte", codes::ROUTE),
    def("housing", "housing", "Bosituasjon", codes::HOUSING),
    def("occupation", "occupation", "Hovedbeskjeftigelse", codes::OCCUPATION),
    def("lives-with", "lives-with", "Bor sammen med", codes::LIVES_WITH),
    def("lar-medication", "lar-medication", "LAR-legemiddel", codes::LAR_MEDICATION),
    def("needs-followed-up", "needs-followed-up", "Pasientens behov fulgt opp", codes::NEEDS_FOLLOWED_UP),
    def("follow-up-services", "follow-up-services", "Oppfølgingstjenester", codes::FOLLOW_UP_SERVICES),
    def("discharge-ending", "discharge-ending", "Avslutningsårsak", codes::ENDING),
    def("follow-up-outcome", "follow-up-outcome", "Resultat av ettårsoppfølgingen", codes::OUTCOME),
    def("treatment-level", "treatment-level", "Behandlingsnivå", codes::TREATMENT_LEVEL),
    def("treatment-status", "treatment-status", "Behandlingsstatus", codes::TREATMENT_STATUS),
    def("sex", "sex", "Kjønn", codes::SEX),
];

/// The definition of a catalogue code list (by its codes and labels).
pub fn code_list(list: CodeList) -> Option<&'static CodeListDef> {
    CODE_LISTS.iter().find(|d| d.codes == list)
}

/// The canonical URL of a CodeSystem of the register.
pub fn code_system_url(id: &str) -> String {
    format!("{CANONICAL}/CodeSystem/{id}")
}

pub fn value_set_url(id: &str) -> String {
    format!("{CANONICAL}/ValueSet/{id}")
}

pub fn questionnaire_url(kind: FormKind) -> String {
    format!("{CANONICAL}/Questionnaire/{}", kind.as_str())
}

/// The labels of the blocks that are groups without being fields.
fn block_label(name: &str) -> &'static str {
    match name {
        "substance_use" => "Rusmiddelbruk",
        _ => "",
    }
}

/// The `linkId` of the item an item sits in: `substance_use.substances[].route` is in
/// `substance_use.substances`, `substance_use.main_substance` in `substance_use`.
pub(super) fn parent_of(name: &str) -> Option<&str> {
    match name.rsplit_once("[].") {
        Some((list, _)) => Some(list),
        None => name.rsplit_once('.').map(|(block, _)| block),
    }
}

fn int_extension(url: &str, v: i16) -> Extension {
    Extension {
        url: url.into(),
        value: Some(ExtensionValue::Integer(Integer::from(i32::from(v)))),
        ..Default::default()
    }
}

/// The coding of a code in a list.
pub fn coding(def: &CodeListDef, code: i16) -> Coding {
    Coding {
        system: Some(Uri::from(code_system_url(def.code_system))),
        code: Some(Code::from(code.to_string())),
        display: def.codes.iter().find(|(c, _)| *c == code).map(|(_, l)| (*l).into()),
        ..Default::default()
    }
}

fn enable_when(kind: FormKind, name: &str, fields: &[FieldSpec]) -> (Vec<QuestionnaireItemEnableWhen>, Option<Code>) {
    let Some(cond) = catalogue::enabled_when(kind, name) else { return (Vec::new(), None) };
    let Some(def) = fields.iter().find(|f| f.name == cond.on).and_then(|f| code_list(f.codes)) else {
        return (Vec::new(), None);
    };
    let when: Vec<_> = cond
        .codes
        .iter()
        .map(|c| QuestionnaireItemEnableWhen {
            question: cond.on.into(),
            operator: if cond.is_in { "=" } else { "!=" }.into(),
            answer: QuestionnaireItemEnableWhenAnswer::Coding(Box::new(coding(def, *c))),
            ..Default::default()
        })
        .collect();
    let behavior = (when.len() > 1).then(|| if cond.is_in { "any" } else { "all" }.into());
    (when, behavior)
}

/// The item of one catalogue field (without its children).
fn field_item(kind: FormKind, f: &FieldSpec, fields: &[FieldSpec], patient_part: &[&str]) -> QuestionnaireItem {
    let (type_, repeats) = match f.kind {
        FieldKind::Date => ("date", false),
        FieldKind::Year | FieldKind::Integer(_) => ("integer", false),
        FieldKind::Code => ("choice", false),
        FieldKind::CodeSet => ("choice", true),
        FieldKind::Icd10(_) | FieldKind::NationalId | FieldKind::AreaCode => ("string", false),
        FieldKind::Icd10List(_) => ("string", true),
        FieldKind::List => ("group", true),
    };
    let mut extension = Vec::new();
    if let FieldKind::Integer(range) = f.kind {
        extension.push(int_extension("http://hl7.org/fhir/StructureDefinition/minValue", range.min));
        extension.push(int_extension("http://hl7.org/fhir/StructureDefinition/maxValue", range.max));
    }
    if patient_part.contains(&f.name) {
        extension.push(Extension {
            url: PATIENT_PART_EXTENSION.into(),
            value: Some(ExtensionValue::Boolean(Boolean::from(true))),
            ..Default::default()
        });
    }
    let (enable_when, enable_behavior) = enable_when(kind, f.name, fields);
    QuestionnaireItem {
        extension,
        link_id: f.name.into(),
        text: Some(f.label_nb.into()),
        r#type: type_.into(),
        enable_when,
        enable_behavior,
        required: Some(Boolean::from(!matches!(f.required_on_completion, Required::Never))),
        repeats: repeats.then(|| Boolean::from(true)),
        answer_value_set: code_list(f.codes).map(|d| Canonical::from(value_set_url(d.value_set))),
        ..Default::default()
    }
}

/// The Questionnaire of a form kind, generated from the catalogue.
pub fn questionnaire(kind: FormKind) -> Questionnaire {
    let fields = catalogue::form_fields(kind);
    let patient_part: Vec<&str> = PatientQuestionnaire::of_draft(kind)
        .map(|q| question_groups(q).iter().flat_map(|g| g.fields.iter().copied()).collect())
        .unwrap_or_default();
    // (linkId, parent linkId, item) in the order of the form; blocks are made on first use.
    let mut nodes: Vec<(String, Option<String>, QuestionnaireItem)> = Vec::new();
    for f in &fields {
        let parent = parent_of(f.name);
        if let Some(block) = parent.filter(|p| !fields.iter().any(|o| o.name == *p)) {
            if !nodes.iter().any(|(id, _, _)| id == block) {
                let (enable_when, enable_behavior) = enable_when(kind, block, &fields);
                let group = QuestionnaireItem {
                    link_id: block.into(),
                    text: Some(block_label(block).into()),
                    r#type: "group".into(),
                    enable_when,
                    enable_behavior,
                    ..Default::default()
                };
                nodes.push((block.to_owned(), None, group));
            }
        }
        nodes.push((f.name.to_owned(), parent.map(str::to_owned), field_item(kind, f, &fields, &patient_part)));
    }
    fn children(nodes: &[(String, Option<String>, QuestionnaireItem)], parent: Option<&str>) -> Vec<QuestionnaireItem> {
        nodes
            .iter()
            .filter(|(_, p, _)| p.as_deref() == parent)
            .map(|(id, _, item)| {
                let mut item = item.clone();
                item.item = children(nodes, Some(id));
                item
            })
            .collect()
    }
    let name: String = kind.as_str().split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect();
    Questionnaire {
        id: Some(kind.as_str().into()),
        url: Some(questionnaire_url(kind).into()),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        name: Some(format!("Rusreg{name}").into()),
        title: Some(kind.label_nb().into()),
        status: "active".into(),
        subject_type: vec!["EpisodeOfCare".into()],
        publisher: Some("rusreg".into()),
        description: Some(
            "Generated from the register's form catalogue (docs/data-dictionary.md). `required` means required to \
             complete the form; a draft may leave any item out."
                .into(),
        ),
        item: children(&nodes, None),
        ..Default::default()
    }
}

/// The CodeSystems: one per distinct `code_system` of [`CODE_LISTS`], with the widest list.
pub fn code_systems() -> Vec<CodeSystem> {
    let mut out: Vec<CodeSystem> = Vec::new();
    for d in CODE_LISTS {
        if out.iter().any(|c| c.id.as_ref().and_then(|i| i.value.as_deref()) == Some(d.code_system)) {
            continue;
        }
        let widest =
            CODE_LISTS.iter().filter(|o| o.code_system == d.code_system).max_by_key(|o| o.codes.len()).unwrap_or(d);
        let nb = codes::labels_nb(widest.codes);
        out.push(CodeSystem {
            id: Some(d.code_system.into()),
            url: Some(code_system_url(d.code_system).into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            name: Some(d.code_system.replace('-', "_").into()),
            title: Some(widest.title.into()),
            status: "active".into(),
            case_sensitive: Some(Boolean::from(true)),
            value_set: Some(value_set_url(widest.value_set).into()),
            content: "complete".into(),
            count: Some(u32::try_from(widest.codes.len()).unwrap_or(u32::MAX).into()),
            concept: widest
                .codes
                .iter()
                .map(|(code, label)| CodeSystemConcept {
                    code: code.to_string().into(),
                    display: Some((*label).into()),
                    designation: nb
                        .and_then(|nb| nb.iter().find(|(c, _)| c == code))
                        .map(|(_, l)| CodeSystemConceptDesignation {
                            language: Some("nb".into()),
                            value: (*l).into(),
                            ..Default::default()
                        })
                        .into_iter()
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    out
}

/// The ValueSets: one per entry of [`CODE_LISTS`], each the listed codes of its CodeSystem.
pub fn value_sets() -> Vec<ValueSet> {
    CODE_LISTS
        .iter()
        .map(|d| ValueSet {
            id: Some(d.value_set.into()),
            url: Some(value_set_url(d.value_set).into()),
            version: Some(env!("CARGO_PKG_VERSION").into()),
            name: Some(d.value_set.replace('-', "_").into()),
            title: Some(d.title.into()),
            status: "active".into(),
            compose: Some(ValueSetCompose {
                include: vec![ValueSetComposeInclude {
                    system: Some(code_system_url(d.code_system).into()),
                    concept: d
                        .codes
                        .iter()
                        .map(|(c, l)| ValueSetComposeIncludeConcept {
                            code: c.to_string().into(),
                            display: Some((*l).into()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect()
}

/// The FHIRPath expression of the item a field of the JSON API names, in a
/// QuestionnaireResponse: `substance_use.substances.0.route` is
/// `QuestionnaireResponse.item.where(linkId='substance_use').item.where(linkId='substance_use.substances')[0].item.where(linkId='substance_use.substances[].route')`,
/// `agreed_follow_up.1` the second answer of `agreed_follow_up`. A field that is already an
/// expression passes as it is; `form` (a rule on the whole form) is the resource.
pub fn response_expression(field: &str) -> Option<String> {
    if field.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Some(field.to_owned());
    }
    if field == "form" || field == "body" {
        return Some("QuestionnaireResponse".into());
    }
    let lists: Vec<&str> = FormKind::ALL
        .into_iter()
        .flat_map(catalogue::form_fields)
        .filter(|f| f.kind == FieldKind::List)
        .map(|f| f.name)
        .collect();
    let mut expr = String::from("QuestionnaireResponse");
    let mut name = String::new();
    for seg in field.split('.') {
        if let Ok(i) = seg.parse::<usize>() {
            if lists.contains(&name.as_str()) {
                expr.push_str(&format!("[{i}]"));
                name.push_str("[]");
            } else {
                expr.push_str(&format!(".answer[{i}]"));
            }
            continue;
        }
        if !seg.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return None;
        }
        name = if name.is_empty() { seg.to_owned() } else { format!("{name}.{seg}") };
        expr.push_str(&format!(".item.where(linkId='{name}')"));
    }
    Some(expr)
}

fn kind_of_id(id: &str) -> Option<FormKind> {
    FormKind::parse(id)
}

fn read_id<T>(found: Option<T>) -> Result<T, ApiError> {
    found.ok_or(ApiError::NotFound)
}

/// Keeps the resources a search with `_id` and `url` selects.
fn select(query: &SearchQuery, id: &str, url: &str) -> bool {
    query.get("_id").is_none_or(|v| v == id) && query.get("url").is_none_or(|v| v == url)
}

fn search_answer(
    path: &str,
    query: SearchQuery,
    all: Vec<(String, String, Resource)>,
) -> Result<HttpResponse, ApiError> {
    let matching: Vec<(String, Resource)> = all
        .into_iter()
        .filter(|(id, url, _)| select(&query, id, url))
        .map(|(id, _, r)| (format!("{path}/{id}"), r))
        .collect();
    let (total, page) = query.page_of(matching);
    respond(StatusCode::OK, &searchset(path, &query, total, page))
}

pub async fn read_questionnaire(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let kind = read_id(kind_of_id(&id))?;
    respond(StatusCode::OK, &questionnaire(kind))
}

pub async fn search_questionnaires(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("Questionnaire"))?;
    let all = FormKind::ALL
        .into_iter()
        .map(|k| (k.as_str().to_owned(), questionnaire_url(k), Resource::Questionnaire(Box::new(questionnaire(k)))))
        .collect();
    search_answer("/fhir/Questionnaire", query, all)
}

pub async fn read_code_system(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let found =
        code_systems().into_iter().find(|c| c.id.as_ref().and_then(|i| i.value.as_deref()) == Some(id.as_str()));
    respond(StatusCode::OK, &read_id(found)?)
}

pub async fn search_code_systems(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("CodeSystem"))?;
    let all = code_systems()
        .into_iter()
        .map(|c| {
            let id = c.id.as_ref().and_then(|i| i.value.clone()).unwrap_or_default();
            (id.clone(), code_system_url(&id), Resource::CodeSystem(Box::new(c)))
        })
        .collect();
    search_answer("/fhir/CodeSystem", query, all)
}

pub async fn read_value_set(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let found = value_sets().into_iter().find(|c| c.id.as_ref().and_then(|i| i.value.as_deref()) == Some(id.as_str()));
    respond(StatusCode::OK, &read_id(found)?)
}

pub async fn search_value_sets(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let query = SearchQuery::parse(req.query_string(), &super::capability::search_params("ValueSet"))?;
    let all = value_sets()
        .into_iter()
        .map(|c| {
            let id = c.id.as_ref().and_then(|i| i.value.clone()).unwrap_or_default();
            (id.clone(), value_set_url(&id), Resource::ValueSet(Box::new(c)))
        })
        .collect();
    search_answer("/fhir/ValueSet", query, all)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/Questionnaire", web::get().to(search_questionnaires))
        .route("/Questionnaire/{id}", web::get().to(read_questionnaire))
        .route("/CodeSystem", web::get().to(search_code_systems))
        .route("/CodeSystem/{id}", web::get().to(read_code_system))
        .route("/ValueSet", web::get().to(search_value_sets))
        .route("/ValueSet/{id}", web::get().to(read_value_set));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flatten(items: &[QuestionnaireItem], out: &mut Vec<QuestionnaireItem>) {
        for i in items {
            out.push(i.clone());
            flatten(&i.item, out);
        }
    }

    fn text(s: &Option<fhirbolt::model::r4::types::String>) -> Option<&str> {
        s.as_ref().and_then(|s| s.value.as_deref())
    }

    /// The Questionnaires and the catalogue do not drift: every field is exactly one item with
    /// its label, type, required flag, repeats and value set; every other item is a block the
    /// catalogue's names imply; every value set holds exactly the catalogue's codes.
    #[test]
    fn questionnaires_follow_the_catalogue() {
        for kind in FormKind::ALL {
            let q = questionnaire(kind);
            let mut items = Vec::new();
            flatten(&q.item, &mut items);
            let fields = catalogue::form_fields(kind);
            for f in &fields {
                let found: Vec<_> = items.iter().filter(|i| i.link_id.value.as_deref() == Some(f.name)).collect();
                assert_eq!(found.len(), 1, "{kind} {}: one item", f.name);
                let item = found[0];
                assert_eq!(text(&item.text), Some(f.label_nb), "{kind} {}", f.name);
                let required = item.required.as_ref().and_then(|b| b.value) == Some(true);
                assert_eq!(required, f.required_on_completion != Required::Never, "{kind} {}", f.name);
                let repeats = item.repeats.as_ref().and_then(|b| b.value) == Some(true);
                assert_eq!(
                    repeats,
                    matches!(f.kind, FieldKind::CodeSet | FieldKind::Icd10List(_) | FieldKind::List),
                    "{kind} {}",
                    f.name
                );
                if matches!(f.kind, FieldKind::Code | FieldKind::CodeSet) {
                    let vs = item.answer_value_set.as_ref().and_then(|c| c.value.clone());
                    let def = code_list(f.codes).unwrap_or_else(|| panic!("{kind} {}: no ValueSet", f.name));
                    assert_eq!(vs, Some(value_set_url(def.value_set)));
                    let set = value_sets()
                        .into_iter()
                        .find(|v| v.id.as_ref().and_then(|i| i.value.as_deref()) == Some(def.value_set));
                    let codes: Vec<String> = set
                        .and_then(|s| s.compose)
                        .map(|c| c.include[0].concept.iter().filter_map(|c| c.code.value.clone()).collect())
                        .unwrap_or_default();
                    let expected: Vec<String> = f.codes.iter().map(|(c, _)| c.to_string()).collect();
                    assert_eq!(codes, expected, "{kind} {}", f.name);
                }
                if catalogue::enabled_when(kind, f.name).is_some() {
                    assert!(!item.enable_when.is_empty(), "{kind} {}: enableWhen", f.name);
                }
            }
            for item in &items {
                let id = item.link_id.value.as_deref().unwrap_or_default();
                let is_field = fields.iter().any(|f| f.name == id);
                let is_block = fields.iter().any(|f| parent_of(f.name) == Some(id));
                assert!(is_field || is_block, "{kind}: item {id} is not in the catalogue");
                if !is_field {
                    assert_eq!(item.r#type.value.as_deref(), Some("group"));
                    assert!(!item.item.is_empty());
                }
            }
        }
    }

    /// The patient's items are exactly the questions of the patient channel.
    #[test]
    fn patient_part_is_marked() {
        for kind in FormKind::ALL {
            let mut items = Vec::new();
            flatten(&questionnaire(kind).item, &mut items);
            let marked: Vec<String> = items
                .iter()
                .filter(|i| i.extension.iter().any(|e| e.url == PATIENT_PART_EXTENSION))
                .filter_map(|i| i.link_id.value.clone())
                .collect();
            let expected: Vec<String> = PatientQuestionnaire::of_draft(kind)
                .map(|q| question_groups(q).iter().flat_map(|g| g.fields.iter().map(|f| f.to_string())).collect())
                .unwrap_or_default();
            let (mut a, mut b) = (marked, expected);
            a.sort();
            b.sort();
            assert_eq!(a, b, "{kind}");
        }
    }

    #[test]
    fn every_code_list_of_the_catalogue_has_a_value_set() {
        let mut all = catalogue::header_fields();
        for kind in FormKind::ALL {
            all.extend(catalogue::form_fields(kind));
        }
        for f in all.iter().filter(|f| matches!(f.kind, FieldKind::Code | FieldKind::CodeSet)) {
            assert!(code_list(f.codes).is_some(), "{}: add its code list to CODE_LISTS", f.name);
        }
    }

    #[test]
    fn field_names_become_item_expressions() {
        assert_eq!(
            response_expression("event_date").as_deref(),
            Some("QuestionnaireResponse.item.where(linkId='event_date')")
        );
        assert_eq!(
            response_expression("substance_use.substances.0.route").as_deref(),
            Some(
                "QuestionnaireResponse.item.where(linkId='substance_use').item.where(linkId='substance_use.substances')\
                 [0].item.where(linkId='substance_use.substances[].route')"
            )
        );
        assert_eq!(
            response_expression("agreed_follow_up.1").as_deref(),
            Some("QuestionnaireResponse.item.where(linkId='agreed_follow_up').answer[1]")
        );
        assert_eq!(response_expression("form").as_deref(), Some("QuestionnaireResponse"));
    }
}
