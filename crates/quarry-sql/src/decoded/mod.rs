//! CSV and JSON files kept decoded between queries.
//!
//! Parquet is read in column chunks by ranged GETs, and the S3 byte cache
//! answers the second query's reads from memory. CSV and JSON cannot be read
//! that way: every query fetches the whole text again and parses it again,
//! and parsing is most of the cost. So the first full scan of a CSV/JSON
//! table keeps what it decoded — Arrow batches of every column — and the
//! next query over the same files reads them from memory: no text is fetched
//! or parsed at all.
//!
//! ```text
//!   ListingTable ─▶ DecodedFormat::create_physical_plan
//!        hit : ProjectionExec ─▶ DataSourceExec(MemorySourceConfig: the kept batches)
//!        miss: ProjectionExec ─▶ KeepDecodedExec ─▶ DataSourceExec(CsvSource, every column)
//!                                  (keeps the batches once every partition finished)
//! ```
//!
//! **Never stale.** A kept table is keyed by the versions (ETag and size,
//! else size and modification time) of the files in the query's own
//! listing, exactly as the byte cache keys bytes: an object rewritten by
//! anyone has a new version at its next listing and is read afresh.
//! Formats' options and the table's columns are in the key too, so two
//! definitions over one file never share a decoding.
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

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use object_store::ObjectMeta;

/// The batches of one scan's files, every column, in the order read.
#[derive(Debug)]
struct DecodedTable {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
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
