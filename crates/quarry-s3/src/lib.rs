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

#![warn(missing_docs)]

mod abort_retry;
mod cache;
mod config;
mod copy;
pub mod counting;
mod credentials;
mod delete_prefix;
mod error;
mod failure;
mod files;
mod journal;
mod location;
mod multipart;
mod objects;
mod sdk;
mod staged;
mod stores;
mod table_formats;
mod upstream;

pub use cache::{CacheStats, CachingStore, Derived, RangeCache};
pub use config::{Env, S3Settings, S3Timeouts};
pub use copy::{copy_object, copy_prefix};
pub use credentials::{Credentials, CredentialsProvider, Identity, TokenFileState};
pub use delete_prefix::{DeletePrefixError, delete_prefix};
pub use error::S3Error;
pub use failure::{
    FailureKind, S3Failure, S3Reply, StoreReply, explain as explain_failure,
    explain_sdk as explain_sdk_failure, explain_store as explain_store_failure,
    not_found as not_found_failure, xml_tag,
};
pub use files::{FileCopyError, download_to_file, upload_file};
pub use journal::UploadJournal;
pub use location::{S3Location, validate_bucket_name};
pub use multipart::{MIN_PART_BYTES, MultipartUpload, UploadedPart};
pub use objects::{
    BucketEntry, ByteRange, FolderLevel, ObjectBody, ObjectEntry, ObjectInfo, create_folder,
    delete_object, exists, get_object, head_object, list_buckets, list_level, presigned_download,
    put_object, read_head,
};
pub use staged::{Discarded, StagedWrites};
pub use stores::S3Stores;
pub use table_formats::{TABLE_EXTENSIONS, TableFormat, table_format};
