//! Loads the reference data of seeds/ (regions, health trusts, demo units). Never run by
//! migrations; `rusreg demo`, `rusreg seed-reference` and the test harness call it. Idempotent:
//! nodes that exist (by organisation number or RESH-id) are left as they are.

use chrono::NaiveDate;
use diesel::PgConnection;
use domain::organisations::NewNode;
use serde::Deserialize;

use crate::organisations;
use crate::RepoError;

/// The reference data, built into the binary.
pub const ORGANISATIONS_JSON: &str = include_str!("../../../seeds/organisations.json");

#[derive(Deserialize)]
struct Seeds {
    valid_from: NaiveDate,
    nation: SeedNation,
    regions: Vec<SeedRegion>,
}
#[derive(Deserialize)]
struct SeedNation {
    name: String,
}
#[derive(Deserialize)]
struct SeedRegion {
    name: String,
    org_number: String,
    entities: Vec<SeedEntity>,
}
#[derive(Deserialize)]
struct SeedEntity {
    name: String,
    org_number: String,
    #[serde(default)]
    demo: bool,
    units: Vec<SeedUnit>,
}
#[derive(Deserialize)]
struct SeedUnit {
    name: String,
    resh_id: i64,
    #[serde(default)]
    demo: bool,
}

/// What `load_reference` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    pub inserted: usize,
    pub existing: usize,
}

fn invalid(e: domain::DomainError) -> RepoError {
    RepoError::Other(format!("invalid reference data: {e:?}"))
}

/// Loads the organisation tree of seeds/organisations.json; every number is validated by the
/// domain rules (organisation numbers by their check digit) before it is stored.
pub fn load_reference(conn: &mut PgConnection) -> Result<SeedSummary, RepoError> {
    let seeds: Seeds = serde_json::from_str(ORGANISATIONS_JSON)
        .map_err(|e| RepoError::Other(format!("seeds/organisations.json: {e}")))?;
    crate::in_transaction(conn, |conn| {
        let mut summary = SeedSummary::default();
        let nation = match organisations::nation_id(conn) {
            Ok(id) => {
                summary.existing += 1;
                id.0
            }
            Err(RepoError::NotFound) => {
                let nation = NewNode {
                    kind: domain::organisations::NodeKind::Nation,
                    name: seeds.nation.name.clone(),
                    org_number: None,
                    resh_id: None,
                    is_demo: false,
                };
                summary.inserted += 1;
                organisations::insert_node(conn, &nation, None, seeds.valid_from)?.node.id
            }
            Err(e) => return Err(e),
        };
        for region in &seeds.regions {
            let region_id = ensure_org(
                conn,
                &mut summary,
                "region",
                &region.name,
                &region.org_number,
                false,
                nation,
                seeds.valid_from,
            )?;
            for entity in &region.entities {
                let entity_id = ensure_org(
                    conn,
                    &mut summary,
                    "legal_entity",
                    &entity.name,
                    &entity.org_number,
                    entity.demo,
                    region_id,
                    seeds.valid_from,
                )?;
                for unit in &entity.units {
                    if organisations::find_by_resh_id(conn, unit.resh_id)?.is_some() {
                        summary.existing += 1;
                        continue;
                    }
                    let new =
                        NewNode::parse("unit", &unit.name, None, Some(unit.resh_id), unit.demo).map_err(invalid)?;
                    organisations::insert_node(conn, &new, Some(entity_id), seeds.valid_from)?;
                    summary.inserted += 1;
                }
            }
        }
        Ok(summary)
    })
}

#[expect(clippy::too_many_arguments, reason = "one call site per level of the tree")]
fn ensure_org(
    conn: &mut PgConnection,
    summary: &mut SeedSummary,
    kind: &str,
    name: &str,
    org_number: &str,
    demo: bool,
    parent: i64,
    valid_from: NaiveDate,
) -> Result<i64, RepoError> {
    if let Some(existing) = organisations::find_by_org_number(conn, org_number)? {
        summary.existing += 1;
        return Ok(existing.id);
    }
    let new = NewNode::parse(kind, name, Some(org_number), None, demo).map_err(invalid)?;
    summary.inserted += 1;
    Ok(organisations::insert_node(conn, &new, Some(parent), valid_from)?.node.id)
}
