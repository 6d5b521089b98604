//! Spark for the Quarry kernel: a Spark Connect server as a child JVM (in
//! client mode, so the notebook pod is the driver), a small Spark Connect
//! client that hands results over as DataFusion Arrow batches, and, inside
//! Kubernetes, executor pods created through the pod's service account.
//!
//! * [`conf`] — every setting Spark is launched with, as testable data
//!   (from the `%spark start` options, `start_options`).
//! * [`server`] — the JVM: launch, readiness, crash reports, stop.
//! * [`client`] — Spark Connect over gRPC: SQL, views from Arrow, interrupt.
//! * [`k8s`] — preflight permissions, the executor watch, logs, cleanup.
//! * [`policy`] — the administrator's limits: images, executors, memory,
//!   settings users may not override.
//! * [`class_archive`] — Java class data sharing, so later starts are faster.
//! * [`session`] — one `%spark` session tying the three together.

// Only what the kernel uses is public: the session and its settings,
// finding Spark, and `k8s` (whose calls have their own integration tests).
mod arrow_types;
mod class_archive;
mod client;
mod conf;
mod error;
pub mod k8s;
mod policy;
mod server;
mod session;
mod start_options;
mod start_step;
mod upstream;
mod views;

pub use client::{QueryProgress, SparkResult, first_rows};
pub use conf::{Cluster, Owner, Placement, S3a, StartOptions};
pub use error::SparkError;
pub use policy::AdminPolicy;
pub use server::{SparkHost, find_spark_home, spark_home_of_python};
pub use session::{SessionConfig, SparkSession};
pub use start_step::StartStep;
pub use views::SparkView;

/// The Spark Connect protocol, generated from the `.proto` files of the
/// Spark release Quarry targets.
#[allow(clippy::all, dead_code, missing_docs, unused_qualifications)]
mod proto {
    tonic::include_proto!("spark.connect");
}
