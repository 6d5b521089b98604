//! Results kept for the grid: the rows of recent results, held in memory so
//! a frontend can sort, filter and page through the *whole* result rather
//! than the rows a cell happened to display.
//!
//! ```text
//! run_cell ──▶ Holding (grows a pool reservation batch by batch)
//!                 │ finished and within the share
//!                 ▼
//!            ResultStore ── oldest dropped first ──▶ gone
//!                 │ result_page(id, sort, filters, offset, limit)
//!                 ▼
//!            DataFusion over a MemTable ──▶ Page (only the asked rows)
//! ```
//!
//! Held rows are charged to the session's DataFusion memory pool, so
//! keeping results never over-commits the kernel: queries see exactly the
//! memory that held results leave them. The store keeps at most
//! [`RESULT_SHARE`] of the pool; a result larger than that is not held and
//! its grid says so.

mod contract;
mod encode;
mod page;
mod view_sql;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, MemoryReservation};

pub use contract::{
    ActionsAnswer, ColumnKind, FirstPage, GridColumn, PageAnswer, PageRows, ResultBundleJson,
};
pub use encode::{RESULT_MIME, ResultBundle, grid_columns, grid_rows};
pub use page::{Filter, FilterOp, Page, PageRequest, ResultError, SortKey};
pub use view_sql::ViewDialect;

/// Share of the DataFusion pool that held results may take together.
pub const RESULT_SHARE: f64 = 0.25;

/// One result the store holds.
#[derive(Clone)]
pub(crate) struct HeldResult {
    pub(crate) id: String,
    pub(crate) schema: SchemaRef,
    pub(crate) batches: Arc<Vec<RecordBatch>>,
    bytes: usize,
}

/// The results a session holds, newest last.
pub struct ResultStore {
    /// Tells this kernel's results from an earlier kernel's (a restart).
    instance: String,
    share: usize,
    pool: Arc<dyn MemoryPool>,
    state: Mutex<StoreState>,
}

struct StoreState {
    held: VecDeque<HeldResult>,
    next: u64,
    reservation: MemoryReservation,
}

impl std::fmt::Debug for ResultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("ResultStore")
            .field("instance", &self.instance)
            .field("held", &state.held.len())
            .field("bytes", &state.reservation.size())
            .finish()
    }
}

/// How a result came to be held or not, for the grid's note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// The store holds every row under this id.
    Yes(String),
    /// The result was larger than the store's share (`bytes` at least).
    TooLarge {
        /// Bytes held when the store gave up.
        bytes: usize,
        /// The store's share.
        share: usize,
    },
}

impl ResultStore {
    /// A store taking at most [`RESULT_SHARE`] of `pool_bytes` from `pool`.
    pub(crate) fn new(pool: Arc<dyn MemoryPool>, pool_bytes: usize) -> Self {
        let reservation = MemoryConsumer::new("results kept for the grid").register(&pool);
        ResultStore {
            instance: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
            share: (pool_bytes as f64 * RESULT_SHARE) as usize,
            pool,
            state: Mutex::new(StoreState {
                held: VecDeque::new(),
                next: 1,
                reservation,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes the store may hold in all.
    pub fn share(&self) -> usize {
        self.share
    }

    /// Bytes held now.
    pub fn held_bytes(&self) -> usize {
        self.lock().reservation.size()
    }

    /// Starts holding a result as it streams in.
    pub(crate) fn start(&self) -> Holding {
        Holding {
            batches: Vec::new(),
            bytes: 0,
            share: self.share,
            reservation: MemoryConsumer::new("result being kept for the grid").register(&self.pool),
            gave_up: false,
        }
    }

    /// Keeps a finished result, dropping the oldest ones it needs room
    /// from. Returns how it was (or was not) held.
    pub(crate) fn finish(&self, schema: SchemaRef, holding: Holding) -> Held {
        if holding.gave_up {
            return Held::TooLarge {
                bytes: holding.bytes,
                share: self.share,
            };
        }
        let Holding {
            batches,
            bytes,
            reservation,
            ..
        } = holding;
        let mut state = self.lock();
        while state.reservation.size() + bytes > self.share {
            let Some(oldest) = state.held.pop_front() else {
                break;
            };
            state.reservation.shrink(oldest.bytes);
        }
        // Move the bytes from the streaming reservation to the store's.
        reservation.free();
        if state.reservation.try_grow(bytes).is_err() {
            return Held::TooLarge {
                bytes,
                share: self.share,
            };
        }
        let id = format!("{}-{}", self.instance, state.next);
        state.next += 1;
        state.held.push_back(HeldResult {
            id: id.clone(),
            schema,
            batches: Arc::new(batches),
            bytes,
        });
        Held::Yes(id)
    }

    /// Holds batches already in memory (a Spark result).
    pub fn hold(&self, schema: SchemaRef, batches: &[RecordBatch]) -> Held {
        let mut holding = self.start();
        for batch in batches {
            holding.push(batch);
        }
        self.finish(schema, holding)
    }

    pub(crate) fn get(&self, id: &str) -> Result<HeldResult, ResultError> {
        let state = self.lock();
        if let Some(held) = state.held.iter().find(|h| h.id == id) {
            return Ok(held.clone());
        }
        let ours = id.split('-').next() == Some(self.instance.as_str());
        Err(if ours {
            ResultError::Dropped
        } else {
            ResultError::Restarted
        })
    }

    /// Ids held now, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.lock().held.iter().map(|h| h.id.clone()).collect()
    }
}

/// A result being held while it streams: gives up (and frees what it
/// took) once it passes the store's share or the pool refuses more.
pub(crate) struct Holding {
    batches: Vec<RecordBatch>,
    bytes: usize,
    share: usize,
    reservation: MemoryReservation,
    gave_up: bool,
}

impl Holding {
    pub(crate) fn push(&mut self, batch: &RecordBatch) {
        if self.gave_up || batch.num_rows() == 0 {
            return;
        }
        let size = batch.get_array_memory_size();
        if self.bytes + size > self.share || self.reservation.try_grow(size).is_err() {
            self.gave_up = true;
            self.batches = Vec::new();
            self.reservation.free();
            self.bytes += size;
            return;
        }
        self.bytes += size;
        self.batches.push(batch.clone());
    }
}

#[cfg(test)]
mod tests;
