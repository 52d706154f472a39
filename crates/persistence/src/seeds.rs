//! Loads the reference data of seeds/ (regions, health trusts, demo units). Never run by
//! migrations; `rusreg demo`, `rusreg seed-reference` and the test harness call it. Idempotent:
//! nodes that exist (by organisation number or RESH-id) are left as they are. The made-up
//! organisation tree of `rusreg seed --tree realistic` (`synthetic::tree`) is the reference tree
//! with nodes added, loaded the same way.

use chrono::NaiveDate;
use diesel::PgConnection;
use domain::organisations::{NewNode, NodeKind};
use serde::Deserialize;

use crate::organisations;
use crate::RepoError;

/// The reference data, built into the binary.
pub const ORGANISATIONS_JSON: &str = include_str!("../../../seeds/organisations.json");

/// The demo's TSB service directory (seeds/directory-demo.csv): made-up facts for the demo units,
/// every row marked `demo`, in the import's CSV format (`rusreg demo` imports it once).
pub const DIRECTORY_DEMO_CSV: &str = include_str!("../../../seeds/directory-demo.csv");
/// The demo's residence areas and catchment areas (docs/residence.md).
pub const RESIDENCE_AREAS_DEMO_CSV: &str = include_str!("../../../seeds/residence-areas-demo.csv");
pub const CATCHMENT_DEMO_CSV: &str = include_str!("../../../seeds/catchment-demo.csv");

/// An organisation tree to load: seeds/organisations.json, or that tree with the made-up
/// trusts, private institutions and units of the synthetic organisation tree
/// (`synthetic::tree`) added.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SeedTree {
    pub valid_from: NaiveDate,
    pub nation: SeedNation,
    pub regions: Vec<SeedRegion>,
}
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SeedNation {
    pub name: String,
}
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SeedRegion {
    pub name: String,
    pub org_number: String,
    pub entities: Vec<SeedEntity>,
}
/// A legal entity: a health trust, or (with `demo`) a made-up private institution.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SeedEntity {
    pub name: String,
    pub org_number: String,
    #[serde(default)]
    pub demo: bool,
    pub units: Vec<SeedUnit>,
}
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SeedUnit {
    pub name: String,
    pub resh_id: i64,
    /// The unit's own organisation number (a record system's client narrows to it with
    /// `orgnr_child`).
    #[serde(default)]
    pub org_number: Option<String>,
    #[serde(default)]
    pub demo: bool,
}

/// The reference data of seeds/organisations.json.
pub(crate) fn reference() -> Result<SeedTree, RepoError> {
    serde_json::from_str(ORGANISATIONS_JSON).map_err(|e| RepoError::Other(format!("seeds/organisations.json: {e}")))
}

/// What `load_reference` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    pub inserted: usize,
    pub existing: usize,
}

fn invalid(e: domain::DomainError) -> RepoError {
    RepoError::Other(format!("invalid organisation data: {e:?}"))
}

/// Loads the organisation tree of seeds/organisations.json; every number is validated by the
/// domain rules (organisation numbers by their check digit) before it is stored.
pub fn load_reference(conn: &mut PgConnection) -> Result<SeedSummary, RepoError> {
    load_tree(conn, &reference()?)
}

/// Loads an organisation tree in one transaction, top down. Idempotent: a node that exists (the
/// nation, or a node with the same organisation number or RESH-id) is left as it is, and the
/// nodes below it hang under it.
pub(crate) fn load_tree(conn: &mut PgConnection, tree: &SeedTree) -> Result<SeedSummary, RepoError> {
    crate::in_transaction(conn, |conn| {
        let mut nodes = MissingNodes { conn, valid_from: tree.valid_from, summary: SeedSummary::default() };
        let nation = nodes.nation(&tree.nation.name)?;
        for region in &tree.regions {
            let region_id = nodes.org(NodeKind::Region, &region.name, &region.org_number, false, nation)?;
            for entity in &region.entities {
                let entity_id =
                    nodes.org(NodeKind::LegalEntity, &entity.name, &entity.org_number, entity.demo, region_id)?;
                for unit in &entity.units {
                    nodes.unit(&unit.name, unit.resh_id, unit.org_number.as_deref(), unit.demo, entity_id)?;
                }
            }
        }
        Ok(nodes.summary)
    })
}

/// Adds the nodes that are missing under their parents, linked from `valid_from`, validated by
/// the domain rules first; `summary` counts what was inserted and what existed.
struct MissingNodes<'c> {
    conn: &'c mut PgConnection,
    valid_from: NaiveDate,
    summary: SeedSummary,
}

impl MissingNodes<'_> {
    /// The nation (there is one); returns its id.
    fn nation(&mut self, name: &str) -> Result<i64, RepoError> {
        match organisations::nation_id(self.conn) {
            Ok(id) => {
                self.summary.existing += 1;
                Ok(id.0)
            }
            Err(RepoError::NotFound) => {
                let nation = NewNode {
                    kind: NodeKind::Nation,
                    name: name.to_owned(),
                    org_number: None,
                    resh_id: None,
                    is_demo: false,
                };
                self.insert(&nation, None)
            }
            Err(e) => Err(e),
        }
    }

    /// A region or legal entity, found by its organisation number; returns its id.
    fn org(&mut self, kind: NodeKind, name: &str, org_number: &str, demo: bool, parent: i64) -> Result<i64, RepoError> {
        if let Some(existing) = organisations::find_by_org_number(self.conn, org_number)? {
            self.summary.existing += 1;
            return Ok(existing.id);
        }
        let new = NewNode::parse(kind.as_str(), name, Some(org_number), None, demo).map_err(invalid)?;
        self.insert(&new, Some(parent))
    }

    /// A unit, found by its RESH-id. A unit seeded before it had an organisation number gets the
    /// seed's (an existing number is never changed).
    fn unit(
        &mut self,
        name: &str,
        resh_id: i64,
        org_number: Option<&str>,
        demo: bool,
        parent: i64,
    ) -> Result<(), RepoError> {
        let new = NewNode::parse(NodeKind::Unit.as_str(), name, org_number, Some(resh_id), demo).map_err(invalid)?;
        if let Some(existing) = organisations::find_by_resh_id(self.conn, resh_id)? {
            self.summary.existing += 1;
            if let (None, Some(number)) = (&existing.org_number, &new.org_number) {
                organisations::set_missing_org_number(self.conn, existing.id, number.as_str())?;
            }
            return Ok(());
        }
        self.insert(&new, Some(parent)).map(drop)
    }

    fn insert(&mut self, new: &NewNode, parent: Option<i64>) -> Result<i64, RepoError> {
        self.summary.inserted += 1;
        Ok(organisations::insert_node(self.conn, new, parent, self.valid_from)?.node.id)
    }
}
