//! Finding and loading a Delta table through the session's own stores.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use deltalake_core::DeltaTable;
use deltalake_core::logstore::{StorageConfig, default_logstore};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use url::Url;

use super::DeltaError;

/// Which version of a table to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableVersion {
    /// The newest committed version.
    Latest,
    /// Version `n` (`VERSION AS OF n`).
    Number(u64),
    /// The newest version committed at or before this moment.
    AsOf(DateTime<Utc>),
}

/// Where a Delta table lives: its folder's URL (always ending in `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeltaLocation {
    url: Url,
}

impl DeltaLocation {
    /// The table at `location` (`s3://bucket/folder/`, `file:///…`).
    pub(crate) fn parse(location: &str) -> Result<Self, DeltaError> {
        let mut url = Url::parse(location).map_err(|_| DeltaError::NotATable {
            url: location.to_string(),
        })?;
        if url.scheme() == "s3a" {
            let _ = url.set_scheme("s3");
        }
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        Ok(DeltaLocation { url })
    }

    /// The folder's URL, as the user sees it.
    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The store for the bucket (or file system) the table is in, as the
    /// session resolves it: S3 tables go through `quarry_s3::S3Stores`.
    fn root_store(&self, runtime: &RuntimeEnv) -> Result<Arc<dyn ObjectStore>, DeltaError> {
        let root = format!(
            "{}://{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default()
        );
        ObjectStoreUrl::parse(&root)
            .and_then(|root| runtime.object_store(root))
            .map_err(|_| DeltaError::NotATable {
                url: self.url.to_string(),
            })
    }

    /// Whether the folder holds a Delta log: one listing of at most one
    /// key. A folder that cannot be listed counts as not a Delta table; the
    /// statement that reads it reports why.
    pub(crate) async fn has_log(&self, runtime: &RuntimeEnv) -> bool {
        let Ok(store) = self.root_store(runtime) else {
            return false;
        };
        let log = self.folder().join("_delta_log");
        matches!(store.list(Some(&log)).try_next().await, Ok(Some(_)))
    }

    /// The folder's path inside its store.
    fn folder(&self) -> StorePath {
        StorePath::from_url_path(self.url.path()).unwrap_or_default()
    }

    /// The table, not yet loaded: its log store over the session's store.
    pub(crate) fn table(&self, runtime: &RuntimeEnv) -> Result<DeltaTable, DeltaError> {
        let root = self.root_store(runtime)?;
        let prefixed: Arc<dyn ObjectStore> =
            Arc::new(PrefixStore::new(Arc::clone(&root), self.folder()));
        let log_store = default_logstore(prefixed, root, &self.url, &StorageConfig::default());
        Ok(DeltaTable::new(log_store))
    }

    /// The table at `version`, loaded.
    pub(crate) async fn load(
        &self,
        runtime: &RuntimeEnv,
        version: TableVersion,
    ) -> Result<DeltaTable, DeltaError> {
        let mut table = self.table(runtime)?;
        let loaded = match version {
            TableVersion::Latest => table.load().await,
            TableVersion::Number(n) => table.load_version(n).await,
            TableVersion::AsOf(moment) => table.load_with_datetime(moment).await,
        };
        match loaded {
            Ok(()) => Ok(table),
            Err(source) => Err(self.explain_load_failure(runtime, version, source).await),
        }
    }

    /// Names what is wrong when a load fails: no log at all, a version the
    /// log does not have, or the log itself (with deltalake's words).
    async fn explain_load_failure(
        &self,
        runtime: &RuntimeEnv,
        version: TableVersion,
        source: deltalake_core::DeltaTableError,
    ) -> DeltaError {
        let commits = match self.root_store(runtime) {
            Ok(store) => commit_versions(store.as_ref(), &self.folder()).await,
            Err(e) => return e,
        };
        match (commits.first(), commits.last(), version) {
            (None, _, _) => DeltaError::NotATable {
                url: self.url.to_string(),
            },
            (Some(&oldest), Some(&latest), TableVersion::Number(n)) if n < oldest || n > latest => {
                DeltaError::NoSuchVersion {
                    url: self.url.to_string(),
                    version: n,
                    oldest,
                    latest,
                }
            }
            _ => DeltaError::Log {
                url: self.url.to_string(),
                source,
            },
        }
    }
}

/// The versions whose commit files the folder's log holds, in order.
async fn commit_versions(store: &dyn ObjectStore, folder: &StorePath) -> Vec<u64> {
    let log = folder.clone().join("_delta_log");
    let mut versions: Vec<u64> = store
        .list(Some(&log))
        .filter_map(|meta| async move {
            let meta = meta.ok()?;
            let name = meta.location.filename()?.to_string();
            name.strip_suffix(".json")?.parse::<u64>().ok()
        })
        .collect()
        .await;
    versions.sort_unstable();
    versions
}
