//! Resolves `s3://bucket/...` URLs to object stores on demand.
//!
//! DataFusion's default registry only knows stores registered up front, but
//! notebook users name buckets in ad-hoc queries (`SELECT … FROM
//! 's3://any-bucket/x.parquet'`), so S3 stores are created at first use from
//! the shared [`S3Stores`].

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use quarry_s3::S3Stores;
use url::Url;

#[derive(Debug)]
pub(crate) struct S3AwareRegistry {
    s3: Arc<S3Stores>,
    others: DefaultObjectStoreRegistry,
}

impl S3AwareRegistry {
    pub(crate) fn new(s3: Arc<S3Stores>) -> Self {
        S3AwareRegistry {
            s3,
            others: DefaultObjectStoreRegistry::new(),
        }
    }
}

impl ObjectStoreRegistry for S3AwareRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.others.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.others.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match url.scheme() {
            "s3" | "s3a" => {
                let bucket = url.host_str().unwrap_or_default();
                self.s3
                    .store(bucket)
                    .map_err(|e| DataFusionError::External(Box::new(e)))
            }
            _ => self.others.get_store(url),
        }
    }
}
