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
        // Spark takes the executor's image from the executor key when it
        // is set, else the shared key: every key that names one must pass.
        for key in IMAGE_KEYS {
            if let Some(image) = get(key)
                && !self.allows_image(image.trim())
            {
                return Err(SparkError::NotAllowed(format!(
                    "The executor image {} is not allowed on this platform; allowed: {} (QUARRY_SPARK_IMAGES, set by the administrator).",
                    image.trim(),
                    self.images.join(", ")
                )));
            }
        }
        if let Some(max) = self.max_executors {
            self.check_executor_count(max, &get)?;
        }
        if let Some(max) = &self.max_executor_memory {
            check_executor_memory(max, &get)?;
        }
        Ok(())
    }

    fn check_executor_count<'a>(
        &self,
        max: u32,
        get: &impl Fn(&str) -> Option<&'a str>,
    ) -> Result<(), SparkError> {
        // Spark reads booleans case-insensitively; anything but "false"
        // counts as on, so a spelling Quarry does not expect fails closed.
        let dynamic = get("spark.dynamicAllocation.enabled")
            .is_some_and(|v| !v.trim().eq_ignore_ascii_case("false"));
        let (key, asked) = if dynamic {
            let key = "spark.dynamicAllocation.maxExecutors";
            (key, get(key))
        } else {
            let key = "spark.executor.instances";
            (key, get(key))
        };
        match asked.map(|n| n.trim().parse::<u64>()) {
            Some(Ok(n)) if n <= u64::from(max) => Ok(()),
            Some(Ok(n)) => Err(SparkError::NotAllowed(format!(
                "{n} executors is more than this platform allows: at most {max} (QUARRY_SPARK_MAX_EXECUTORS, set by the administrator)."
            ))),
            Some(Err(_)) => Err(SparkError::NotAllowed(format!(
                "{key}={} is not a whole number of executors; this platform allows at most {max} (QUARRY_SPARK_MAX_EXECUTORS).",
                asked.unwrap_or_default()
            ))),
            None if dynamic => Err(SparkError::NotAllowed(format!(
                "Dynamic allocation needs spark.dynamicAllocation.maxExecutors of at most {max} here (QUARRY_SPARK_MAX_EXECUTORS)."
            ))),
            // Spark's default is 2 executors.
            None if max >= 2 => Ok(()),
            None => Err(SparkError::NotAllowed(format!(
                "Spark starts 2 executors unless told: this platform allows at most {max} (--executors {max})."
            ))),
        }
    }
}

/// Keys that name the executor's image (the driver is the notebook pod).
const IMAGE_KEYS: [&str; 2] = [
    "spark.kubernetes.container.image",
    "spark.kubernetes.executor.container.image",
];

/// The executor heap within the limit, and the whole executor pod (heap,
/// overhead, off-heap, PySpark memory) within what Spark would make for a
/// heap of the limit: a larger overhead cannot smuggle memory past it.
/// A size Quarry cannot read is refused (Spark would refuse it too).
fn check_executor_memory<'a>(
    max: &str,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(), SparkError> {
    let Some(limit) = spark_bytes(max, Unit::Mebi) else {
        // An administrator's typo must not lift the limit: refuse sessions.
        return Err(SparkError::NotAllowed(format!(
            "QUARRY_SPARK_MAX_EXECUTOR_MEMORY={max} is not a size Spark understands (such as 8g); ask the administrator to fix it."
        )));
    };
    let size = |key: &str, unit: Unit| -> Result<Option<u64>, SparkError> {
        match get(key) {
            None => Ok(None),
            Some(text) => spark_bytes(text, unit).map(Some).ok_or_else(|| {
                SparkError::NotAllowed(format!(
                    "--conf {key}={text} is not a size Spark understands: use a number with b, k, m, g or t (such as 2g)."
                ))
            }),
        }
    };
    let heap = size("spark.executor.memory", Unit::Mebi)?.unwrap_or(1 << 30);
    if heap > limit {
        let asked = get("spark.executor.memory").unwrap_or_default();
        return Err(SparkError::NotAllowed(format!(
            "--executor-memory {asked} is more than this platform allows: at most {max} per executor (QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator)."
        )));
    }
    let factor = match get("spark.executor.memoryOverheadFactor") {
        None => DEFAULT_OVERHEAD_FACTOR,
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| {
                SparkError::NotAllowed(format!(
                    "--conf spark.executor.memoryOverheadFactor={text} is not a number such as 0.1."
                ))
            })?,
    };
    let overhead = match size("spark.executor.memoryOverhead", Unit::Mebi)? {
        Some(bytes) => bytes,
        None => default_overhead(heap, factor),
    };
    let off_heap_on = get("spark.memory.offHeap.enabled")
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("false"));
    let off_heap = if off_heap_on {
        size("spark.memory.offHeap.size", Unit::Byte)?.unwrap_or(0)
    } else {
        0
    };
    let pyspark = size("spark.executor.pyspark.memory", Unit::Mebi)?.unwrap_or(0);
    let pod = heap
        .saturating_add(overhead)
        .saturating_add(off_heap)
        .saturating_add(pyspark);
    let pod_limit = limit + default_overhead(limit, DEFAULT_OVERHEAD_FACTOR);
    if pod > pod_limit {
        return Err(SparkError::NotAllowed(format!(
            "These settings make each executor pod {} (heap, overhead, off-heap and PySpark memory), more than this platform allows: at most {} ({max} and Spark's default overhead; QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator).",
            gib(pod),
            gib(pod_limit)
        )));
    }
    Ok(())
}

