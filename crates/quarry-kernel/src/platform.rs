//! Where the kernel runs, as the binary read it from the environment: the
//! kernel reads no environment itself.

use std::collections::HashMap;

/// The user, the hub's URL prefix and the Spark host, passed in by the binary.
#[derive(Debug, Clone, Default)]
pub struct Platform {
    /// `JUPYTERHUB_USER`: the user's name on the hub.
    pub hub_user: Option<String>,
    /// `USER`: the user's name off the hub.
    pub system_user: Option<String>,
    /// `JUPYTERHUB_SERVICE_PREFIX`: the user's server URL prefix.
    pub service_prefix: Option<String>,
    /// `QUARRY_EXPORT_PREFIX`: where `%export` writes when given no folder.
    pub export_prefix: Option<String>,
    /// Spark and Java on this machine.
    pub spark: quarry_spark::SparkHost,
    /// The variables Spark's cluster detection and the administrator's
    /// limits are read from (`KUBERNETES_SERVICE_HOST`, `QUARRY_SPARK_*`, …).
    pub cluster: HashMap<String, String>,
}

impl Platform {
    /// The user's name: the hub's, else the system's.
    pub fn user(&self) -> Option<&str> {
        self.hub_user.as_deref().or(self.system_user.as_deref())
    }

    /// The server's URL prefix, ending in `/`.
    pub fn service_prefix(&self) -> String {
        let prefix = self.service_prefix.as_deref().unwrap_or("/");
        if prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        }
    }
}
