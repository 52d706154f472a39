//! The organisation tree (nation → region → legal entity → unit) and its identifiers:
//! organisation numbers with their mod-11 check digit, RESH-ids, node kinds and link rules.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{DomainError, FieldError};

/// Internal id of a node of the organisation tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub i64);

/// The four levels of the tree, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Nation,
    Region,
    LegalEntity,
    Unit,
}

impl NodeKind {
    pub const ALL: [NodeKind; 4] = [Self::Nation, Self::Region, Self::LegalEntity, Self::Unit];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nation => "nation",
            Self::Region => "region",
            Self::LegalEntity => "legal_entity",
            Self::Unit => "unit",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// The kind a node of this kind must hang under (`None` for the nation).
    pub fn parent_kind(self) -> Option<NodeKind> {
        match self {
            Self::Nation => None,
            Self::Region => Some(Self::Nation),
            Self::LegalEntity => Some(Self::Region),
            Self::Unit => Some(Self::LegalEntity),
        }
    }
}

/// A Norwegian organisation number: nine digits, the ninth a mod-11 check digit with weights
/// 3 2 7 6 5 4 3 2 (remainder 0 → 0, a computed check digit of 10 → invalid).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OrgNumber(String);

impl OrgNumber {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::check(raw).map_err(|reason| DomainError::invalid("org_number", "format", reason))
    }

    fn check(raw: &str) -> Result<Self, &'static str> {
        let digits: Vec<u32> = raw.chars().filter_map(|c| c.to_digit(10)).collect();
        if raw.len() != 9 || digits.len() != 9 {
            return Err("an organisation number has exactly nine digits");
        }
        const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
        let sum: u32 = WEIGHTS.iter().zip(&digits).map(|(w, d)| w * d).sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            10 => return Err("the check digit does not match"),
            c => c,
        };
        if check != digits[8] {
            return Err("the check digit does not match");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A RESH-id: the permanent running number of a unit in the national register of units.
/// No check digit; a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ReshId(i64);

impl ReshId {
    pub fn parse(raw: i64) -> Result<Self, DomainError> {
        if !(1..=999_999_999).contains(&raw) {
            return Err(DomainError::invalid(
                "resh_id",
                "range",
                "a RESH-id is a positive number of at most nine digits",
            ));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A node to be created: validated name, kind and the identifiers its kind needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNode {
    pub kind: NodeKind,
    pub name: String,
    pub org_number: Option<OrgNumber>,
    pub resh_id: Option<ReshId>,
    pub is_demo: bool,
}

impl NewNode {
    /// Validates a new node: every failing field at once.
    pub fn parse(
        kind: &str,
        name: &str,
        org_number: Option<&str>,
        resh_id: Option<i64>,
        is_demo: bool,
    ) -> Result<Self, DomainError> {
        let mut errors = Vec::new();
        let kind = match NodeKind::parse(kind) {
            Some(NodeKind::Nation) => {
                errors.push(FieldError::new("kind", "code_list", "there is only one nation"));
                None
            }
            Some(k) => Some(k),
            None => {
                errors.push(FieldError::new("kind", "code_list", "kind is one of region, legal_entity, unit"));
                None
            }
        };
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
            errors.push(FieldError::new(
                "name",
                "length",
                "name must have 1 to 200 characters and no control characters",
            ));
        }
        let org_number = match org_number.map(OrgNumber::check).transpose() {
            Ok(n) => n,
            Err(reason) => {
                errors.push(FieldError::new("org_number", "format", reason));
                None
            }
        };
        let resh_id = match resh_id.map(ReshId::parse).transpose() {
            Ok(r) => r,
            Err(DomainError::Invalid(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e),
        };
        match kind {
            Some(NodeKind::Region | NodeKind::LegalEntity) if org_number.is_none() && errors.is_empty() => {
                errors.push(FieldError::new(
                    "org_number",
                    "required",
                    "regions and legal entities need an organisation number",
                ));
            }
            Some(NodeKind::Unit) if resh_id.is_none() && errors.is_empty() => {
                errors.push(FieldError::new("resh_id", "required", "units need a RESH-id"));
            }
            _ => {}
        }
        DomainError::check(errors)?;
        let kind = kind.ok_or_else(|| DomainError::invalid("kind", "code_list", "unknown kind"))?;
        Ok(Self { kind, name: name.to_owned(), org_number, resh_id, is_demo })
    }
}

/// Checks that a link child → parent respects the levels of the tree and that its validity
/// period is well-formed.
pub fn validate_link(
    child: NodeKind,
    parent: NodeKind,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    if child.parent_kind() != Some(parent) {
        errors.push(FieldError::new(
            "parent_id",
            "hierarchy",
            format!(
                "a {} must hang under a {}",
                child.as_str(),
                child.parent_kind().map_or("nothing", NodeKind::as_str)
            ),
        ));
    }
    if valid_to.is_some_and(|to| to <= valid_from) {
        errors.push(FieldError::new("valid_to", "date_order", "valid_to must be after valid_from"));
    }
    DomainError::check(errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_number_accepts_every_trust_of_the_domain() {
        for n in [
            "883658752",
            "983974880",
            "983974899",
            "983974910",
            "983974929",
            "983658776",
            "983974791",
            "883974832",
            "997005562",
            "983658725",
            "983974678",
            "983974694",
            "983974724",
            "983974732",
            "991324968",
            "983971636",
            "993467049",
            "983975259",
            "983971709",
            "983975267",
            "983971768",
            "983975240",
            "894166762",
        ] {
            assert!(OrgNumber::parse(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn org_number_rejects_wrong_check_digit_and_wrong_length() {
        assert!(OrgNumber::parse("983974881").is_err());
        assert!(OrgNumber::parse("98397488").is_err());
        assert!(OrgNumber::parse("98397488a").is_err());
        assert!(OrgNumber::parse("9839748800").is_err());
    }

    #[test]
    fn new_node_lists_every_failing_field() {
        let Err(DomainError::Invalid(errors)) = NewNode::parse("legal_entity", " ", Some("123"), Some(-1), false)
        else {
            panic!("expected invalid");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "org_number", "resh_id"]);
    }

    #[test]
    fn new_node_requires_identifiers_by_kind() {
        assert!(NewNode::parse("unit", "Avd", None, None, true).is_err());
        assert!(NewNode::parse("unit", "Avd", None, Some(4_000_001), true).is_ok());
        assert!(NewNode::parse("region", "Helse Nord RHF", None, None, false).is_err());
        assert!(NewNode::parse("nation", "Norge", None, None, false).is_err());
    }

    #[test]
    fn links_follow_the_levels() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
        assert!(validate_link(NodeKind::Unit, NodeKind::LegalEntity, d, None).is_ok());
        assert!(validate_link(NodeKind::Unit, NodeKind::Region, d, None).is_err());
        assert!(validate_link(NodeKind::Region, NodeKind::Nation, d, Some(d)).is_err());
    }
}
