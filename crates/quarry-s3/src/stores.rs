//! One `object_store` client per bucket, built on demand and shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use crate::cache::{CachingStore, RangeCache};
use crate::credentials::ObjectStoreCredentials;
use crate::location::validate_bucket_name;
use crate::staged::{StagedWrites, Staging, StagingStore};
use crate::{CredentialsProvider, Env, S3Error, S3Settings};

/// Builds and caches an [`ObjectStore`] per bucket, all signing with the same
/// [`CredentialsProvider`].
#[derive(Debug)]
pub struct S3Stores {
    settings: S3Settings,
    credentials: Arc<CredentialsProvider>,
    by_bucket: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    sdk: std::sync::OnceLock<aws_sdk_s3::Client>,
    public_sdk: std::sync::OnceLock<aws_sdk_s3::Client>,
    cache: Option<Arc<RangeCache>>,
    journal: Option<crate::UploadJournal>,
    /// The running write statement's scope, shared by every bucket's store.
    staging: Arc<Staging>,
}

impl S3Stores {
    /// Reads endpoint settings and credentials from `env`.
    pub fn from_env(env: &Env) -> Self {
        S3Stores::new(
            S3Settings::from_env(env),
            Arc::new(CredentialsProvider::from_env(env)),
        )
    }

    /// Stores for `settings`, all signing with `credentials`.
    pub fn new(settings: S3Settings, credentials: Arc<CredentialsProvider>) -> Self {
        S3Stores {
            settings,
            credentials,
            by_bucket: Mutex::new(HashMap::new()),
            sdk: std::sync::OnceLock::new(),
            public_sdk: std::sync::OnceLock::new(),
            cache: None,
            journal: None,
            staging: Arc::default(),
        }
    }

    /// Keeps up to `capacity` bytes of what is read in memory, shared by all
    /// buckets (see [`crate::cache`]); 0 reads everything from S3 each time.
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = (capacity > 0).then(|| Arc::new(RangeCache::new(capacity)));
        self
    }

    /// Writes multipart uploads down in `journal` while they run, so a
    /// later process can abort those this one leaves behind.
    pub fn with_upload_journal(mut self, journal: crate::UploadJournal) -> Self {
        self.journal = Some(journal);
        self
    }

    /// The upload journal, when one is configured.
    pub fn upload_journal(&self) -> Option<&crate::UploadJournal> {
        self.journal.as_ref()
    }

    /// The read cache, when one is configured.
    pub fn cache(&self) -> Option<&Arc<RangeCache>> {
        self.cache.as_ref()
    }

    /// The endpoint, region and addressing these stores use.
    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    /// The one credentials provider every store and client signs with.
    pub fn credentials(&self) -> &Arc<CredentialsProvider> {
        &self.credentials
    }

    /// The AWS SDK client, for bucket listings, paginated object listings
    /// with sizes, and batch deletes.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        self.sdk.get_or_init(|| {
            crate::sdk::client(
                &self.settings,
                self.settings.endpoint.as_deref(),
                Arc::clone(&self.credentials),
            )
        })
    }

    /// A client whose presigned URLs a browser can open: addressed to
    /// `QUARRY_S3_PUBLIC_ENDPOINT` when set, AWS itself when no endpoint
    /// is configured, and `None` for a custom endpoint with no public
    /// address (links to it would point where browsers cannot go).
    pub fn presigning_client(&self) -> Option<&aws_sdk_s3::Client> {
        match (&self.settings.public_endpoint, &self.settings.endpoint) {
            (Some(public), _) => Some(self.public_sdk.get_or_init(|| {
                crate::sdk::client(&self.settings, Some(public), Arc::clone(&self.credentials))
            })),
            (None, None) => Some(self.client()),
            (None, Some(_)) => None,
        }
    }

    /// Holds back what every bucket's store writes from now until the
    /// returned scope is published (the statement succeeded) or discarded
    /// (it failed or was interrupted), as the `staged` module explains. One write
    /// statement runs at a time per session.
    pub fn stage_writes(&self) -> StagedWrites {
        StagedWrites::begin(&self.staging)
    }

    /// The store for `bucket`, created on first use.
    pub fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, S3Error> {
        validate_bucket_name(bucket)?;
        let mut cache = self.by_bucket.lock().expect("store cache poisoned");
        if let Some(store) = cache.get(bucket) {
            return Ok(Arc::clone(store));
        }
        let mut store: Arc<dyn ObjectStore> = Arc::new(self.build(bucket)?);
        if let Some(cache) = &self.cache {
            store = Arc::new(CachingStore::new(store, bucket, Arc::clone(cache)));
        }
        store = Arc::new(StagingStore::new(store, Arc::clone(&self.staging)));
        cache.insert(bucket.to_string(), Arc::clone(&store));
        Ok(store)
    }

    fn build(&self, bucket: &str) -> Result<object_store::aws::AmazonS3, S3Error> {
        // object_store retries for up to three minutes by default; a notebook
        // user waiting on an unreachable server wants an answer sooner.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            ..RetryConfig::default()
        };
        let client = ClientOptions::new()
            .with_connect_timeout(self.settings.timeouts.connect)
            .with_timeout(self.settings.timeouts.attempt)
            .with_allow_http(true);
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.settings.region)
            .with_credentials(Arc::new(ObjectStoreCredentials(Arc::clone(
                &self.credentials,
            ))))
            .with_virtual_hosted_style_request(!self.settings.path_style)
            .with_retry(retry)
            .with_client_options(client);
        if let Some(endpoint) = &self.settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        builder.build().map_err(|e| S3Error::Client {
            bucket: bucket.to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_cached_per_bucket() {
        let stores = S3Stores::from_env(&Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("S3_ENDPOINT", "http://127.0.0.1:1"),
        ]));
        let a1 = stores.store("bucket-a").unwrap();
        let a2 = stores.store("bucket-a").unwrap();
        let b = stores.store("bucket-b").unwrap();
        assert!(Arc::ptr_eq(&a1, &a2));
        assert!(!Arc::ptr_eq(&a1, &b));
        assert!(stores.store("Bad_Bucket").is_err());
    }
}
