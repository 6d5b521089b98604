//! Spark that only its owner can talk to: driver ↔ executor RPC is
//! authenticated and encrypted with a secret made for one session.
//!
//! Without `spark.authenticate`, anything that can reach the driver's port
//! can register as an executor and is sent the session's configuration —
//! S3 keys included. With it, both sides prove they hold the session secret
//! before anything else is said, and `spark.network.crypto` encrypts what
//! follows (`spark.io.encryption` the shuffle and spill files too).
//!
//! The secret travels by file only, never through the Spark configuration
//! (which executors receive) nor an environment variable (which `get pods`
//! shows): the driver reads a 0600 file next to the server's properties;
//! executors read it from a Kubernetes Secret of the session mounted into
//! their pods (`spark.kubernetes.executor.secrets.*`, and because
//! `spark.authenticate.secret.executor.file` is set, Spark puts no
//! `SPARK_AUTHENTICATE_SECRET` into the pod spec). The Secret carries the
//! session's labels and an ownerReference to the notebook pod, and is
//! deleted at `%spark stop`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, PostParams};

use crate::SparkError;
use crate::conf::Owner;

/// Where executors find the secret (the Secret's mount in their pods).
pub const EXECUTOR_SECRET_DIR: &str = "/var/run/quarry/spark-auth";
/// The key in the Secret, hence the file name under the mount.
const SECRET_KEY: &str = "secret";

/// One session's shared secret and where each side reads it.
pub struct SessionAuth {
    /// The Kubernetes Secret's name.
    pub secret_name: String,
    value: String,
    /// Holds the driver's copy of the secret (0600); removed on drop.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for SessionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value, even in a debug log.
        f.debug_struct("SessionAuth")
            .field("secret_name", &self.secret_name)
            .finish_non_exhaustive()
    }
}

impl SessionAuth {
    /// A fresh random secret for `owner`'s session, written for the driver.
    /// Its Secret's name follows from the session label, which is how the
    /// admission policy (images/k8s/user-pod-policy.yaml) knows it is the
    /// one Secret an executor of that session may mount.
    pub fn generate(owner: &Owner) -> Result<SessionAuth, SparkError> {
        let value = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let dir = tempfile::Builder::new()
            .prefix("quarry-spark-auth-")
            .tempdir()
            .map_err(SparkError::local("write the Spark session secret"))?;
        let auth = SessionAuth {
            secret_name: secret_name(owner),
            value,
            dir,
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(auth.driver_file())
            .and_then(|mut f| f.write_all(auth.value.as_bytes()))
            .map_err(SparkError::local("write the Spark session secret"))?;
        Ok(auth)
    }

    fn driver_file(&self) -> PathBuf {
        self.dir.path().join(SECRET_KEY)
    }

    /// The session's private folder (0700, removed with the session), for
    /// other files only the driver reads, such as the executor pod template.
    pub fn private_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The Spark settings that turn authentication and encryption on; they
    /// name files, never the secret.
    pub fn spark_settings(&self) -> Vec<(String, String)> {
        settings(&self.secret_name, &self.driver_file())
    }

    /// Creates the session's Secret, owned by the notebook pod so that it
    /// goes with the pod even if the kernel is killed.
    pub async fn create_secret(
        &self,
        client: &kube::Client,
        namespace: &str,
        owner: &Owner,
        notebook_pod: &str,
    ) -> Result<(), SparkError> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let refused = || SparkError::api("create the Spark session's secret");
        let pod = pods.get(notebook_pod).await.map_err(refused())?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(self.secret_name.clone()),
                labels: Some(owner.labels().into_iter().collect()),
                owner_references: pod.metadata.uid.map(|uid| {
                    vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "Pod".into(),
                        name: notebook_pod.to_string(),
                        uid,
                        ..OwnerReference::default()
                    }]
                }),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(
                SECRET_KEY.to_string(),
                ByteString(self.value.as_bytes().to_vec()),
            )])),
            ..Secret::default()
        };
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        secrets
            .create(&PostParams::default(), &secret)
            .await
            .map_err(refused())?;
        Ok(())
    }

    /// Deletes the session's Secret (gone already is fine).
    pub async fn delete_secret(
        &self,
        client: &kube::Client,
        namespace: &str,
    ) -> Result<(), SparkError> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        match secrets
            .delete(&self.secret_name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(SparkError::api(format!(
                "delete the Spark session's secret {}",
                self.secret_name
            ))(e)),
        }
    }
}

/// `quarry-spark-auth-<session id>`: the admission policy allows a pod
/// labelled `quarry.io/session: <id>` this Secret and no other.
fn secret_name(owner: &Owner) -> String {
    format!("quarry-spark-auth-{}", owner.session_id)
}

fn settings(secret_name: &str, driver_file: &Path) -> Vec<(String, String)> {
    let pair = |k: &str, v: String| (k.to_string(), v);
    vec![
        pair("spark.authenticate", "true".into()),
        pair(
            "spark.authenticate.secret.driver.file",
            driver_file.display().to_string(),
        ),
        pair(
            "spark.authenticate.secret.executor.file",
            format!("{EXECUTOR_SECRET_DIR}/{SECRET_KEY}"),
        ),
        // An executor first fetches the driver's settings through a
        // security manager that reads only the generic key; the driver
        // itself reads the `.driver.file` above.
        pair(
            "spark.authenticate.secret.file",
            format!("{EXECUTOR_SECRET_DIR}/{SECRET_KEY}"),
        ),
        pair(
            &format!("spark.kubernetes.executor.secrets.{secret_name}"),
            EXECUTOR_SECRET_DIR.into(),
        ),
        pair("spark.network.crypto.enabled", "true".into()),
        pair("spark.io.encryption.enabled", "true".into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_name_files_never_the_secret() {
        let owner = Owner {
            user: "alice".into(),
            session_id: "0123456789ab".into(),
        };
        let auth = SessionAuth::generate(&owner).unwrap();
        assert_eq!(auth.secret_name, "quarry-spark-auth-0123456789ab");
        let settings = auth.spark_settings();
        let text = format!("{settings:?} {auth:?}");
        assert!(!text.contains(&auth.value), "the secret leaked into {text}");
        let get = |key: &str| {
            settings
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("spark.authenticate").as_deref(), Some("true"));
        assert_eq!(get("spark.network.crypto.enabled").as_deref(), Some("true"));
        let driver_file = get("spark.authenticate.secret.driver.file").unwrap();
        assert_eq!(std::fs::read_to_string(&driver_file).unwrap(), auth.value);
        let mode = std::fs::metadata(&driver_file).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        assert_eq!(
            get("spark.kubernetes.executor.secrets.quarry-spark-auth-0123456789ab").as_deref(),
            Some(EXECUTOR_SECRET_DIR)
        );
        assert!(auth.value.len() >= 64);
        // The driver's copy goes with the session.
        drop(auth);
        assert!(!Path::new(&driver_file).exists());
    }
}
