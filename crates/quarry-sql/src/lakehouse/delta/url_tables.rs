//! `SELECT … FROM 's3://bucket/folder/'`: a folder with a `_delta_log` is
//! read as the Delta table it is; every other URL as DataFusion reads it.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{TableProvider, UrlTableFactory};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::error::Result;
use datafusion::execution::runtime_env::RuntimeEnv;

use super::{DeltaError, DeltaLocation, LiveDeltaTable, TableVersion};

/// DataFusion's URL tables, with Delta folders recognised first.
#[derive(Debug)]
pub(crate) struct DeltaAwareUrlTables {
    files: Arc<DynamicListTableFactory>,
    runtime: Arc<RuntimeEnv>,
}

impl DeltaAwareUrlTables {
    pub(crate) fn new(files: Arc<DynamicListTableFactory>, runtime: Arc<RuntimeEnv>) -> Self {
        DeltaAwareUrlTables { files, runtime }
    }

    /// The Delta table at `url`, when it names a folder with a log. One
    /// listing of at most one key; a folder that cannot be listed is left
    /// to DataFusion, which reports it.
    async fn delta_folder(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if !url.ends_with('/') || !(url.starts_with("s3://") || url.starts_with("file://")) {
            return Ok(None);
        }
        let Ok(location) = DeltaLocation::parse(url) else {
            return Ok(None);
        };
        if !location.has_log(&self.runtime).await {
            return Ok(None);
        }
        let table = LiveDeltaTable::open(&self.runtime, location, TableVersion::Latest)
            .await
            .map_err(DeltaError::into_datafusion)?;
        Ok(Some(Arc::new(table)))
    }
}

#[async_trait]
impl UrlTableFactory for DeltaAwareUrlTables {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(table) = self.delta_folder(url).await? {
            return Ok(Some(table));
        }
        self.files.try_new(url).await
    }
}
