//! Roles, grants and the access rules (docs/domain.md, Roles and access), as pure functions of
//! (grants, target).
//!
//! A target is described by its *path*: the node ids from the target node up to the nation, as
//! valid on the day that matters. A grant covers a target when the grant's node is on that path.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::organisations::{NodeId, NodeKind};
use crate::{DomainError, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Registrar,
    UnitContact,
    RegisterContact,
    RegisterStaff,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] =
        [Self::Registrar, Self::UnitContact, Self::RegisterContact, Self::RegisterStaff, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registrar => "registrar",
            Self::UnitContact => "unit_contact",
            Self::RegisterContact => "register_contact",
            Self::RegisterStaff => "register_staff",
            Self::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// The node kinds at which this role may be granted (docs/domain.md, Roles and access).
    pub fn grantable_at(self) -> &'static [NodeKind] {
        match self {
            Self::Registrar => &[NodeKind::Unit, NodeKind::LegalEntity],
            Self::UnitContact => &[NodeKind::Unit],
            Self::RegisterContact => &[NodeKind::LegalEntity],
            Self::RegisterStaff | Self::Admin => &[NodeKind::Nation],
        }
    }
}

impl Role {
    /// Roles whose grants take effect only when a second admin (neither the grantee nor the
    /// admin who granted it) approves them: they read every patient's audit trail or administer
    /// users (docs/domain.md, Grants and approvals).
    pub fn needs_second_admin(self) -> bool {
        matches!(self, Self::RegisterStaff | Self::Admin)
    }
}

/// Where a grant stands: pending (waiting for a second admin), active, or revoked. Only an
/// active grant gives access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Pending,
    Active,
    Revoked,
}

impl GrantStatus {
    /// From the facts kept on a grant: whether it took effect and whether it was revoked.
    pub fn of(in_effect: bool, revoked: bool) -> Self {
        match (in_effect, revoked) {
            (_, true) => Self::Revoked,
            (true, false) => Self::Active,
            (false, false) => Self::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Revoked => "revoked",
        }
    }
}

/// A change of grants that segregation of duties forbids, with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DutyConflict {
    /// An admin adding, approving or removing a grant of its own.
    OwnGrant,
    /// The admin who granted a grant approving it: it needs a second admin.
    SecondAdminRequired,
    /// An admin linking or unlinking a sign-in identity of its own account (whoever holds that
    /// identity would act with the admin's grants).
    OwnIdentity,
}

impl DutyConflict {
    pub fn code(self) -> &'static str {
        match self {
            Self::OwnGrant => "own_grant",
            Self::SecondAdminRequired => "second_admin_required",
            Self::OwnIdentity => "own_identity",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::OwnGrant => "an admin may not add, approve or remove its own grants; another admin must",
            Self::SecondAdminRequired => "a grant must be approved by a second admin, not by the admin who granted it",
            Self::OwnIdentity => {
                "an admin may not link or unlink sign-in identities of its own account; another admin must"
            }
        }
    }
}

/// Segregation of duties: `admin` may add or remove grants of `grantee` only when it is someone else.
pub fn check_grant_change(admin: Uuid, grantee: Uuid) -> Result<(), DutyConflict> {
    if admin == grantee {
        return Err(DutyConflict::OwnGrant);
    }
    Ok(())
}

/// Segregation of duties: `admin` may link or unlink sign-in identities of `user` only when it is
/// someone else.
pub fn check_identity_change(admin: Uuid, user: Uuid) -> Result<(), DutyConflict> {
    if admin == user {
        return Err(DutyConflict::OwnIdentity);
    }
    Ok(())
}

/// Segregation of duties: `approver` may approve a grant of `grantee` made by `granted_by` only
/// when it is neither of them (a grant made by the operator's command line has no granter).
pub fn check_approval(approver: Uuid, grantee: Uuid, granted_by: Option<Uuid>) -> Result<(), DutyConflict> {
    check_grant_change(approver, grantee)?;
    if granted_by == Some(approver) {
        return Err(DutyConflict::SecondAdminRequired);
    }
    Ok(())
}

/// Checks that `role` may be granted at a node of kind `kind`.
pub fn validate_grant(role: &str, kind: NodeKind) -> Result<Role, DomainError> {
    let role = Role::parse(role).ok_or_else(|| {
        DomainError::invalid(
            "role",
            "code_list",
            "role is one of registrar, unit_contact, register_contact, register_staff, admin",
        )
    })?;
    if !role.grantable_at().contains(&kind) {
        let allowed: Vec<_> = role.grantable_at().iter().map(|k| k.as_str()).collect();
        return Err(DomainError::Invalid(vec![FieldError::new(
            "node_id",
            "hierarchy",
            format!("{} is granted at a node of kind {}", role.as_str(), allowed.join(" or ")),
        )]));
    }
    Ok(role)
}

