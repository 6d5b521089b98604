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
    /// A local file, folder or port Spark needs could not be set up.
    #[error("Could not {action}: {source}.")]
    Local {
        /// What Quarry was doing, e.g. "write the executor pod template".
        action: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The query was cancelled by an interrupt.
    #[error("The Spark query was interrupted; the Spark session and its views are kept.")]
    Interrupted,
    /// Kubernetes said no (RBAC, quota) or could not be reached, found
    /// without an API call failing (a refusal read from a log, a pod with
    /// no IP yet).
    #[error("{0}")]
    Kubernetes(String),
    /// An API call failed; the message is the API server's own.
    #[error("Cannot {action}: {}.", api_message(source))]
    KubernetesApi {
        /// What Quarry was doing, e.g. "clean up the session's Pods".
        action: String,
        /// The client's error, with the API server's status.
        #[source]
        source: kube::Error,
    },
    /// The platform's administrator does not allow this (image, size).
    #[error("{0}")]
    NotAllowed(String),
}

impl SparkError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        SparkError::Usage(message.into())
    }

    /// Wraps a failed local operation (lower-case, e.g. "write the
    /// executor pod template").
    pub(crate) fn local(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> SparkError {
        let action = action.into();
        move |source| SparkError::Local { action, source }
    }

    /// Wraps a failed API call made to `action` (lower-case, e.g. "read
    /// the log of exec-1").
    pub(crate) fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> SparkError {
        let action = action.into();
        move |source| SparkError::KubernetesApi { action, source }
    }

    /// The error name shown in the notebook's traceback header.
    pub fn ename(&self) -> &'static str {
        match self {
            SparkError::Usage(_) => "SparkUsageError",
            SparkError::NotInstalled(_) => "SparkNotInstalled",
            SparkError::Server(_) | SparkError::Local { .. } => "SparkServerError",
            SparkError::Query(_) => "SparkQueryError",
            SparkError::Interrupted => "QueryInterrupted",
            SparkError::Kubernetes(_) | SparkError::KubernetesApi { .. } => "KubernetesError",
            SparkError::NotAllowed(_) => "SparkNotAllowed",
        }
    }
}

/// The API server's own message for an error (e.g. "pods is forbidden: …").
pub(crate) fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message.trim_end_matches('.').to_string(),
        other => other.to_string().trim_end_matches('.').to_string(),
    }
}
