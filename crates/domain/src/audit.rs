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

/// Every kind of audited action, named `noun.verb` in the log (stable: reports and auditors
/// filter on these names).
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
    ApproveGrant,
    RemoveGrant,
    AddIdentity,
    RemoveIdentity,
    RegisterClient,
    RevokeClient,
    ReadAuthorisations,
    ReadAuditLog,
    ReadPatientLog,
    ImportCoverage,
    RecordServiceFacts,
    ImportServiceFacts,
    ImportResidence,
    CreateImport,
    ReadImport,
    CompleteForm,
    CreateForm,
    ReadFormHistory,
    ReadForm,
    ReopenForm,
    UpdateForm,
    ListPathways,
    OpenPathway,
    ReadPathway,
    TransferPathway,
    ReadPatient,
    RegisterPatient,
    CreateRelease,
    QueueRelease,
    DownloadRelease,
    PublishRelease,
    ReadCompleteness,
    ReadIndicators,
    ReadVariableCompleteness,
    CreateReservation,
    RecordReservationLetter,
    ListReservations,
    ReadWorklist,
    CreateOrder,
    ListOrders,
    ReadOrderSummary,
    ReadOrder,
    CancelOrder,
    PatientSignIn,
    PatientAnswer,
    PatientSubmit,
    CreateResearchProject,
    ListResearchProjects,
    ReadResearchProject,
    AssessResearchExtract,
    DeliverResearchExtract,
    RecordResearchNoticeTold,
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
            Self::ApproveGrant => "grant.approve",
            Self::RemoveGrant => "grant.remove",
            Self::AddIdentity => "identity.add",
            Self::RemoveIdentity => "identity.remove",
            Self::RegisterClient => "client.register",
            Self::RevokeClient => "client.revoke",
            Self::ReadAuthorisations => "authorisation.read",
            Self::ReadAuditLog => "audit.read",
            Self::ReadPatientLog => "audit.patient_log",
            Self::ImportCoverage => "coverage.import",
            Self::RecordServiceFacts => "directory.record",
            Self::ImportServiceFacts => "directory.import",
            Self::ImportResidence => "residence.import",
            Self::CreateImport => "import.create",
            Self::ReadImport => "import.read",
            Self::CompleteForm => "form.complete",
            Self::CreateForm => "form.create",
            Self::ReadFormHistory => "form.history.read",
            Self::ReadForm => "form.read",
            Self::ReopenForm => "form.reopen",
            Self::UpdateForm => "form.update",
            Self::ListPathways => "pathway.list",
            Self::OpenPathway => "pathway.open",
            Self::ReadPathway => "pathway.read",
            Self::TransferPathway => "pathway.transfer",
            Self::ReadPatient => "patient.read",
            Self::RegisterPatient => "patient.register",
            Self::CreateRelease => "release.create",
            Self::QueueRelease => "release.queue",
            Self::DownloadRelease => "release.download",
            Self::PublishRelease => "release.publish",
            Self::ReadCompleteness => "report.completeness",
            Self::ReadIndicators => "report.indicators",
            Self::ReadVariableCompleteness => "report.variable_completeness",
            Self::CreateReservation => "reservation.create",
            Self::RecordReservationLetter => "reservation.letter_sent",
            Self::ListReservations => "reservation.list",
            Self::ReadWorklist => "worklist.read",
            Self::CreateOrder => "order.create",
            Self::ListOrders => "order.list",
            Self::ReadOrderSummary => "order.summary",
            Self::ReadOrder => "order.read",
            Self::CancelOrder => "order.cancel",
            Self::PatientSignIn => "patient_channel.sign_in",
            Self::PatientAnswer => "patient_channel.answer",
            Self::PatientSubmit => "patient_channel.submit",
            Self::CreateResearchProject => "research_project.create",
            Self::ListResearchProjects => "research_project.list",
            Self::ReadResearchProject => "research_project.read",
            Self::AssessResearchExtract => "research_extract.assess",
            Self::DeliverResearchExtract => "research_extract.deliver",
            Self::RecordResearchNoticeTold => "research_notice.told",
        }
    }
}
