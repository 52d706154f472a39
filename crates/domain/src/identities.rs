//! Sign-in through an OpenID provider (HelseID), the rules that need no database: what a linked
//! identity and a registered client look like, the security level identifiable data needs, and
//! which organisation numbers a record system's token may carry (docs/operations.md, OpenID
//! Connect).

use crate::{DomainError, FieldError};

/// The security level (HelseID's `helseid://claims/identity/security_level`, eIDAS "high") a
/// person's sign-in must have to read or write identifiable data.
pub const IDENTIFIABLE_DATA_LEVEL: u8 = 4;

/// The longest issuer and subject kept.
pub const MAX_ISSUER_CHARS: usize = 500;
pub const MAX_SUBJECT_CHARS: usize = 500;
/// The longest client id kept.
pub const MAX_CLIENT_ID_CHARS: usize = 200;

fn text_field(field: &str, value: &str, max: usize) -> Option<FieldError> {
    let n = value.chars().count();
    let printable = value.chars().all(|c| !c.is_control() && !c.is_whitespace());
    (n == 0 || n > max || !printable)
        .then(|| FieldError::new(field, "format", format!("1 to {max} characters, no spaces or control characters")))
}

/// Whether `raw` is written as a national id: 11 digits. The provider vouches for the person;
/// rusreg only keeps the keyed hash, so the check digits are not checked (test identities of the
/// provider's test environment are synthetic).
pub fn is_national_id_form(raw: &str) -> bool {
    raw.len() == 11 && raw.bytes().all(|b| b.is_ascii_digit())
}

/// Checks an identity to link: an issuer, and a subject or a national id (or both). The error
/// never echoes the national id.
pub fn validate_identity(issuer: &str, subject: Option<&str>, national_id: Option<&str>) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    errors.extend(text_field("issuer", issuer, MAX_ISSUER_CHARS));
    if let Some(s) = subject {
        errors.extend(text_field("subject", s, MAX_SUBJECT_CHARS));
    }
    if national_id.is_some_and(|n| !is_national_id_form(n)) {
        errors.push(FieldError::new("national_id", "format", "a national id is 11 digits"));
    }
    if subject.is_none() && national_id.is_none() {
        errors.push(FieldError::new("subject", "required", "give the subject, the national id, or both"));
    }
    DomainError::check(errors)
}

/// Checks a client to register.
pub fn validate_client(issuer: &str, client_id: &str, display_name: &str) -> Result<(), DomainError> {
    let mut errors = Vec::new();
    errors.extend(text_field("issuer", issuer, MAX_ISSUER_CHARS));
    errors.extend(text_field("client_id", client_id, MAX_CLIENT_ID_CHARS));
    errors.extend(crate::users::validate_display_name(display_name).err());
    DomainError::check(errors)
}

/// The username of a client's own user: `system.`, the client id in the characters a username
/// may hold, and `suffix` (which keeps a re-registered client apart from its revoked one).
pub fn client_username(client_id: &str, suffix: &str) -> String {
    let slug: String = client_id
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') { c } else { '-' })
        .take(40)
        .collect();
    format!("system.{slug}.{suffix}")
}

/// Where a record system may act, from its token's organisation numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrganisationScope {
    /// Every unit of the client's legal entity.
    Entity,
    /// Only the unit whose organisation number the token's child claim carries.
    Unit(String),
}

/// Why a record system's token is refused although it is genuine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganisationMismatch {
    /// The token carries no parent organisation number.
    NoParent,
    /// The parent organisation number is not the one of the legal entity the client is
    /// registered for.
    OtherParent,
}

/// The rule: the token's parent organisation number must be the one of the legal entity the
/// client is registered for; a child organisation number other than the entity's own narrows the
/// client to that unit (whether it is a unit of the entity is checked against the organisation
/// tree: HelseID does not check the child number).
pub fn organisation_scope(
    entity_org_number: &str,
    parent: Option<&str>,
    child: Option<&str>,
) -> Result<OrganisationScope, OrganisationMismatch> {
    let parent = parent.map(str::trim).filter(|p| !p.is_empty()).ok_or(OrganisationMismatch::NoParent)?;
    if parent != entity_org_number {
        return Err(OrganisationMismatch::OtherParent);
    }
    match child.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(OrganisationScope::Entity),
        Some(c) if c == entity_org_number => Ok(OrganisationScope::Entity),
        Some(c) => Ok(OrganisationScope::Unit(c.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_needs_an_issuer_and_a_subject_or_a_national_id() {
        assert!(validate_identity("https://helseid-sts.nhn.no", Some("abc"), None).is_ok());
        assert!(validate_identity("https://helseid-sts.nhn.no", None, Some("15076500565")).is_ok());
        assert!(validate_identity("https://helseid-sts.nhn.no", Some("abc"), Some("15076500565")).is_ok());
        assert!(validate_identity("https://helseid-sts.nhn.no", None, None).is_err());
        assert!(validate_identity("", Some("abc"), None).is_err());
        assert!(validate_identity("x", Some("a b"), None).is_err());
        let Err(DomainError::Invalid(errors)) = validate_identity("x", None, Some("1507650056")) else {
            panic!("ten digits pass")
        };
        assert_eq!(errors[0].field, "national_id");
        assert!(!errors[0].message.contains("1507650056"), "the error does not echo the id");
        assert!(!is_national_id_form("1507650056a"));
    }

    #[test]
    fn a_clients_username_is_a_valid_username() {
        let name = client_username("F5B2C6A0-1234 Journal/System", "0a1b2c3d");
        assert_eq!(name, "system.f5b2c6a0-1234-journal-system.0a1b2c3d");
        assert!(crate::users::validate_username(&name).is_ok());
        let long = client_username(&"x".repeat(200), "0a1b2c3d");
        assert!(crate::users::validate_username(&long).is_ok());
        assert!(validate_client("https://issuer", "client", "Journal").is_ok());
        assert!(validate_client("https://issuer", "", "Journal").is_err());
        assert!(validate_client("https://issuer", "client", " ").is_err());
    }

    #[test]
    fn a_record_system_acts_for_its_own_entity_or_one_unit_named_by_the_child_claim() {
        let entity = "983974732";
        assert_eq!(organisation_scope(entity, Some(entity), None), Ok(OrganisationScope::Entity));
        assert_eq!(organisation_scope(entity, Some(entity), Some(entity)), Ok(OrganisationScope::Entity));
        assert_eq!(
            organisation_scope(entity, Some(entity), Some("974745569")),
            Ok(OrganisationScope::Unit("974745569".into()))
        );
        assert_eq!(organisation_scope(entity, Some("974745569"), None), Err(OrganisationMismatch::OtherParent));
        assert_eq!(organisation_scope(entity, None, Some(entity)), Err(OrganisationMismatch::NoParent));
        assert_eq!(organisation_scope(entity, Some(" "), None), Err(OrganisationMismatch::NoParent));
    }
}
