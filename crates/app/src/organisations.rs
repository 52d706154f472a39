//! The organisation tree: every user may read it (it holds no personal data); admins create and
//! rename nodes and move them to another parent from a date (a new link; the old one ends the
//! day before), so reports can group as registered or as of today.

use chrono::{NaiveDate, Utc};
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::organisations::{validate_link, NewNode, NodeKind};
use domain::{DomainError, FieldError};
use persistence::organisations::{self as orgs, NodeFilter, NodeView, OrgLinkRow, OrgNodeChanges};
use persistence::{audit, in_transaction, PgConnection, RepoError};
use serde_json::json;

use crate::paging::{PageRequest, Paged};
use crate::{Caller, Conflict, Error};

/// One node on a day, with every link to a parent (oldest first).
#[derive(Debug, Clone)]
pub struct NodeDetail {
    pub node: NodeView,
    pub links: Vec<OrgLinkRow>,
}

/// Which nodes to list.
#[derive(Debug, Clone, Default)]
pub struct NodeQuery {
    /// Only nodes of this kind (`nation`, `region`, `legal_entity`, `unit`).
    pub kind: Option<String>,
    /// Only children of this node.
    pub parent: Option<i64>,
    /// The day whose tree to show (default today).
    pub on: Option<NaiveDate>,
}

/// Nodes of the tree, a page at a time.
pub fn list(conn: &mut PgConnection, q: &NodeQuery, page: PageRequest) -> Result<Paged<NodeView>, Error> {
    let kind =
        match q.kind.as_deref() {
            None => None,
            Some(k) => Some(NodeKind::parse(k).ok_or_else(|| {
                Error::invalid("kind", "code_list", "kind is one of nation, region, legal_entity, unit")
            })?),
        };
    let paging = page.paging()?;
    let filter = NodeFilter { kind, parent: q.parent, on: q.on, limit: paging.limit, offset: paging.offset };
    let (rows, total) = orgs::list_nodes(conn, &filter)?;
    Ok(Paged::new(rows, paging, total))
}

/// One node as of `on`, with its link history.
pub fn read(conn: &mut PgConnection, id: i64, on: NaiveDate) -> Result<NodeDetail, Error> {
    let node = orgs::find_node(conn, id, on)?;
    let links = orgs::links_of(conn, id)?;
    Ok(NodeDetail { node, links })
}

