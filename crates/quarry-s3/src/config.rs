//! Endpoint and region settings, read from the environment variables listed
//! in the README ("Configuration"; contracts in `crates/README.md`).

use std::collections::HashMap;

/// The variables this crate interprets (AWS's names and Quarry's S3
/// settings), as the binary read them: this crate reads no environment
/// itself, and tests pass a map without touching global state.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// Builds a fixed environment from `(name, value)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// The same from a map.
    pub fn from_map(map: HashMap<String, String>) -> Self {
        Env(map)
    }

    /// Sets `name` (a command-line flag that overrides a variable).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }

    /// The value of `name`, treating an empty value as unset (Kubernetes
    /// manifests often template variables to `""`).
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.trim().is_empty()).cloned()
    }
}

/// The default region when `AWS_REGION` is unset; MinIO and SeaweedFS accept
/// any region, and AWS needs a concrete one to sign.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where S3 lives and how to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// A custom endpoint such as `http://minio:9000`; `None` means AWS.
    pub endpoint: Option<String>,
    /// Signing region.
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`). Non-AWS servers such as
    /// MinIO rarely have wildcard DNS for virtual-hosted buckets.
    pub path_style: bool,
    /// `QUARRY_S3_PUBLIC_ENDPOINT`: the same S3 as browsers reach it, for
    /// presigned links. In a cluster the endpoint above is usually an
    /// in-cluster address no browser can resolve.
    pub public_endpoint: Option<String>,
    /// How long requests may take: a half-open server must not hang the
    /// panel or a cell.
    pub timeouts: S3Timeouts,
}

/// Bounds on every S3 request Quarry makes through the AWS SDK and
/// object_store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Timeouts {
    /// Establishing a connection.
    pub connect: std::time::Duration,
    /// One attempt of a request (sending it and reading its answer).
    pub attempt: std::time::Duration,
    /// A whole operation, retries included.
    pub operation: std::time::Duration,
}

impl Default for S3Timeouts {
    /// An attempt gets 30 s — a 64 MiB part copied server-side or an
    /// 8 MiB part uploaded fits easily — and an operation with its retries
    /// 90 s; a server that accepts and never answers is reported within
    /// that instead of never.
    fn default() -> Self {
        S3Timeouts {
            connect: std::time::Duration::from_secs(5),
            attempt: std::time::Duration::from_secs(30),
            operation: std::time::Duration::from_secs(90),
        }
    }
}

impl S3Settings {
    /// Reads `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else
    /// `S3_ENDPOINT`, and `AWS_REGION` (then `AWS_DEFAULT_REGION`).
    pub fn from_env(env: &Env) -> Self {
        let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_ENDPOINT"]
            .iter()
            .find_map(|name| env.get(name))
            .map(|e| normalise_endpoint(&e));
        let region = env
            .get("AWS_REGION")
            .or_else(|| env.get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_string());
        let path_style = endpoint.as_deref().is_some_and(|e| !is_aws_endpoint(e));
        S3Settings {
            endpoint,
            region,
            path_style,
            public_endpoint: env
                .get("QUARRY_S3_PUBLIC_ENDPOINT")
                .map(|e| normalise_endpoint(&e)),
            timeouts: S3Timeouts::default(),
        }
    }

    /// The endpoint as users should see it (`AWS S3 (region)` when unset).
    pub fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(e) => e.clone(),
            None => format!("AWS S3 ({})", self.region),
        }
    }
}

/// `S3_ENDPOINT` is often given without a scheme (`minio:9000`); such
/// in-cluster endpoints are plain HTTP.
fn normalise_endpoint(raw: &str) -> String {
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("http://{trimmed}")
    }
}

fn is_aws_endpoint(endpoint: &str) -> bool {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_precedence_follows_the_contract() {
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL_S3", "http://s3-specific:9000"),
            ("AWS_ENDPOINT_URL", "http://generic:9000"),
            ("S3_ENDPOINT", "http://legacy:9000"),
        ]);
        assert_eq!(
            S3Settings::from_env(&env).endpoint.as_deref(),
            Some("http://s3-specific:9000")
        );
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL", "http://generic:9000/"),
            ("S3_ENDPOINT", "x"),
        ]);
        assert_eq!(
            S3Settings::from_env(&env).endpoint.as_deref(),
            Some("http://generic:9000")
        );
        let env = Env::from_pairs([("S3_ENDPOINT", "minio:9000")]);
        assert_eq!(
            S3Settings::from_env(&env).endpoint.as_deref(),
            Some("http://minio:9000")
        );
    }

    #[test]
    fn custom_endpoints_use_path_style_and_aws_does_not() {
        let minio = S3Settings::from_env(&Env::from_pairs([("S3_ENDPOINT", "http://minio:9000")]));
        assert!(minio.path_style);
        let aws = S3Settings::from_env(&Env::from_pairs([(
            "AWS_ENDPOINT_URL",
            "https://s3.eu-west-1.amazonaws.com",
        )]));
        assert!(!aws.path_style);
        let none = S3Settings::from_env(&Env::from_pairs([]));
        assert!(!none.path_style);
        assert_eq!(none.region, DEFAULT_REGION);
        assert_eq!(none.endpoint_display(), "AWS S3 (us-east-1)");
    }

    #[test]
    fn the_public_endpoint_is_read_apart() {
        let env = Env::from_pairs([
            ("AWS_ENDPOINT_URL_S3", "http://minio.minio.svc:9000"),
            ("QUARRY_S3_PUBLIC_ENDPOINT", "https://s3.example.org/"),
        ]);
        let settings = S3Settings::from_env(&env);
        assert_eq!(
            settings.endpoint.as_deref(),
            Some("http://minio.minio.svc:9000")
        );
        assert_eq!(
            settings.public_endpoint.as_deref(),
            Some("https://s3.example.org")
        );
        assert_eq!(
            S3Settings::from_env(&Env::from_pairs([])).public_endpoint,
            None
        );
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let env = Env::from_pairs([("AWS_ENDPOINT_URL_S3", " "), ("S3_ENDPOINT", "http://m:1")]);
        assert_eq!(
            S3Settings::from_env(&env).endpoint.as_deref(),
            Some("http://m:1")
        );
        let env = Env::from_pairs([("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "eu-central-1")]);
        assert_eq!(S3Settings::from_env(&env).region, "eu-central-1");
    }
}