/// Spark's default `spark.executor.memoryOverheadFactor`.
const DEFAULT_OVERHEAD_FACTOR: f64 = 0.1;

/// Spark's default overhead: the factor of the heap, at least 384 MiB.
fn default_overhead(heap: u64, factor: f64) -> u64 {
    ((heap as f64 * factor) as u64).max(384 << 20)
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// The unit a plain number means for a given Spark setting.
#[derive(Debug, Clone, Copy)]
enum Unit {
    Byte,
    Mebi,
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

/// Bytes of a size as Spark reads it (`JavaUtils.byteStringAs`): a whole
/// number with an optional, case-insensitive suffix `b`, `k`/`kb`, `m`/`mb`,
/// `g`/`gb`, `t`/`tb`, `p`/`pb`; a plain number is in the setting's unit.
fn spark_bytes(size: &str, plain: Unit) -> Option<u64> {
    let size = size.trim().to_ascii_lowercase();
    let digits_end = size
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(size.len());
    let (digits, suffix) = size.split_at(digits_end);
    let n: u64 = digits.parse().ok()?;
    let shift = match suffix.trim() {
        "" => match plain {
            Unit::Byte => 0,
            Unit::Mebi => 20,
        },
        "b" => 0,
        "k" | "kb" => 10,
        "m" | "mb" => 20,
        "g" | "gb" => 30,
        "t" | "tb" => 40,
        "p" | "pb" => 50,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
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
    fn spark_sizes() {
        assert_eq!(spark_bytes("512m", Unit::Byte), Some(512 << 20));
        assert_eq!(spark_bytes("2G", Unit::Byte), Some(2 << 30));
        assert_eq!(spark_bytes("64gb", Unit::Byte), Some(64 << 30));
        assert_eq!(spark_bytes(" 3 Tb ", Unit::Byte), Some(3 << 40));
        assert_eq!(spark_bytes("1024", Unit::Byte), Some(1024));
        // spark.executor.memory without a unit is in MiB.
        assert_eq!(spark_bytes("65536", Unit::Mebi), Some(64 << 30));
        assert_eq!(spark_bytes("x", Unit::Byte), None);
        assert_eq!(spark_bytes("2gig", Unit::Byte), None);
        assert_eq!(spark_bytes("1.5g", Unit::Byte), None);
    }

    /// The walk-arounds a review found, each refused in one sentence.
    #[test]
    fn limits_fail_closed() {
        let p = policy();
        let ok = conf(&[
            (
                "spark.kubernetes.container.image",
                "quarry/spark-executor:4.3.0",
            ),
            ("spark.executor.instances", "2"),
            ("spark.executor.memory", "8g"),
        ]);
        assert!(
            p.check(&[], &ok).is_ok(),
            "the limit itself, with Spark's default overhead"
        );
        let refused = |extra: &[(&str, &str)]| {
            let mut settings = ok.clone();
            settings.extend(conf(extra));
            p.check(&[], &settings).unwrap_err().to_string()
        };
        assert_eq!(
            refused(&[("spark.kubernetes.executor.container.image", "evil/miner:1")]),
            "The executor image evil/miner:1 is not allowed on this platform; allowed: registry.example.org/quarry/, quarry/spark-executor (QUARRY_SPARK_IMAGES, set by the administrator)."
        );
        assert_eq!(
            refused(&[
                ("spark.dynamicAllocation.enabled", "TRUE"),
                ("spark.dynamicAllocation.maxExecutors", "500")
            ]),
            "500 executors is more than this platform allows: at most 10 (QUARRY_SPARK_MAX_EXECUTORS, set by the administrator)."
        );
        assert_eq!(
            refused(&[("spark.dynamicAllocation.enabled", " True ")]),
            "Dynamic allocation needs spark.dynamicAllocation.maxExecutors of at most 10 here (QUARRY_SPARK_MAX_EXECUTORS)."
        );
        assert!(
            refused(&[("spark.executor.memory", "64gb")]).starts_with(
                "--executor-memory 64gb is more than this platform allows: at most 8g"
            )
        );
        assert!(
            refused(&[("spark.executor.memory", "65536")])
                .starts_with("--executor-memory 65536 is more")
        );
        assert_eq!(
            refused(&[("spark.executor.memory", "lots")]),
            "--conf spark.executor.memory=lots is not a size Spark understands: use a number with b, k, m, g or t (such as 2g)."
        );
        assert_eq!(
            refused(&[("spark.executor.memoryOverhead", "64g")]),
            "These settings make each executor pod 72.0 GiB (heap, overhead, off-heap and PySpark memory), more than this platform allows: at most 8.8 GiB (8g and Spark's default overhead; QUARRY_SPARK_MAX_EXECUTOR_MEMORY, set by the administrator)."
        );
        assert!(
            refused(&[
                ("spark.memory.offHeap.enabled", "TRUE"),
                ("spark.memory.offHeap.size", "16g")
            ])
            .starts_with("These settings make each executor pod 24.8 GiB")
        );
        assert!(
            refused(&[("spark.executor.memoryOverheadFactor", "4")])
                .starts_with("These settings make each executor pod 40.0 GiB")
        );
        assert!(
            refused(&[("spark.executor.instances", "ten")])
                .starts_with("spark.executor.instances=ten is not a whole number")
        );
        let typo = AdminPolicy {
            max_executor_memory: Some("8 gigs".into()),
            ..AdminPolicy::default()
        };
        assert!(
            typo.check(&[], &ok).is_err(),
            "a bad limit refuses, never lifts"
        );
    }
}
