//! What the platform's administrator allows a Spark session in a cluster:
//! which executor images, how many executors and how much memory each, and
//! which settings users may not override with `--conf` (they hold the
//! session's isolation: namespace, identity, authentication).
//!
//! Checked against the final configuration — after `--conf` pairs, which
//! override Quarry's own choices — so no option spelling slips past. Each
//! refusal is one sentence naming the limit and the variable that sets it.

use crate::SparkError;

/// Limits read from the notebook pod's environment (values.yaml sets them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminPolicy {
    /// `QUARRY_SPARK_IMAGES`: allowed executor images, comma-separated.
    /// `registry/path/` allows everything under it; `repo` any tag of that
    /// repository; `repo:tag` or `repo@digest` exactly that. Empty: any.
    pub images: Vec<String>,
    /// `QUARRY_SPARK_MAX_EXECUTORS`.
    pub max_executors: Option<u32>,
    /// `QUARRY_SPARK_MAX_EXECUTOR_MEMORY`, a JVM size such as `8g`.
    pub max_executor_memory: Option<String>,
}

/// Settings Quarry owns in a cluster: changing them would leave the
/// user's namespace, identity or the session's authentication.
const LOCKED: &[&str] = &[
    "spark.master",
    "spark.submit.deployMode",
    "spark.kubernetes.namespace",
    "spark.kubernetes.driver.pod.name",
    "spark.kubernetes.authenticate.",
    "spark.kubernetes.executor.podNamePrefix",
    "spark.kubernetes.executor.label.",
    "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.executor.secrets.",
    "spark.kubernetes.executor.volumes.",
    "spark.authenticate",
    "spark.network.crypto.",
    "spark.io.encryption.",
    "spark.connect.grpc.",
];

