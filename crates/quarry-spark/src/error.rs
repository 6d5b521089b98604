//! Spark failures, each one sentence a notebook user can act on.

/// What went wrong with a Spark session or query.
#[derive(Debug, thiserror::Error)]
pub enum SparkError {
    /// A magic was used wrongly.
    #[error("{0}")]
    Usage(String),
    /// No Spark distribution was found.
    #[error("{0}")]
    NotInstalled(String),
    /// The Spark Connect server could not be started or died.
    #[error("{0}")]
    Server(String),
    /// Spark refused or failed a query; the message is Spark's own.
    #[error("{0}")]
    Query(String),
    /// The query was cancelled by an interrupt.
    #[error("The Spark query was interrupted; the Spark session and its views are kept.")]
    Interrupted,
    /// Kubernetes said no (RBAC, quota) or could not be reached.
    #[error("{0}")]
    Kubernetes(String),
    /// The platform's administrator does not allow this (image, size).
    #[error("{0}")]
    NotAllowed(String),
}

impl SparkError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        SparkError::Usage(message.into())
    }

    /// The error name shown in the notebook's traceback header.
    pub fn ename(&self) -> &'static str {
        match self {
            SparkError::Usage(_) => "SparkUsageError",
            SparkError::NotInstalled(_) => "SparkNotInstalled",
            SparkError::Server(_) => "SparkServerError",
            SparkError::Query(_) => "SparkQueryError",
            SparkError::Interrupted => "QueryInterrupted",
            SparkError::Kubernetes(_) => "KubernetesError",
            SparkError::NotAllowed(_) => "SparkNotAllowed",
        }
    }
}
