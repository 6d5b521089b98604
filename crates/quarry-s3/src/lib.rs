//! S3 access for every Quarry component.
//!
//! The kernel's SQL engine, the `%s3` magics and the panel backend must agree
//! on *which* endpoint they talk to and *whose* credentials they sign with, so
//! this crate is the single place that reads the credentials contract in
//! the top-level README ("Credentials that renew themselves", "Configuration"). Callers get ready-made [`object_store`] stores
//! per bucket from [`S3Stores`]; nothing else in Quarry reads `AWS_*`
//! variables.
//!
//! Secrets never leave this crate in printable form: [`Credentials`] redacts
//! them in `Debug`, and every error message is built from non-secret fields.

mod cache;
mod config;
mod copy;
mod credentials;
mod error;
mod failure;
mod location;
mod ops;
mod sdk;
mod stores;

pub use cache::{CacheStats, CachingStore, RangeCache};
pub use config::{Env, S3Settings};
pub use copy::{copy_object, copy_prefix};
pub use credentials::{Credentials, CredentialsProvider, Identity};
pub use error::S3Error;
pub use failure::{
    FailureKind, S3Failure, S3Reply, explain as explain_failure,
    explain_sdk as explain_sdk_failure, explain_store as explain_store_failure,
    not_found as not_found_failure, xml_tag,
};
pub use location::S3Location;
pub use ops::{DeletePrefixError, abort_multipart_upload, delete_prefix};
pub use stores::S3Stores;
