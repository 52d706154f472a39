//! The loader: one thread generates batches of whole pathways, several connections COPY them in
//! parallel, one transaction per batch.

use std::time::Instant;

use diesel::prelude::*;
use domain::national_id::IdKey;

use crate::RepoError;

use super::copy::flush;
use super::generate::{generate, Batch};
use super::*;

pub(super) fn connect(url: &str) -> Result<PgConnection, RepoError> {
    PgConnection::establish(url).map_err(|e| RepoError::Other(format!("cannot connect to the database: {e}")))
}

/// Loads `pathways` synthetic pathways generated from `seed` into the database at `url`. One
/// thread generates (and validates) the rows from the seeded generator, in batches of whole
/// pathways; `options.writers` connections COPY the batches in parallel, one transaction per
/// batch. The rows depend only on the seed and the register's contents before the load, never
/// on which connection wrote which batch. `progress` is told the number of pathways committed.
pub fn load(
    url: &str,
    key: &IdKey,
    pathways: usize,
    seed: u64,
    settings: &SyntheticSettings,
    options: &LoadOptions,
    mut progress: impl FnMut(usize),
) -> Result<LoadSummary, RepoError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};

    let started = Instant::now();
    let mut conn = connect(url)?;
    let writers = options.writers.max(1);
    let (tx, rx) = mpsc::sync_channel::<Batch>(writers);
    let rx = Arc::new(Mutex::new(rx));
    let failed = AtomicBool::new(false);
    let written = AtomicUsize::new(0);
    let (generated, results) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|_| {
                let rx = Arc::clone(&rx);
                let (failed, written) = (&failed, &written);
                scope.spawn(move || {
                    let result = write_batches(url, &rx, written);
                    if result.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    result
                })
            })
            .collect();
        drop(rx); // the writers hold the receiver: when they all stop, sending fails
        let generated = generate(&mut conn, key, pathways, seed, settings, options.batch_pathways, |batch| {
            if failed.load(Ordering::SeqCst) {
                return Err(RepoError::Other("a writer failed".into()));
            }
            tx.send(batch).map_err(|_| RepoError::Other("every writer stopped".into()))?;
            progress(written.load(Ordering::SeqCst));
            Ok(())
        });
        drop(tx); // no more batches: the writers finish what is queued and stop
        let results: Vec<Result<(), RepoError>> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(RepoError::Other("a writer panicked".into()))))
            .collect();
        (generated, results)
    });
    // A writer's own error says more than the generator's "a writer failed".
    for r in results {
        r?;
    }
    let mut summary = generated?;
    progress(written.load(Ordering::SeqCst));
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// One writer: its own connection (asynchronous commit, worklist-facts triggers off because the
/// rows carry their facts), COPYing batches until the channel closes.
pub(super) fn write_batches(
    url: &str,
    rx: &std::sync::Mutex<std::sync::mpsc::Receiver<Batch>>,
    written: &std::sync::atomic::AtomicUsize,
) -> Result<(), RepoError> {
    let mut conn = connect(url)?;
    // A crash can lose the last batches committed (never corrupt the database); the load is
    // rerun from scratch anyway.
    diesel::sql_query("SET synchronous_commit = off").execute(&mut conn)?;
    diesel::sql_query("SET rusreg.bulk_load = 'on'").execute(&mut conn)?;
    loop {
        let next = rx.lock().map_err(|_| RepoError::Other("a writer panicked".into()))?.recv();
        let Ok(mut batch) = next else { return Ok(()) };
        flush(&mut conn, &mut batch.buffers)?;
        written.fetch_add(batch.pathways, std::sync::atomic::Ordering::SeqCst);
    }
}
