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
mod driver_ports;
mod executors;
mod pod_template;
mod preflight;

pub use auth::{EXECUTOR_SECRET_DIR, SessionAuth};
pub use cluster::{SERVICE_ACCOUNT_DIR, detect_cluster, kube_client, pod_ip};
pub use driver_ports::{DRIVER_PORTS, DriverPorts, pick as pick_driver_ports, port_is_free};
pub use executors::{
    ExecutorView, Executors, Shown, cleanup, count_by_phase, describe_executors, executor_log,
    executor_view, quota_refusal,
};
pub use pod_template::{
    EXECUTOR_UID, spark_settings as pod_template_settings, write as write_pod_template,
};
pub use preflight::{REQUIRED, missing_permission_sentence, preflight};
