//! What the audit log records: the actions and outcomes, with stable names.
//!
//! A row never holds a national id or a name: patients appear by pseudonym only.

use serde::Serialize;

/// The outcome of an audited request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Denied,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Failed => "failed",
        }
    }
}

/// Every kind of audited action, named `noun.verb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    Login,
    Refusal,
    CreateOrgUnit,
    UpdateOrgUnit,
    CreateOrgLink,
    CreateUser,
    UpdateUser,
    ChangePassword,
    AddGrant,
    RemoveGrant,
    ReadAuditLog,
    /// Registration and reporting actions (issues 3 and 5) use free names via `Other`.
    Other(&'static str),
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "auth.login",
            Self::Refusal => "access.refused",
            Self::CreateOrgUnit => "org_unit.create",
            Self::UpdateOrgUnit => "org_unit.update",
            Self::CreateOrgLink => "org_link.create",
            Self::CreateUser => "user.create",
            Self::UpdateUser => "user.update",
            Self::ChangePassword => "user.change_password",
            Self::AddGrant => "grant.add",
            Self::RemoveGrant => "grant.remove",
            Self::ReadAuditLog => "audit.read",
            Self::Other(name) => name,
        }
    }
}
