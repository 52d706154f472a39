//! The organisation tree as reports use it: where a counted event sits (its unit, legal entity
//! and region, as registered or as of today) and the node of each report level above it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use domain::indicators::ReportLevel;
use domain::organisations::{NodeId, NodeKind};
use persistence::{PgConnection, RepoError};
use serde::{Deserialize, Serialize};

/// A node of the tree, as reports name it.
#[derive(Debug, Clone, Serialize)]
pub struct OrgNode {
    pub id: i64,
    #[serde(serialize_with = "kind_str")]
    pub kind: NodeKind,
    pub name: String,
    pub resh_id: Option<i64>,
    pub org_number: Option<String>,
}

fn kind_str<S: serde::Serializer>(k: &NodeKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.as_str())
}

#[derive(Debug, Clone)]
struct Link {
    child: i64,
    parent: i64,
    from: NaiveDate,
    to: Option<NaiveDate>,
}

/// Where an event is counted: its unit, and the unit's legal entity and region on the day that
/// places it (`None` when the unit had no link then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Placement {
    pub unit: i64,
    pub entity: Option<i64>,
    pub region: Option<i64>,
}

/// The whole tree with its history.
#[derive(Debug, Clone)]
pub struct OrgTree {
    nodes: BTreeMap<i64, OrgNode>,
    links: Vec<Link>,
    nation: i64,
    /// The health trusts of the catchment areas, with the periods of their areas
    /// (docs/residence.md).
    catchment: Vec<(i64, NaiveDate, Option<NaiveDate>)>,
}

impl OrgTree {
    /// Reads every node and link (a few hundred rows).
    pub fn load(conn: &mut PgConnection) -> Result<Self, RepoError> {
        let (nodes, links) = persistence::reports::org_snapshot(conn)?;
        let mut tree = OrgTree {
            nodes: BTreeMap::new(),
            links: Vec::with_capacity(links.len()),
            nation: 0,
            catchment: Vec::new(),
        };
        for n in nodes {
            let kind = NodeKind::parse(&n.kind).ok_or_else(|| RepoError::Other("stored node kind".into()))?;
            if kind == NodeKind::Nation {
                tree.nation = n.id;
            }
            tree.nodes
                .insert(n.id, OrgNode { id: n.id, kind, name: n.name, resh_id: n.resh_id, org_number: n.org_number });
        }
        tree.links = links
            .into_iter()
            .map(|l| Link { child: l.child_id, parent: l.parent_id, from: l.valid_from, to: l.valid_to })
            .collect();
        tree.catchment = persistence::residence::all_catchment(conn)?
            .into_iter()
            .map(|c| (c.trust_id, c.valid_from, c.valid_to))
            .collect();
        Ok(tree)
    }

    /// The health trusts responsible for a catchment area on some day of `year`.
    pub fn catchment_trusts(&self, year: i32) -> BTreeSet<i64> {
        let (Some(start), Some(end)) = (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year + 1, 1, 1))
        else {
            return BTreeSet::new();
        };
        self.catchment.iter().filter(|(_, from, to)| *from < end && to.is_none_or(|t| t > start)).map(|c| c.0).collect()
    }

    /// The region of a catchment trust in `year`: its parent on the last day of the year (or
    /// `today`, for the current year).
    pub fn residence_region(&self, trust: i64, year: i32, today: NaiveDate) -> Option<i64> {
        let end = NaiveDate::from_ymd_opt(year, 12, 31)?;
        self.parent_on(trust, if today.year() == year { today.min(end) } else { end })
    }

    pub fn nation(&self) -> i64 {
        self.nation
    }

    /// Every node.
    pub fn nodes(&self) -> impl Iterator<Item = &OrgNode> {
        self.nodes.values()
    }

    pub fn node(&self, id: i64) -> Option<&OrgNode> {
        self.nodes.get(&id)
    }

    /// The unit with this RESH-id.
    pub fn unit_by_resh(&self, resh: i64) -> Option<i64> {
        self.nodes.values().find(|n| n.kind == NodeKind::Unit && n.resh_id == Some(resh)).map(|n| n.id)
    }

    /// The node's parent on `day`.
    pub fn parent_on(&self, child: i64, day: NaiveDate) -> Option<i64> {
        self.links
            .iter()
            .find(|l| l.child == child && l.from <= day && l.to.is_none_or(|to| to > day))
            .map(|l| l.parent)
    }

    /// The path from `node` up to the nation on `day` (for access checks).
    pub fn path_on(&self, node: i64, day: NaiveDate) -> Vec<NodeId> {
        let mut path = vec![NodeId(node)];
        let mut current = node;
        while let Some(parent) = self.parent_on(current, day).filter(|_| path.len() < 8) {
            path.push(NodeId(parent));
            current = parent;
        }
        path
    }

    /// A unit placed in the tree as it was on `day`.
    pub fn place_on(&self, unit: i64, day: NaiveDate) -> Placement {
        let entity = self.parent_on(unit, day);
        let region = entity.and_then(|e| self.parent_on(e, day));
        Placement { unit, entity, region }
    }

    /// Completes a placement from the database: a unit without a link on the event's day is
    /// placed as it is on `fallback` (today); an entity without a region link then gets today's.
    pub fn complete(&self, p: Placement, fallback: NaiveDate) -> Placement {
        match (p.entity, p.region) {
            (Some(_), Some(_)) => p,
            (Some(e), None) => Placement { region: self.parent_on(e, fallback), ..p },
            (None, _) => self.place_on(p.unit, fallback),
        }
    }

    /// Every unit linked into the tree at some time during `year`, placed as on the last day of
    /// the year it was linked (or `today`, for the current year).
    pub fn units_in_year(&self, year: i32, today: NaiveDate) -> Vec<Placement> {
        let (Some(start), Some(end)) = (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year, 12, 31))
        else {
            return Vec::new();
        };
        let end = if today.year() == year { today.min(end) } else { end };
        // The unit's last link in the year (latest valid_from) decides its placement.
        let mut out: BTreeMap<i64, (NaiveDate, Placement)> = BTreeMap::new();
        for l in &self.links {
            let unit = l.child;
            if self.nodes.get(&unit).is_none_or(|n| n.kind != NodeKind::Unit) {
                continue;
            }
            if l.from > end || l.to.is_some_and(|to| to <= start) {
                continue;
            }
            let day = l.to.map_or(end, |to| (to - chrono::Duration::days(1)).min(end));
            if out.get(&unit).is_none_or(|(from, _)| *from <= l.from) {
                out.insert(unit, (l.from, self.place_on(unit, day.max(l.from))));
            }
        }
        out.into_values().map(|(_, p)| p).collect()
    }

    /// The nodes of `level` above the units linked in `year` (placed as by [`Self::units_in_year`]).
    pub fn nodes_at(&self, year: i32, day: NaiveDate, level: ReportLevel) -> BTreeSet<i64> {
        self.units_in_year(year, day).iter().filter_map(|p| self.node_at(p, level)).collect()
    }

    /// The node of `level` above a placement (`None` when the placement lacks it).
    pub fn node_at(&self, p: &Placement, level: ReportLevel) -> Option<i64> {
        match level {
            ReportLevel::Unit => Some(p.unit),
            ReportLevel::LegalEntity => p.entity,
            ReportLevel::Region => p.region,
            ReportLevel::Nation => Some(self.nation),
        }
    }

    /// The legal entity's name, RESH-id or organisation number, for outputs.
    pub fn name(&self, id: i64) -> &str {
        self.nodes.get(&id).map_or("", |n| n.name.as_str())
    }
}
