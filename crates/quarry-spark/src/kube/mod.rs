//! Executors as Kubernetes pods: finding the cluster from inside the
//! notebook pod, checking permissions before Spark starts, watching the
//! session's executor pods, their logs, the session's shared secret (driver ↔
//! executor authentication), and cleaning up after the session.
//!
//! The decisions (which permission is missing, what a Pending pod is
//! waiting for, what a quota refusal means) are plain functions over
//! Kubernetes types; the IO around them is thin.

mod auth;
mod cluster;
mod executors;
mod preflight;

pub use auth::{EXECUTOR_SECRET_DIR, SessionAuth};
pub use cluster::{SERVICE_ACCOUNT_DIR, detect_cluster, kube_client, pod_ip};
pub use executors::{
    ExecutorView, Executors, cleanup, count_by_phase, describe_executors, executor_log,
    executor_view, quota_refusal,
};
pub use preflight::{REQUIRED, missing_permission_sentence, preflight};
