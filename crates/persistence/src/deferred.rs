//! Log rows written in one statement per table: while a [`Deferred`] collection is open on a
//! connection, the audit rows ([`crate::audit::record`]), form history rows
//! ([`crate::forms::add_history`]) and pathway status history rows
//! ([`crate::pathways::insert`], [`crate::pathways::set_status`]) written on that connection are
//! kept in memory instead of being sent one by one, and [`Deferred::flush`] writes them as
//! multi-row inserts, in the order they were recorded, in the transaction that is still open. A
//! bulk import opens one per chunk, so the rows of its 500 records cost a few statements instead
//! of several per record.
//!
//! The three tables are logs that the use cases a bulk import runs (registering patients,
//! opening pathways, creating, updating and completing forms) never read back in the
//! transaction that writes them — the status history is read only to show a pathway or to
//! list pathways by the status they had when transferred away — and their time columns
//! default to the transaction's start (`now()`), so a row written at the flush is the row that
//! would have been written at once (its serial id comes later, in the same order). A
//! transaction or savepoint rolled back ([`crate::in_transaction`]) drops the rows recorded
//! inside it, as the database would have; a collection dropped without a flush (an error, a
//! panic) drops them all, and the caller's transaction, which must not commit then, is rolled
//! back by its own error.

use std::cell::RefCell;

use diesel::prelude::*;

use crate::audit::AuditEntry;
use crate::forms::NewHistoryRow;
use crate::pathways::NewStatusChangeRow;
use crate::schema::{audit_log, form_history, pathway_status_history};
use crate::RepoError;

/// Rows per insert statement: well under PostgreSQL's 65,535 bound values (14 an audit row).
const ROWS_PER_STATEMENT: usize = 2_000;

struct Buffer {
    /// The connection the collection is open on (its address): rows of any other are written at
    /// once.
    conn: usize,
    /// Which collection this is (a mark taken in one is never applied to another).
    generation: u64,
    audit: Vec<AuditEntry>,
    history: Vec<NewHistoryRow>,
    status: Vec<NewStatusChangeRow>,
}

thread_local! {
    static OPEN: RefCell<Option<Buffer>> = const { RefCell::new(None) };
    static GENERATION: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn address(conn: &PgConnection) -> usize {
    std::ptr::from_ref(conn) as usize
}

/// An open collection of log rows on one connection (see the module's documentation). Open it
/// inside the transaction that will write the rows: opened outside one, each use case would
/// commit its changes while their log rows wait for the flush.
#[must_use = "the rows are written only by flush"]
pub struct Deferred {
    open: bool,
}

impl Deferred {
    /// Opens a collection on `conn`, on this thread. While another one is open on this thread,
    /// the returned one collects nothing and its flush writes nothing (the outer one does).
    pub fn open(conn: &PgConnection) -> Self {
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            if open.is_some() {
                return Deferred { open: false };
            }
            let generation = GENERATION.with(|g| {
                g.set(g.get().wrapping_add(1));
                g.get()
            });
            *open = Some(Buffer {
                conn: address(conn),
                generation,
                audit: Vec::new(),
                history: Vec::new(),
                status: Vec::new(),
            });
            Deferred { open: true }
        })
    }

    /// Writes the collected rows (audit rows first, then form history, then status history,
    /// each in recorded order) and closes the collection.
    pub fn flush(mut self, conn: &mut PgConnection) -> Result<(), RepoError> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        let Some(buffer) = OPEN.with(|open| open.borrow_mut().take()) else {
            return Ok(());
        };
        if buffer.conn != address(conn) {
            return Err(RepoError::Other("log rows flushed to another connection than they were collected on".into()));
        }
        for part in buffer.audit.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(audit_log::table).values(part).execute(conn)?;
        }
        for part in buffer.history.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(form_history::table).values(part).execute(conn)?;
        }
        for part in buffer.status.chunks(ROWS_PER_STATEMENT) {
            diesel::insert_into(pathway_status_history::table).values(part).execute(conn)?;
        }
        Ok(())
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if self.open {
            OPEN.with(|open| open.borrow_mut().take());
        }
    }
}

/// How many rows are collected when a transaction or savepoint begins, to drop the later ones
/// when it is rolled back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    generation: u64,
    audit: usize,
    history: usize,
    status: usize,
}

pub(crate) fn mark(conn: &PgConnection) -> Option<Mark> {
    OPEN.with(|open| {
        open.borrow().as_ref().filter(|b| b.conn == address(conn)).map(|b| Mark {
            generation: b.generation,
            audit: b.audit.len(),
            history: b.history.len(),
            status: b.status.len(),
        })
    })
}

/// Drops the rows collected after `mark` (the transaction or savepoint that took it rolled back).
pub(crate) fn rewind(mark: Option<Mark>) {
    let Some(mark) = mark else { return };
    OPEN.with(|open| {
        if let Some(b) = open.borrow_mut().as_mut().filter(|b| b.generation == mark.generation) {
            b.audit.truncate(mark.audit);
            b.history.truncate(mark.history);
            b.status.truncate(mark.status);
        }
    });
}

/// Hands the open collection to `put` when it is open on `conn`; false: none is, write now.
fn keep(conn: &PgConnection, put: impl FnOnce(&mut Buffer)) -> bool {
    OPEN.with(|open| match open.borrow_mut().as_mut() {
        Some(b) if b.conn == address(conn) => {
            put(b);
            true
        }
        _ => false,
    })
}

/// Keeps an audit row for the flush when a collection is open on `conn`; false: write it now.
pub(crate) fn audit(conn: &PgConnection, entry: &AuditEntry) -> bool {
    keep(conn, |b| b.audit.push(entry.clone()))
}

/// Keeps a form history row for the flush when a collection is open on `conn`; false: write it
/// now.
pub(crate) fn history(conn: &PgConnection, row: &NewHistoryRow) -> bool {
    keep(conn, |b| b.history.push(row.clone()))
}

/// Keeps a status history row for the flush when a collection is open on `conn`; false: write
/// it now.
pub(crate) fn status_change(conn: &PgConnection, row: &NewStatusChangeRow) -> bool {
    keep(conn, |b| b.status.push(row.clone()))
}
