//! CSV and JSON files kept decoded between queries.
//!
//! Parquet is read in column chunks by ranged GETs, and the S3 byte cache
//! answers the second query's reads from memory. CSV and JSON cannot be read
//! that way: every query fetches the whole text again and parses it again,
//! and parsing is most of the cost. So a complete scan of a CSV/JSON table
//! keeps what it decoded — Arrow batches of the columns it read — and the
//! next query over the same files and columns reads them from memory: no
//! text is fetched or parsed at all.
//!
//! ```text
//!   ListingTable ─▶ DecodedFormat::create_physical_plan
//!        hit : ProjectionExec ─▶ DataSourceExec(MemorySourceConfig: the kept batches)
//!        miss: ProjectionExec ─▶ KeepDecodedExec ─▶ DataSourceExec(CsvSource, columns to keep)
//!                                  (keeps the batches once every partition finished)
//! ```
//!
//! **Only the columns asked for.** Turning text into numbers and times is
//! the cost of a CSV scan, so a scan decodes only what its query names —
//! the first query is as quick as with the cache off. A later query naming
//! a column not kept yet reads the text once more and decodes its columns
//! together with the kept ones, replacing the narrower decoding: the kept
//! table grows toward the columns the notebook uses, never two copies.
//!
//! **Never stale.** A kept table is keyed by the versions (ETag and size,
//! else size and modification time) of the files in the query's own
//! listing, exactly as the byte cache keys bytes: an object rewritten by
//! anyone has a new version at its next listing and is read afresh.
//! Formats' options and the table's columns are in the key too, so two
//! definitions over one file never share a decoding.
//!
//! **Sizes for the planner.** CSV and JSON files come with no statistics,
//! so DataFusion cannot tell a 40-row lookup file from a large table and
//! builds a join's hash table from whichever side was written first. The
//! wrapped formats give each file's size as an inexact byte estimate
//! (with the cache off too), so the small side is built, once.
//!
//! **One budget.** Kept tables live in the same [`RangeCache`] as the
//! bytes, under its budget and use order (`%config s3_cache clear` drops
//! both, an idle kernel releases both); a table over half the budget is
//! not kept. A scan with a `LIMIT` pushed into it, or one that fails or is
//! cancelled, keeps nothing: only complete decodings are kept.

mod format;
mod keep;

pub(crate) use format::install;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use object_store::ObjectMeta;

/// The batches of one scan's files, in the order read: the file columns
/// named by `columns` (ascending indices into the table's columns), which
/// are the columns the queries over these files have asked for so far.
#[derive(Debug)]
struct DecodedTable {
    schema: SchemaRef,
    columns: Arc<[usize]>,
    batches: Vec<RecordBatch>,
}

impl DecodedTable {
    /// Whether every one of `needed` (ascending) was decoded.
    fn covers(&self, needed: &[usize]) -> bool {
        needed.iter().all(|c| self.columns.binary_search(c).is_ok())
    }
}

/// The columns to decode for a scan needing `needed` when `kept` were
/// decoded before: both, so the decoding grows toward the columns the
/// notebook uses instead of each column set keeping its own copy.
fn columns_to_decode(kept: Option<&[usize]>, needed: &[usize]) -> Vec<usize> {
    let mut columns: Vec<usize> = kept
        .unwrap_or_default()
        .iter()
        .chain(needed)
        .copied()
        .collect();
    columns.sort_unstable();
    columns.dedup();
    if columns.is_empty() {
        // `count(*)` names no column; the rows still need one to be counted.
        columns.push(0);
    }
    columns
}

/// How a file version enters a key: the same rule as the byte cache's
/// `same_version` (ETag and size when there is an ETag, else size and the
/// modification time to the second).
fn version(meta: &ObjectMeta) -> String {
    match &meta.e_tag {
        Some(tag) => format!("{}|{}|{tag}", meta.location, meta.size),
        None => format!(
            "{}|{}|@{}",
            meta.location,
            meta.size,
            meta.last_modified.timestamp()
        ),
    }
}