/// A role held at a node of the organisation tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: i64,
    pub role: Role,
    pub node: NodeId,
}

/// What a request wants to do. Each permission lists the roles that may hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Register patients, pathways and forms at a unit; read identifiable data there.
    Register,
    /// The unit's worklist.
    Worklist,
    /// Reopen a completed form (with a reason).
    ReopenForm,
    /// Completeness figures of a unit or legal entity (counts only).
    Completeness,
    /// Downloads of published results for a legal entity.
    EntityDownloads,
    /// National reports unsuppressed, reservations, releases, the audit log, research projects and
    /// their pseudonymised extracts (register staff).
    Oversight,
    /// Users, grants and organisation units.
    Administer,
    /// The authorisation register: every grant, approval and revocation (admin, register staff).
    Authorisations,
}

impl Permission {
    fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Self::Register | Self::Worklist => &[Registrar, UnitContact],
            Self::ReopenForm => &[UnitContact, RegisterStaff],
            Self::Completeness => &[UnitContact, RegisterContact, RegisterStaff],
            Self::EntityDownloads => &[RegisterContact, RegisterStaff],
            Self::Oversight => &[RegisterStaff],
            Self::Administer => &[Admin],
            Self::Authorisations => &[RegisterStaff, Admin],
        }
    }
}

/// Whether any grant allows `permission` on the target whose path (target node up to the nation)
/// is `target_path`. An empty path is covered by no grant: a check without a target in the tree
/// goes through [`Actor::require_national`], which passes the nation's own path.
pub fn allows(grants: &[Grant], permission: Permission, target_path: &[NodeId]) -> bool {
    grants.iter().any(|g| permission.roles().contains(&g.role) && target_path.contains(&g.node))
}

/// The authenticated caller of a request, with the grants read from the database.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Uuid,
    pub username: String,
    pub grants: Vec<Grant>,
    /// The id of the nation node, so nation-wide permissions can be checked without a target.
    pub nation: NodeId,
}

impl Actor {
    /// `Ok` when a grant covers the target, else `Forbidden`.
    pub fn require(&self, permission: Permission, target_path: &[NodeId]) -> Result<(), DomainError> {
        if allows(&self.grants, permission, target_path) {
            Ok(())
        } else {
            Err(DomainError::Forbidden)
        }
    }

    /// A permission that is only ever held at the nation (register staff, admin).
    pub fn require_national(&self, permission: Permission) -> Result<(), DomainError> {
        self.require(permission, &[self.nation])
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// The role of the first grant that allows `permission` on the target, for the audit log.
    pub fn role_for(&self, permission: Permission, target_path: &[NodeId]) -> Option<Role> {
        self.grants
            .iter()
            .find(|g| permission.roles().contains(&g.role) && target_path.contains(&g.node))
            .map(|g| g.role)
    }

    /// Nodes where the actor holds a role allowing `permission` (used to scope list queries).
    pub fn nodes_for(&self, permission: Permission) -> Vec<NodeId> {
        self.grants.iter().filter(|g| permission.roles().contains(&g.role)).map(|g| g.node).collect()
    }

    /// Register staff: national oversight, every node of every report in full.
    pub fn is_national(&self) -> bool {
        allows(&self.grants, Permission::Oversight, &[self.nation])
    }

    /// The small-count rule of completeness figures: the counts of the node whose path is `path`
    /// are shown in full to national oversight and to those who register for the node (its
    /// staff hold its patients' records anyway). Anyone else in scope — a register contact —
    /// gets them with small counts withheld.
    pub fn sees_small_counts(&self, path: &[NodeId]) -> bool {
        self.is_national() || allows(&self.grants, Permission::Register, path)
    }

    /// The completeness scope: a completeness grant covers the node whose path is `path`, and
    /// with `under` the node is at or below `under`.
    pub fn completeness_covers(&self, path: &[NodeId], under: Option<NodeId>) -> bool {
        allows(&self.grants, Permission::Completeness, path) && under.is_none_or(|u| path.contains(&u))
    }

    /// The role a registering caller acts in (registrar or unit contact), for the audit log;
    /// `None` for anyone who cannot register (they never see registration data).
    pub fn register_role(&self) -> Option<Role> {
        self.grants.iter().find(|g| matches!(g.role, Role::Registrar | Role::UnitContact)).map(|g| g.role)
    }
}

/// What a registering caller may do with one pathway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathwayAccess {
    /// The owning unit is covered: read and write everything.
    Full,
    /// Units that held the pathway before (it was opened there, or transferred away from
    /// there) are covered: read the pathway and the forms registered at these units.
    ReadOwn(Vec<i64>),
}

