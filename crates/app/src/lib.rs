//! rusreg's use cases: one plain function for each thing a user does, called by every way in —
//! the HTTP handlers in `api`, the `rusreg` command line, and later bulk import, the FHIR facade
//! and the patient channel. A use case takes the [`Caller`], a typed input and a database
//! connection; it checks access with `domain::access`, applies the domain's rules, writes the
//! change, its history and its audit row in one transaction, and returns a typed outcome or an
//! [`Error`]. It knows nothing of HTTP: `api::error` maps [`Error`] to status codes in one place.
//!
//! docs/architecture.md walks one form save and one release through this layer.

pub mod access;
pub mod audit_log;
pub mod digests;
pub mod directory;
pub mod error;
pub mod follow_ups;
pub mod forms;
pub mod identities;
pub mod imports;
pub mod json;
pub mod orders;
pub mod organisations;
pub mod outbox;
pub mod paging;
pub mod pathways;
pub mod patient_channel;
pub mod patients;
pub mod releases;
pub mod reports;
pub mod research;
pub mod reservations;
pub mod residence;
pub mod scheduler;
pub mod users;
pub mod worklist;

pub use error::{Conflict, Error};

use domain::access::Actor;
use domain::audit::{Action, Outcome};
use persistence::audit::AuditEntry;
use persistence::{DbPool, PooledConn};

/// Who calls a use case: the authenticated actor (grants read from the database), and the id
/// of the request or job that carries the call, for the audit log.
///
/// A caller also keeps what the access checks read about it once per call: the units it
/// registers at, the units' paths up the tree, and the pseudonyms of patients it wrote audit
/// rows about ([`access::Scope`]). A caller lives for one request, or for one chunk of an import
/// job, so these are read once there instead of once per use case.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub request_id: Option<String>,
    scope: std::sync::Arc<std::sync::Mutex<access::Scope>>,
}

impl Caller {
    pub fn new(actor: Actor, request_id: Option<String>) -> Self {
        Self { actor, request_id, scope: Default::default() }
    }

    /// The same actor and request with nothing read yet (a new chunk of an import job).
    #[must_use]
    pub fn fresh(&self) -> Self {
        Self::new(self.actor.clone(), self.request_id.clone())
    }

    pub(crate) fn scope(&self) -> std::sync::MutexGuard<'_, access::Scope> {
        self.scope.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An audit entry by this caller.
    pub fn audit(&self, action: Action, outcome: Outcome) -> AuditEntry {
        AuditEntry::new(action, outcome).by(self.actor.user_id, &self.actor.username).request(self.request_id.clone())
    }
}

/// Where a use case that reads reports runs: counts are read on `reports` (a streaming replica
/// when configured); audit rows, releases and snapshots are written on `primary`. Both may be
/// one pool.
#[derive(Clone, Copy)]
pub struct Databases<'a> {
    pub primary: &'a DbPool,
    pub reports: &'a DbPool,
}

/// A connection of `pool`, or [`Error::Unavailable`].
pub(crate) fn connection(pool: &DbPool) -> Result<PooledConn, Error> {
    pool.get().map_err(|_| Error::Unavailable)
}