impl AdminPolicy {
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> AdminPolicy {
        let set = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        AdminPolicy {
            images: set("QUARRY_SPARK_IMAGES")
                .map(|list| {
                    list.split(',')
                        .map(|i| i.trim().to_string())
                        .filter(|i| !i.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            max_executors: set("QUARRY_SPARK_MAX_EXECUTORS").and_then(|n| n.parse().ok()),
            max_executor_memory: set("QUARRY_SPARK_MAX_EXECUTOR_MEMORY"),
        }
    }

    /// Whether `image` is on the allow-list.
    pub fn allows_image(&self, image: &str) -> bool {
        self.images.is_empty() || self.images.iter().any(|entry| image_matches(entry, image))
    }

    /// Checks a cluster session's final configuration.
    pub fn check(
        &self,
        user_conf: &[(String, String)],
        conf: &[(String, String)],
    ) -> Result<(), SparkError> {
        if let Some((key, _)) = user_conf.iter().find(|(key, _)| is_locked(key)) {
            return Err(SparkError::NotAllowed(format!(
                "--conf {key} cannot be set here: Quarry sets it to keep the Spark session in this notebook's own namespace and identity."
            )));
        }
        let get = |key: &str| {
            conf.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        if let Some(image) = get("spark.kubernetes.container.image")
            .or(get("spark.kubernetes.executor.container.image"))
            && !self.allows_image(image)
        {
            return Err(SparkError::NotAllowed(format!(
                "The executor image {image} is not allowed on this platform; allowed: {} (QUARRY_SPARK_IMAGES, set by the administrator).",
                self.images.join(", ")
            )));
        }
        if let Some(max) = self.max_executors {
            let dynamic = get("spark.dynamicAllocation.enabled") == Some("true");
            let asked = if dynamic {
                get("spark.dynamicAllocation.maxExecutors").and_then(|n| n.parse::<u64>().ok())
            } else {
                get("spark.executor.instances").and_then(|n| n.parse::<u64>().ok())
            };
            match asked {
                Some(n) if n <= u64::from(max) => {}
                Some(n) => {
                    return Err(SparkError::NotAllowed(format!(
                        "{n} executors is more than this platform allows: at most {max} (QUARRY_SPARK_MAX_EXECUTORS, set by the administrator)."
                    )));
                }
                None => {
                    return Err(SparkError::NotAllowed(format!(
                        "Dynamic allocation needs spark.dynamicAllocation.maxExecutors of at most {max} here (QUARRY_SPARK_MAX_EXECUTORS)."
                    )));
                }
            }
        }
        if let Some(max) = &self.max_executor_memory
            && let (Some(limit), Some(asked)) = (
                jvm_bytes(max),
                get("spark.executor.memory").and_then(jvm_bytes),
            )
            && asked > limit
        {
            let asked = get("spark.executor.memory").unwrap_or_default();
            return Err(SparkError::NotAllowed(format!(
                "--executor-memory {asked} is more than this platform allows: at most {max} per executor (QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator)."
            )));
        }
        Ok(())
    }
}

fn is_locked(key: &str) -> bool {
    LOCKED.iter().any(|locked| {
        if locked.ends_with('.') {
            key.starts_with(locked)
        } else {
            key == *locked || key.starts_with(&format!("{locked}."))
        }
    })
}

fn image_matches(entry: &str, image: &str) -> bool {
    if entry.ends_with('/') {
        return image.starts_with(entry);
    }
    if image == entry {
        return true;
    }
    // `repo` (no tag or digest) allows any tag or digest of that repository;
    // the last path segment decides whether a colon is a tag or a port.
    let last = entry.rsplit('/').next().unwrap_or(entry);
    let pinned = last.contains(':') || entry.contains('@');
    !pinned
        && image
            .strip_prefix(entry)
            .is_some_and(|rest| rest.starts_with(':') || rest.starts_with('@'))
}

/// Bytes of a JVM size (`512m`, `2g`, plain bytes).
fn jvm_bytes(size: &str) -> Option<u64> {
    let size = size.trim();
    let (digits, unit) = match size.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&size[..i], c.to_ascii_lowercase()),
        _ => (size, 'b'),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit {
        'b' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        't' => 40,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy() -> AdminPolicy {
        AdminPolicy::from_env(|name| match name {
            "QUARRY_SPARK_IMAGES" => {
                Some("registry.example.org/quarry/, quarry/spark-executor".into())
            }
            "QUARRY_SPARK_MAX_EXECUTORS" => Some("10".into()),
            "QUARRY_SPARK_MAX_EXECUTOR_MEMORY" => Some("8g".into()),
            _ => None,
        })
    }

    #[test]
    fn images_are_matched_by_registry_repository_or_exact_tag() {
        let p = policy();
        assert!(p.allows_image("registry.example.org/quarry/spark:4.3.0"));
        assert!(p.allows_image("quarry/spark-executor:4.3.0"));
        assert!(p.allows_image("quarry/spark-executor@sha256:abc"));
        assert!(!p.allows_image("quarry/spark-executor-evil:1"));
        assert!(!p.allows_image("registry.example.org/other/x:1"));
        assert!(!p.allows_image("docker.io/library/busybox"));
        let pinned = AdminPolicy {
            images: vec!["localhost:5000/spark:4.3.0".into()],
            ..AdminPolicy::default()
        };
        assert!(pinned.allows_image("localhost:5000/spark:4.3.0"));
        assert!(!pinned.allows_image("localhost:5000/spark:latest"));
        assert!(AdminPolicy::default().allows_image("anything"));
    }

    #[test]
    fn each_limit_is_one_sentence() {
        let p = policy();
        let ok = conf(&[
            (
                "spark.kubernetes.container.image",
                "quarry/spark-executor:4.3.0",
            ),
            ("spark.executor.instances", "2"),
            ("spark.executor.memory", "2g"),
        ]);
        assert!(p.check(&[], &ok).is_ok());
        let mut evil = ok.clone();
        evil.push((
            "spark.kubernetes.container.image".into(),
            "evil/miner:1".into(),
        ));
        let refused = p.check(&[], &evil).unwrap_err().to_string();
        assert_eq!(
            refused,
            "The executor image evil/miner:1 is not allowed on this platform; allowed: registry.example.org/quarry/, quarry/spark-executor (QUARRY_SPARK_IMAGES, set by the administrator)."
        );
        let mut many = ok.clone();
        many.push(("spark.executor.instances".into(), "400".into()));
        assert!(
            p.check(&[], &many)
                .unwrap_err()
                .to_string()
                .starts_with("400 executors is more than this platform allows: at most 10")
        );
        let mut dynamic = ok.clone();
        dynamic.push(("spark.dynamicAllocation.enabled".into(), "true".into()));
        assert!(p.check(&[], &dynamic).is_err());
        dynamic.push(("spark.dynamicAllocation.maxExecutors".into(), "8".into()));
        assert!(p.check(&[], &dynamic).is_ok());
        let mut big = ok.clone();
        big.push(("spark.executor.memory".into(), "64g".into()));
        assert!(
            p.check(&[], &big)
                .unwrap_err()
                .to_string()
                .starts_with("--executor-memory 64g is more than this platform allows: at most 8g")
        );
    }

    #[test]
    fn settings_that_hold_isolation_cannot_be_overridden() {
        let p = AdminPolicy::default();
        for key in [
            "spark.kubernetes.namespace",
            "spark.kubernetes.authenticate.oauthTokenFile",
            "spark.authenticate",
            "spark.authenticate.secret",
            "spark.network.crypto.enabled",
            "spark.kubernetes.executor.podTemplateFile",
            "spark.master",
        ] {
            let user = conf(&[(key, "x")]);
            let refused = p.check(&user, &user).unwrap_err();
            assert!(matches!(refused, SparkError::NotAllowed(_)), "{key}");
        }
        let fine = conf(&[
            ("spark.sql.shuffle.partitions", "8"),
            ("spark.masterish", "1"),
        ]);
        assert!(p.check(&fine, &fine).is_ok());
    }

    #[test]
    fn jvm_sizes() {
        assert_eq!(jvm_bytes("512m"), Some(512 << 20));
        assert_eq!(jvm_bytes("2G"), Some(2 << 30));
        assert_eq!(jvm_bytes("1024"), Some(1024));
        assert_eq!(jvm_bytes("x"), None);
    }
}
