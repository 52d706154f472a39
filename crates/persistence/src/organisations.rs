//! The organisation tree: nodes, their links (with validity periods) and paths to the nation.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date};
use domain::organisations::{NewNode, NodeId, NodeKind};

use crate::schema::{org_links, org_nodes};
use crate::RepoError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_nodes, check_for_backend(diesel::pg::Pg))]
pub struct OrgNodeRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub org_number: Option<String>,
    pub resh_id: Option<i64>,
    pub is_demo: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = org_links, check_for_backend(diesel::pg::Pg))]
pub struct OrgLinkRow {
    pub id: i64,
    pub child_id: i64,
    pub parent_id: i64,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = org_nodes)]
struct NewOrgNodeRow<'a> {
    kind: &'a str,
    name: &'a str,
    org_number: Option<&'a str>,
    resh_id: Option<i64>,
    is_demo: bool,
}

#[derive(Insertable)]
#[diesel(table_name = org_links)]
struct NewOrgLinkRow {
    child_id: i64,
    parent_id: i64,
    valid_from: NaiveDate,
}

/// Changes to a node (PATCH): only the given fields change.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = org_nodes)]
pub struct OrgNodeChanges {
    pub name: Option<String>,
    pub is_demo: Option<bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// A node with its parent on a given day.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub node: OrgNodeRow,
    pub parent_id: Option<i64>,
}

impl OrgNodeRow {
    pub fn kind(&self) -> Result<NodeKind, RepoError> {
        NodeKind::parse(&self.kind).ok_or_else(|| RepoError::Other(format!("unknown node kind {}", self.kind)))
    }
}

/// Filter for listing nodes.
#[derive(Debug, Clone, Default)]
pub struct NodeFilter {
    pub kind: Option<NodeKind>,
    pub parent: Option<i64>,
    pub on: Option<NaiveDate>,
    pub limit: i64,
    pub offset: i64,
}

fn parent_on(conn: &mut PgConnection, child: i64, on: NaiveDate) -> Result<Option<i64>, RepoError> {
    Ok(org_links::table
        .filter(org_links::child_id.eq(child))
        .filter(org_links::valid_from.le(on))
        .filter(org_links::valid_to.is_null().or(org_links::valid_to.gt(on)))
        .select(org_links::parent_id)
        .first(conn)
        .optional()?)
}

pub fn find_node(conn: &mut PgConnection, id: i64, on: NaiveDate) -> Result<NodeView, RepoError> {
    let node = org_nodes::table.find(id).select(OrgNodeRow::as_select()).first(conn)?;
    let parent_id = parent_on(conn, id, on)?;
    Ok(NodeView { node, parent_id })
}

pub fn links_of(conn: &mut PgConnection, id: i64) -> Result<Vec<OrgLinkRow>, RepoError> {
    Ok(org_links::table
        .filter(org_links::child_id.eq(id))
        .order(org_links::valid_from.asc())
        .select(OrgLinkRow::as_select())
        .load(conn)?)
}

/// Lists nodes with their parent on `filter.on` (default today), ordered by kind and name.
pub fn list_nodes(conn: &mut PgConnection, filter: &NodeFilter) -> Result<(Vec<NodeView>, i64), RepoError> {
    let on = filter.on.unwrap_or_else(domain::clock::today);
    let current_parent = org_links::table
        .filter(org_links::child_id.eq(org_nodes::id))
        .filter(org_links::valid_from.le(on))
        .filter(org_links::valid_to.is_null().or(org_links::valid_to.gt(on)))
        .select(org_links::parent_id)
        .single_value();
    let mut query = org_nodes::table.select((OrgNodeRow::as_select(), current_parent)).into_boxed();
    let mut count = org_nodes::table.count().into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(org_nodes::kind.eq(kind.as_str()));
        count = count.filter(org_nodes::kind.eq(kind.as_str()));
    }
    if let Some(parent) = filter.parent {
        query = query.filter(current_parent.eq(parent));
        let current_parent_for_count = org_links::table
            .filter(org_links::child_id.eq(org_nodes::id))
            .filter(org_links::valid_from.le(on))
            .filter(org_links::valid_to.is_null().or(org_links::valid_to.gt(on)))
            .select(org_links::parent_id)
            .single_value();
        count = count.filter(current_parent_for_count.eq(parent));
    }
    let total = count.get_result(conn)?;
    let rows: Vec<(OrgNodeRow, Option<i64>)> = query
        .order((org_nodes::kind.asc(), org_nodes::name.asc(), org_nodes::id.asc()))
        .limit(filter.limit)
        .offset(filter.offset)
        .load(conn)?;
    Ok((rows.into_iter().map(|(node, parent_id)| NodeView { node, parent_id }).collect(), total))
}