impl PathwayAccess {
    /// The rule: `covered` are the units the caller registers at (grants at a legal entity cover
    /// its units), `owner` the unit that owns the pathway now, `held` every unit that held it
    /// before. `None`: no access at all, and the pathway's existence must not leak.
    pub fn decide(covered: &[i64], owner: i64, held: &[i64]) -> Option<Self> {
        match Self::decide_with(covered, owner, || Ok::<_, std::convert::Infallible>(held.to_vec())) {
            Ok(access) => access,
            Err(never) => match never {},
        }
    }

    /// [`decide`](Self::decide) with the earlier holders asked for only when they matter: an
    /// owner the caller covers gives full access whoever held the pathway before, so a caller
    /// at the owning unit costs no read of the pathway's transfers.
    pub fn decide_with<E>(
        covered: &[i64],
        owner: i64,
        held: impl FnOnce() -> Result<Vec<i64>, E>,
    ) -> Result<Option<Self>, E> {
        if covered.contains(&owner) {
            return Ok(Some(Self::Full));
        }
        let held = held()?;
        let mut own: Vec<i64> = held.iter().copied().filter(|u| covered.contains(u)).collect();
        own.dedup();
        Ok((!own.is_empty()).then_some(Self::ReadOwn(own)))
    }

    /// Whether a form registered at `unit` is readable under this access.
    pub fn reads_form_of(&self, unit: i64) -> bool {
        match self {
            Self::Full => true,
            Self::ReadOwn(units) => units.contains(&unit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pathway_access_owner_full_earlier_holders_read_own_others_nothing() {
        assert_eq!(PathwayAccess::decide(&[4, 9], 4, &[7]), Some(PathwayAccess::Full));
        assert_eq!(PathwayAccess::decide(&[7], 4, &[7, 8]), Some(PathwayAccess::ReadOwn(vec![7])));
        assert_eq!(PathwayAccess::decide(&[5], 4, &[7, 8]), None);
        // The earlier holders are read only when the owner is not covered.
        let asked = std::cell::Cell::new(0);
        let held = || -> Result<Vec<i64>, ()> {
            asked.set(asked.get() + 1);
            Ok(vec![7])
        };
        assert_eq!(PathwayAccess::decide_with(&[4], 4, held), Ok(Some(PathwayAccess::Full)));
        assert_eq!(asked.get(), 0);
        assert_eq!(PathwayAccess::decide_with(&[7], 4, held), Ok(Some(PathwayAccess::ReadOwn(vec![7]))));
        assert_eq!(asked.get(), 1);
        assert_eq!(PathwayAccess::decide_with(&[7], 4, || Err::<Vec<i64>, _>("read failed")), Err("read failed"));
        assert!(PathwayAccess::ReadOwn(vec![7]).reads_form_of(7));
        assert!(!PathwayAccess::ReadOwn(vec![7]).reads_form_of(4));
        assert!(PathwayAccess::Full.reads_form_of(4));
    }

    const NATION: NodeId = NodeId(1);
    const REGION: NodeId = NodeId(2);
    const ENTITY: NodeId = NodeId(3);
    const UNIT: NodeId = NodeId(4);
    const OTHER_ENTITY: NodeId = NodeId(5);
    const OTHER_UNIT: NodeId = NodeId(6);
    const UNIT_PATH: [NodeId; 4] = [UNIT, ENTITY, REGION, NATION];
    const OTHER_UNIT_PATH: [NodeId; 4] = [OTHER_UNIT, OTHER_ENTITY, REGION, NATION];
    const ENTITY_PATH: [NodeId; 3] = [ENTITY, REGION, NATION];

    fn grant(role: Role, node: NodeId) -> Vec<Grant> {
        vec![Grant { id: 1, role, node }]
    }

    fn actor(role: Role, node: NodeId) -> Actor {
        Actor { user_id: Uuid::nil(), username: "x".into(), grants: grant(role, node), nation: NATION }
    }

    #[test]
    fn small_counts_in_full_for_national_oversight_and_the_units_own_staff_only() {
        assert!(actor(Role::RegisterStaff, NATION).sees_small_counts(&OTHER_UNIT_PATH));
        assert!(actor(Role::UnitContact, UNIT).sees_small_counts(&UNIT_PATH));
        assert!(actor(Role::Registrar, ENTITY).sees_small_counts(&UNIT_PATH), "an entity-wide registrar");
        assert!(!actor(Role::UnitContact, UNIT).sees_small_counts(&OTHER_UNIT_PATH));
        assert!(!actor(Role::UnitContact, UNIT).sees_small_counts(&ENTITY_PATH), "its entity's total");
        assert!(!actor(Role::RegisterContact, ENTITY).sees_small_counts(&UNIT_PATH));
        assert!(!actor(Role::Admin, NATION).sees_small_counts(&UNIT_PATH));
    }

    #[test]
    fn completeness_scope_is_the_grant_narrowed_to_the_node_asked_for() {
        let contact = actor(Role::RegisterContact, ENTITY);
        assert!(contact.completeness_covers(&UNIT_PATH, None));
        assert!(contact.completeness_covers(&UNIT_PATH, Some(UNIT)));
        assert!(!contact.completeness_covers(&ENTITY_PATH, Some(UNIT)), "above the node asked for");
        assert!(!contact.completeness_covers(&OTHER_UNIT_PATH, None));
        assert!(!actor(Role::Registrar, UNIT).completeness_covers(&UNIT_PATH, None), "no completeness grant");
        assert!(actor(Role::RegisterStaff, NATION).completeness_covers(&OTHER_UNIT_PATH, Some(OTHER_ENTITY)));
    }

    /// The full matrix: every permission × every role × in and out of scope.
    #[test]
    fn access_matrix_matches_the_roles_table() {
        use Permission::*;
        use Role::*;
        let home = |role: Role| match role {
            Registrar | UnitContact => UNIT,
            RegisterContact => ENTITY,
            RegisterStaff | Admin => NATION,
        };
        let expected_in_scope = |p: Permission, r: Role| match p {
            Register | Worklist => matches!(r, Registrar | UnitContact),
            ReopenForm => matches!(r, UnitContact | RegisterStaff),
            Completeness => matches!(r, UnitContact | RegisterContact | RegisterStaff),
            EntityDownloads => matches!(r, RegisterContact | RegisterStaff),
            Oversight => r == Role::RegisterStaff,
            Administer => r == Admin,
            Authorisations => matches!(r, RegisterStaff | Admin),
        };
        for p in [Register, Worklist, ReopenForm, Completeness, EntityDownloads, Oversight, Administer, Authorisations]
        {
            for r in Role::ALL {
                let g = grant(r, home(r));
                let target: &[NodeId] = if r == RegisterContact { &ENTITY_PATH } else { &UNIT_PATH };
                assert_eq!(allows(&g, p, target), expected_in_scope(p, r), "{p:?} {r:?} in scope");
                // Out of scope: a unit under another entity. Nation-wide roles still cover it.
                let nationwide = matches!(r, Role::RegisterStaff | Admin);
                assert_eq!(
                    allows(&g, p, &OTHER_UNIT_PATH),
                    expected_in_scope(p, r) && nationwide,
                    "{p:?} {r:?} out of scope"
                );
            }
        }
    }

    #[test]
    fn registrar_granted_at_an_entity_covers_all_its_units() {
        let g = grant(Role::Registrar, ENTITY);
        assert!(allows(&g, Permission::Register, &UNIT_PATH));
        assert!(!allows(&g, Permission::Register, &OTHER_UNIT_PATH));
    }

    #[test]
    fn segregation_of_duties_no_own_grants_and_a_second_admin_approves() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(check_grant_change(a, a), Err(DutyConflict::OwnGrant));
        assert_eq!(check_grant_change(a, b), Ok(()));
        assert_eq!(check_approval(b, b, Some(a)), Err(DutyConflict::OwnGrant));
        assert_eq!(check_approval(a, b, Some(a)), Err(DutyConflict::SecondAdminRequired));
        assert_eq!(check_approval(c, b, Some(a)), Ok(()));
        assert_eq!(check_approval(c, b, None), Ok(()), "granted by the operator's command line");
        assert_eq!(check_identity_change(a, a), Err(DutyConflict::OwnIdentity));
        assert_eq!(check_identity_change(a, b), Ok(()));
        assert!(Role::RegisterStaff.needs_second_admin() && Role::Admin.needs_second_admin());
        assert!(!Role::Registrar.needs_second_admin() && !Role::UnitContact.needs_second_admin());
        assert!(!Role::RegisterContact.needs_second_admin());
        assert_eq!(GrantStatus::of(false, false), GrantStatus::Pending);
        assert_eq!(GrantStatus::of(true, false), GrantStatus::Active);
        assert_eq!(GrantStatus::of(false, true), GrantStatus::Revoked);
    }

    #[test]
    fn no_grants_allow_nothing() {
        assert!(!allows(&[], Permission::Register, &UNIT_PATH));
    }

    #[test]
    fn grants_only_at_the_right_kind_of_node() {
        assert!(validate_grant("registrar", NodeKind::Unit).is_ok());
        assert!(validate_grant("registrar", NodeKind::LegalEntity).is_ok());
        assert!(validate_grant("registrar", NodeKind::Nation).is_err());
        assert!(validate_grant("unit_contact", NodeKind::LegalEntity).is_err());
        assert!(validate_grant("register_contact", NodeKind::LegalEntity).is_ok());
        assert!(validate_grant("register_staff", NodeKind::Unit).is_err());
        assert!(validate_grant("admin", NodeKind::Nation).is_ok());
        assert!(validate_grant("root", NodeKind::Nation).is_err());
    }
}