/// Checks that the parent exists and that the link respects the levels of the tree; every
/// field error at once, with those found before.
fn check_parent(
    conn: &mut PgConnection,
    child: NodeKind,
    parent: i64,
    valid_from: NaiveDate,
    mut errors: Vec<FieldError>,
) -> Result<(), Error> {
    match orgs::find_node(conn, parent, valid_from) {
        Ok(p) => {
            if let Err(DomainError::Invalid(mut e)) = validate_link(child, p.node.kind()?, valid_from, None) {
                errors.append(&mut e);
            }
        }
        Err(RepoError::NotFound) => errors.push(FieldError::new("parent_id", "not_found", "no such organisation node")),
        Err(e) => return Err(e.into()),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

/// A node to create under a parent.
#[derive(Debug, Clone)]
pub struct NodeInput {
    pub kind: String,
    pub name: String,
    pub org_number: Option<String>,
    pub resh_id: Option<i64>,
    pub parent_id: i64,
    /// First day of the link to the parent (default today).
    pub valid_from: Option<NaiveDate>,
    pub is_demo: bool,
}

/// Creates a node under a parent (admin). Every field error at once; an identifier in use is
/// [`Conflict::NodeExists`].
pub fn create(
    conn: &mut PgConnection,
    caller: &Caller,
    input: NodeInput,
    today: NaiveDate,
) -> Result<NodeDetail, Error> {
    caller.actor.require_national(Permission::Administer)?;
    let valid_from = input.valid_from.unwrap_or(today);
    let parsed = NewNode::parse(&input.kind, &input.name, input.org_number.as_deref(), input.resh_id, input.is_demo);
    let (new, field_errors) = match parsed {
        Ok(n) => (Some(n), vec![]),
        Err(DomainError::Invalid(e)) => (None, e),
        Err(e) => return Err(e.into()),
    };
    in_transaction(conn, |conn| {
        let Some(new) = new else { return Err(Error::Invalid(field_errors)) };
        check_parent(conn, new.kind, input.parent_id, valid_from, field_errors)?;
        let view = orgs::insert_node(conn, &new, Some(input.parent_id), valid_from).map_err(|e| match e {
            RepoError::UniqueViolation(constraint) => Conflict::NodeExists { constraint }.into(),
            other => Error::from(other),
        })?;
        let entry = caller.audit(Action::CreateOrgUnit, Outcome::Success).role(Some("admin"));
        let detail = json!({"kind": view.node.kind, "parent_id": input.parent_id});
        audit::record(conn, &entry.target("org_unit", view.node.id).detail(detail))?;
        read(conn, view.node.id, today)
    })
}

/// Changes a node's name or demo flag (admin). Identifiers are permanent.
pub fn update(
    conn: &mut PgConnection,
    caller: &Caller,
    id: i64,
    name: Option<String>,
    is_demo: Option<bool>,
    today: NaiveDate,
) -> Result<NodeDetail, Error> {
    caller.actor.require_national(Permission::Administer)?;
    if let Some(name) = &name {
        if name.trim().is_empty() || name.chars().count() > 200 || name.contains(char::is_control) {
            return Err(Error::invalid(
                "name",
                "length",
                "name must have 1 to 200 characters and no control characters",
            ));
        }
    }
    in_transaction(conn, |conn| {
        let changes = OrgNodeChanges {
            name: name.as_deref().map(|n| n.trim().to_owned()),
            is_demo,
            updated_at: Some(Utc::now()),
        };
        orgs::update_node(conn, id, &changes)?;
        let entry = caller.audit(Action::UpdateOrgUnit, Outcome::Success).role(Some("admin")).target("org_unit", id);
        audit::record(conn, &entry)?;
        read(conn, id, today)
    })
}

/// Moves a node to another parent from `valid_from` (admin): the current link ends the day
/// before. A date not after the current link's start is [`Conflict::LinkNotAfterCurrent`].
pub fn move_node(
    conn: &mut PgConnection,
    caller: &Caller,
    id: i64,
    parent_id: i64,
    valid_from: NaiveDate,
    today: NaiveDate,
) -> Result<NodeDetail, Error> {
    caller.actor.require_national(Permission::Administer)?;
    in_transaction(conn, |conn| {
        let child = orgs::find_node(conn, id, valid_from)?;
        check_parent(conn, child.node.kind()?, parent_id, valid_from, vec![])?;
        orgs::move_node(conn, id, parent_id, valid_from).map_err(|e| match e {
            RepoError::UniqueViolation(_) => Conflict::LinkNotAfterCurrent.into(),
            other => Error::from(other),
        })?;
        let entry = caller
            .audit(Action::CreateOrgLink, Outcome::Success)
            .role(Some("admin"))
            .target("org_unit", id)
            .detail(json!({"parent_id": parent_id, "valid_from": valid_from}));
        audit::record(conn, &entry)?;
        read(conn, id, today)
    })
}

/// The node with a RESH id or an organisation number, as of `on` (`None` when there is none).
/// The tree is open to every user, like [`read`].
pub fn find_by_identifier(
    conn: &mut PgConnection,
    resh_id: Option<i64>,
    org_number: Option<&str>,
    on: NaiveDate,
) -> Result<Option<NodeView>, Error> {
    let row = match (resh_id, org_number) {
        (Some(resh), _) => orgs::find_by_resh_id(conn, resh)?,
        (None, Some(number)) => orgs::find_by_org_number(conn, number)?,
        (None, None) => None,
    };
    let Some(row) = row else { return Ok(None) };
    match orgs::find_node(conn, row.id, on) {
        Ok(view) => Ok(Some(view)),
        Err(RepoError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