/// Inserts a node and, unless it is the nation, its link to `parent` from `valid_from`.
pub fn insert_node(
    conn: &mut PgConnection,
    new: &NewNode,
    parent: Option<i64>,
    valid_from: NaiveDate,
) -> Result<NodeView, RepoError> {
    let node: OrgNodeRow = diesel::insert_into(org_nodes::table)
        .values(NewOrgNodeRow {
            kind: new.kind.as_str(),
            name: &new.name,
            org_number: new.org_number.as_ref().map(|n| n.as_str()),
            resh_id: new.resh_id.map(|r| r.get()),
            is_demo: new.is_demo,
        })
        .returning(OrgNodeRow::as_returning())
        .get_result(conn)?;
    if let Some(parent_id) = parent {
        diesel::insert_into(org_links::table)
            .values(NewOrgLinkRow { child_id: node.id, parent_id, valid_from })
            .execute(conn)?;
    }
    Ok(NodeView { node, parent_id: parent })
}

pub fn update_node(conn: &mut PgConnection, id: i64, changes: &OrgNodeChanges) -> Result<OrgNodeRow, RepoError> {
    Ok(diesel::update(org_nodes::table.find(id)).set(changes).returning(OrgNodeRow::as_returning()).get_result(conn)?)
}

/// Moves `child` under `parent` from `valid_from`: the open link is closed on that day and a new
/// one opened. Fails with a conflict when the open link started on or after `valid_from`.
pub fn move_node(
    conn: &mut PgConnection,
    child: i64,
    parent: i64,
    valid_from: NaiveDate,
) -> Result<OrgLinkRow, RepoError> {
    let open: Option<OrgLinkRow> = org_links::table
        .filter(org_links::child_id.eq(child))
        .filter(org_links::valid_to.is_null())
        .select(OrgLinkRow::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    if let Some(open) = open {
        if open.valid_from >= valid_from {
            return Err(RepoError::UniqueViolation("org_links_valid_from_after_current".into()));
        }
        diesel::update(org_links::table.find(open.id)).set(org_links::valid_to.eq(valid_from)).execute(conn)?;
    }
    Ok(diesel::insert_into(org_links::table)
        .values(NewOrgLinkRow { child_id: child, parent_id: parent, valid_from })
        .returning(OrgLinkRow::as_returning())
        .get_result(conn)?)
}

#[derive(QueryableByName)]
struct PathRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// The path from `node` up to the nation as valid on `on`: `[node, parent, ..., nation]`.
pub fn path_of(conn: &mut PgConnection, node: i64, on: NaiveDate) -> Result<Vec<NodeId>, RepoError> {
    let rows: Vec<PathRow> = diesel::sql_query(
        "WITH RECURSIVE up(id, depth) AS ( \
             SELECT $1::bigint, 0 \
             UNION ALL \
             SELECT l.parent_id, up.depth + 1 FROM up JOIN org_links l ON l.child_id = up.id \
              AND l.valid_from <= $2 AND (l.valid_to IS NULL OR l.valid_to > $2) \
             WHERE up.depth < 8 \
         ) SELECT up.id FROM up JOIN org_nodes n ON n.id = up.id ORDER BY depth",
    )
    .bind::<BigInt, _>(node)
    .bind::<Date, _>(on)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| NodeId(r.id)).collect())
}

/// The id of the nation node.
pub fn nation_id(conn: &mut PgConnection) -> Result<NodeId, RepoError> {
    Ok(NodeId(org_nodes::table.filter(org_nodes::kind.eq("nation")).select(org_nodes::id).first(conn)?))
}

pub fn find_by_org_number(conn: &mut PgConnection, number: &str) -> Result<Option<OrgNodeRow>, RepoError> {
    Ok(org_nodes::table
        .filter(org_nodes::org_number.eq(number))
        .select(OrgNodeRow::as_select())
        .first(conn)
        .optional()?)
}

/// Sets the organisation number of a node that has none (seeding the units' numbers into a
/// database seeded before they had them).
pub fn set_missing_org_number(conn: &mut PgConnection, id: i64, number: &str) -> Result<(), RepoError> {
    diesel::update(org_nodes::table.find(id).filter(org_nodes::org_number.is_null()))
        .set(org_nodes::org_number.eq(number))
        .execute(conn)?;
    Ok(())
}

pub fn find_by_resh_id(conn: &mut PgConnection, resh: i64) -> Result<Option<OrgNodeRow>, RepoError> {
    Ok(org_nodes::table.filter(org_nodes::resh_id.eq(resh)).select(OrgNodeRow::as_select()).first(conn).optional()?)
}
