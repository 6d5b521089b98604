//! Test support for the platform parts of Quarry.
//!
//! [`manifests`] checks that every Kubernetes manifest the project ships
//! (images/k8s/) is exactly the kind it claims: parsed through
//! `k8s-openapi`'s types and compared field by field with what was written,
//! so a misspelled or misplaced field fails instead of being ignored by the
//! API server at deploy time.
//!
//! [`fake_kube`] is a fake Kubernetes API server and kubelet stand-in that
//! lets a real Spark driver run real executors on this machine.
//!
//! [`generated`] checks (and, with `QUARRY_BLESS`, rewrites) the files
//! generated from definitions in the code.

pub mod fake_kube;
pub mod generated;
pub mod manifests;
