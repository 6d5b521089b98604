//! Handlers, one module per family of routes. Every S3 operation is
//! `quarry-s3`'s; handlers validate, call it and shape the JSON.

pub(crate) mod browse;
pub(crate) mod copy;
pub(crate) mod objects;
pub(crate) mod preview;
pub(crate) mod whoami;
