//! A unit's worklist: the forms due and overdue at the unit, for its registrars and unit
//! contacts. The facts come from one set-based query; the due-date rules are
//! `domain::worklist::worklist_items` with the configured time limits. Audited as one row per
//! request carrying the patients on the returned page (ids and pseudonyms).

use chrono::NaiveDate;
use domain::access::Permission;
use domain::audit::{Action, Outcome};
use domain::worklist::{worklist_items, WorklistConfig, WorklistItemKind};
use persistence::PgConnection;
use persistence::{audit, organisations, patients, RepoError};
use serde_json::json;
use uuid::Uuid;

use crate::paging::{PageRequest, Paged};
use crate::{Caller, Error};

/// One form due at the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistItem {
    pub pathway_id: Uuid,
    pub patient_id: Uuid,
    pub kind: WorklistItemKind,
    pub due_date: NaiveDate,
}

/// Which items to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorklistFilter {
    /// Only items of this kind.
    pub kind: Option<WorklistItemKind>,
    /// Only overdue items (true) or only those not yet overdue (false).
    pub overdue: Option<bool>,
}

/// Days after a discharge during which its follow-up can still be on the worklist: the window
/// closes 14 months after the discharge; overdue follow-ups stay listed for another 3 months.
fn follow_up_horizon_days(config: &WorklistConfig) -> i32 {
    i32::try_from(config.follow_up_closes_months).unwrap_or(14) * 31 + 92
}

/// The forms due and overdue at `unit` on `today`, earliest due date first, a page at a time,
/// with the number of items in all. `NotFound` when `unit` is not a unit.
pub fn for_unit(
    conn: &mut PgConnection,
    caller: &Caller,
    unit: i64,
    filter: WorklistFilter,
    page: PageRequest,
    today: NaiveDate,
    config: &WorklistConfig,
) -> Result<Paged<WorklistItem>, Error> {
    let paging = page.paging()?;
    let node = match organisations::find_node(conn, unit, today) {
        Ok(n) if n.node.kind == "unit" => n,
        Ok(_) | Err(RepoError::NotFound) => return Err(Error::NotFound),
        Err(e) => return Err(e.into()),
    };
    let path = organisations::path_of(conn, node.node.id, today)?;
    caller.actor.require(Permission::Worklist, &path)?;
    let role = caller.actor.role_for(Permission::Worklist, &path).map(|r| r.as_str());
    let mut items: Vec<WorklistItem> = items_of(conn, unit, today, config)?
        .into_iter()
        .filter(|i| filter.kind.is_none_or(|k| k == i.kind) && filter.overdue.is_none_or(|o| o == i.kind.is_overdue()))
        .collect();
    items.sort_by_key(|i| (i.due_date, i.pathway_id, i.kind));
    let total = items.len() as i64;
    let offset = usize::try_from(paging.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(paging.limit).unwrap_or(0);
    let page: Vec<WorklistItem> = items.into_iter().skip(offset).take(limit).collect();
    // One row for the request, carrying every patient on the page (found by each one's log).
    let ids: Vec<Uuid> = page.iter().map(|i| i.patient_id).collect();
    let mut listed = patients::pseudonyms_of(conn, &ids)?;
    listed.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
    let entry = caller.audit(Action::ReadWorklist, Outcome::Success).unit(Some(unit)).target("unit", unit);
    let detail = json!({"items": total, "page": paging.page(), "listed": page.len()});
    audit::record(conn, &entry.role(role).patients(&listed).detail(detail))?;
    Ok(Paged::new(page, paging, total))
}

/// Every item of `unit`'s worklist on `today`, unsorted.
fn items_of(
    conn: &mut PgConnection,
    unit: i64,
    today: NaiveDate,
    config: &WorklistConfig,
) -> Result<Vec<WorklistItem>, Error> {
    let facts = persistence::worklist::facts_for_unit(conn, unit, today, follow_up_horizon_days(config))?;
    Ok(facts
        .iter()
        .flat_map(|p| {
            worklist_items(&p.facts, today, config).into_iter().map(move |item| WorklistItem {
                pathway_id: p.pathway_id,
                patient_id: p.patient_id,
                kind: item.kind,
                due_date: item.due_date,
            })
        })
        .collect())
}

/// How many items of `unit`'s worklist on `today` are due and how many overdue: counts only,
/// for the unit contacts' daily digest (no caller: the scheduler makes it, and no patient is
/// named).
pub fn counts_for_unit(
    conn: &mut PgConnection,
    unit: i64,
    today: NaiveDate,
    config: &WorklistConfig,
) -> Result<(i64, i64), Error> {
    let items = items_of(conn, unit, today, config)?;
    let overdue = items.iter().filter(|i| i.kind.is_overdue()).count();
    Ok(((items.len() - overdue) as i64, overdue as i64))
}
