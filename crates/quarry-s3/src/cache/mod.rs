//! Keeping the bytes of S3 objects in memory between queries.
//!
//! A notebook asks many questions of the same files: the same Parquet
//! column chunks are read cell after cell, and over S3 each read is a round
//! trip that costs more than the decoding. [`CachingStore`] sits in front of
//! each bucket's store and answers repeated range reads from a
//! [`RangeCache`] shared by all buckets under one byte budget.
//!
//! Staleness is ruled out by version, not by time: bytes are only answered
//! for the object version (ETag) last seen in a listing or HEAD — the same
//! observation DataFusion plans the query with — and a fetch that finds a
//! different version stops all answers for that object until it is listed
//! again. Writes through the store forget the object at once.
//!
//! Values derived from whole objects (a CSV file decoded into Arrow by
//! `quarry-sql`) live in the same budget and use order, keyed by the object
//! versions they were computed from.

mod ranges;
mod store;

pub use ranges::{CacheStats, Derived, RangeCache};
pub use store::CachingStore;
