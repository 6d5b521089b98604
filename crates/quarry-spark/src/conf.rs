//! What Spark is told when a session starts — pure data, so every setting
//! (master, driver addresses, executor labels, S3A) is testable without a JVM
//! or a cluster.

use std::path::PathBuf;

use crate::SparkError;
use crate::policy::AdminPolicy;
pub use crate::start_options::StartOptions;

/// The driver's RPC port when nothing else was chosen; sessions in a
/// cluster take a free pair from `kube::DRIVER_PORTS` (the range the user
/// namespace's NetworkPolicy opens), see [`Cluster::driver_ports`].
pub const DRIVER_PORT: u16 = 7078;
/// The driver's block-manager port when nothing else was chosen.
pub const BLOCK_MANAGER_PORT: u16 = 7079;
/// Labels every executor pod (and anything else a session creates) carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "quarry");
pub const USER_LABEL: &str = "quarry.io/user";
pub const SESSION_LABEL: &str = "quarry.io/session";

/// Where executors run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Off-cluster: everything in the driver JVM.
    Local,
    /// In-cluster: executors are pods next to the notebook pod.
    Kubernetes(Box<Cluster>),
}

/// The notebook pod as seen from inside, read from the service account files
/// and the pod's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// `https://host:port` of the API server.
    pub api_url: String,
    pub namespace: String,
    /// The notebook pod's name ($HOSTNAME): executors get an ownerReference
    /// to it, so they die with the pod even if the kernel is killed.
    pub pod_name: String,
    /// The pod's IP, which executors dial back to.
    pub pod_ip: String,
    pub token_file: PathBuf,
    pub ca_file: PathBuf,
    /// Executor image when `--image` is not given (`QUARRY_SPARK_EXECUTOR_IMAGE`).
    pub default_image: Option<String>,
    /// The administrator's limits (`QUARRY_SPARK_*`).
    pub policy: AdminPolicy,
    /// `(driver, block manager)` ports this session listens on.
    pub driver_ports: (u16, u16),
}

/// Where S3 is, for Spark's S3A connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3a {
    pub endpoint: Option<String>,
    pub region: String,
    pub path_style: bool,
}

/// Who the session belongs to; becomes pod labels and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub user: String,
    pub session_id: String,
}

impl Owner {
    /// The executor pod-name prefix: unique per session and a valid DNS label.
    pub fn pod_name_prefix(&self) -> String {
        let user = dns_label(&self.user);
        let user = if user.is_empty() {
            "user".to_string()
        } else {
            user
        };
        let short: String = self
            .session_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect();
        let mut prefix = format!("quarry-{}", &user[..user.len().min(24)]);
        prefix = prefix.trim_end_matches('-').to_string();
        format!("{prefix}-{}", short.to_ascii_lowercase())
    }

    /// The labels a session's objects carry, as `(key, value)`.
    pub fn labels(&self) -> Vec<(String, String)> {
        vec![
            (MANAGED_BY.0.into(), MANAGED_BY.1.into()),
            (USER_LABEL.into(), label_value(&self.user)),
            (SESSION_LABEL.into(), self.session_id.clone()),
        ]
    }

    /// A label selector matching everything of this session.
    pub fn selector(&self) -> String {
        format!("{SESSION_LABEL}={}", self.session_id)
    }
}

/// Lower-case alphanumerics and dashes, as Kubernetes names want.
fn dns_label(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    mapped.trim_matches('-').to_string()
}

/// A Kubernetes label value for a user name (`quarry.io/user`): the name
/// itself when valid (at most 63 of `A-Za-z0-9._-`, alphanumeric ends);
/// otherwise its valid characters (others become `_`, cut to 54) and `-`
/// with the FNV-1a 32-bit hash of its UTF-8 bytes, so two names never share
/// a value. The hub (`images/hub/quarry_tenancy.py`) maps names the same
/// way; `tests/fixtures/label-values.json` holds both to it.
pub fn label_value(text: &str) -> String {
    let is_edge = |c: char| c.is_ascii_alphanumeric();
    let is_inner = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let valid = (1..=63).contains(&text.len())
        && text.chars().all(is_inner)
        && text.starts_with(is_edge)
        && text.ends_with(is_edge);
    if valid {
        return text.to_string();
    }
    let mapped: String = text
        .chars()
        .map(|c| if is_inner(c) { c } else { '_' })
        .collect();
    let trimmed: String = mapped
        .trim_matches(|c: char| "-_.".contains(c))
        .chars()
        .take(54)
        .collect();
    let trimmed = trimmed.trim_end_matches(|c: char| "-_.".contains(c));
    let digest = text.bytes().fold(0x811C_9DC5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let stem = if trimmed.is_empty() { "u" } else { trimmed };
    format!("{stem}-{digest:08x}")
}

/// Everything the Spark Connect server is launched with, minus secrets.
pub fn spark_conf(
    placement: &Placement,
    options: &StartOptions,
    s3: &S3a,
    owner: &Owner,
    connect_port: u16,
) -> Result<Vec<(String, String)>, SparkError> {
    let mut conf: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| conf.push((key.to_string(), value));
    set(
        "spark.app.name",
        format!("quarry-{}", dns_label(&owner.user)),
    );
    set("spark.connect.grpc.binding.address", "127.0.0.1".into());
    set("spark.connect.grpc.binding.port", connect_port.to_string());
    // The UI would fight over port 4040 between kernels; opt in with --conf.
    set("spark.ui.enabled", "false".into());
    match placement {
        Placement::Local => {
            set("spark.master", "local[*]".into());
            set("spark.driver.host", "127.0.0.1".into());
            set("spark.driver.bindAddress", "127.0.0.1".into());
        }
        Placement::Kubernetes(cluster) => {
            let image = options
                .image
                .clone()
                .or_else(|| cluster.default_image.clone())
                .ok_or_else(|| {
                    SparkError::usage(
                        "No executor image: pass --image IMAGE or set QUARRY_SPARK_EXECUTOR_IMAGE (images/spark-executor builds one).",
                    )
                })?;
            set("spark.master", format!("k8s://{}", cluster.api_url));
            set("spark.submit.deployMode", "client".into());
            set("spark.kubernetes.namespace", cluster.namespace.clone());
            set("spark.kubernetes.driver.pod.name", cluster.pod_name.clone());
            // Executors dial the pod IP (4.3 also defaults
            // useDriverPodIP=true): binding 0.0.0.0 would send them to 0.0.0.0.
            set("spark.driver.host", cluster.pod_ip.clone());
            set("spark.driver.bindAddress", cluster.pod_ip.clone());
            set("spark.driver.port", cluster.driver_ports.0.to_string());
            set(
                "spark.driver.blockManager.port",
                cluster.driver_ports.1.to_string(),
            );
            set(
                "spark.kubernetes.authenticate.oauthTokenFile",
                cluster.token_file.display().to_string(),
            );
            set(
                "spark.kubernetes.authenticate.caCertFile",
                cluster.ca_file.display().to_string(),
            );
            set("spark.kubernetes.container.image", image);
            set(
                "spark.kubernetes.executor.podNamePrefix",
                owner.pod_name_prefix(),
            );
            set("spark.executor.instances", options.executors.to_string());
            set("spark.executor.memory", options.executor_memory.clone());
            set("spark.executor.cores", options.executor_cores.to_string());
            for (key, value) in owner.labels() {
                set(&format!("spark.kubernetes.executor.label.{key}"), value);
            }
            // Client mode makes no driver service and executors get no
            // volume claims; telling Spark so keeps it from calling the
            // service and PVC APIs the notebook's role does not grant.
            set(
                "spark.kubernetes.driver.service.deleteOnTermination",
                "false".into(),
            );
            set(
                "spark.kubernetes.driver.ownPersistentVolumeClaim",
                "false".into(),
            );
            set(
                "spark.kubernetes.driver.reusePersistentVolumeClaim",
                "false".into(),
            );
        }
    }
    // The driver shares the pod's memory with the kernels: its heap is
    // counted against this kernel's share (`driver_memory_bytes`), results
    // it collects are bounded, and an OutOfMemoryError ends the JVM (the
    // kernel then reports the crash) instead of leaving it thrashing.
    set("spark.driver.memory", DEFAULT_DRIVER_MEMORY.into());
    set("spark.driver.maxResultSize", DEFAULT_MAX_RESULT_SIZE.into());
    set(
        "spark.driver.extraJavaOptions",
        "-XX:+ExitOnOutOfMemoryError".into(),
    );
    let hadoop = |key: &str| format!("spark.hadoop.{key}");
    if let Some(endpoint) = &s3.endpoint {
        set(&hadoop("fs.s3a.endpoint"), endpoint.clone());
        set(
            &hadoop("fs.s3a.connection.ssl.enabled"),
            endpoint.starts_with("https://").to_string(),
        );
    }
    set(&hadoop("fs.s3a.endpoint.region"), s3.region.clone());
    set(
        &hadoop("fs.s3a.path.style.access"),
        s3.path_style.to_string(),
    );
    // s3:// URLs, which the kernel's SQL uses, go through S3A too.
    set(
        &hadoop("fs.s3.impl"),
        "org.apache.hadoop.fs.s3a.S3AFileSystem".into(),
    );
    // Keys are renewed before each cell; a cached filesystem would keep the old ones.
    set(&hadoop("fs.s3a.impl.disable.cache"), "true".into());
    set(&hadoop("fs.s3.impl.disable.cache"), "true".into());
    conf.extend(options.extra.iter().cloned());
    if let Placement::Kubernetes(cluster) = placement {
        cluster.policy.check(&options.extra, &conf)?;
    }
    Ok(conf)
}

/// The driver heap unless `--conf spark.driver.memory=…` says otherwise.
pub const DEFAULT_DRIVER_MEMORY: &str = "1g";
/// The most a `%%spark` result may bring back to the driver.
pub const DEFAULT_MAX_RESULT_SIZE: &str = "256m";

/// What the driver JVM may take of the pod, from the final settings: its
/// heap (`spark.driver.memory`) and Spark's overhead rule (10 %, at least
/// 384 MiB), as the kernel's memory share counts it.
pub fn driver_memory_bytes(conf: &[(String, String)]) -> u64 {
    let heap = conf
        .iter()
        .rev()
        .find(|(k, _)| k == "spark.driver.memory")
        .and_then(|(_, v)| jvm_bytes(v))
        .or_else(|| jvm_bytes(DEFAULT_DRIVER_MEMORY))
        .unwrap_or(1 << 30);
    heap + (heap / 10).max(384 << 20)
}

/// A JVM size (`512m`, `2g`, `1024k`, bytes) in bytes.
fn jvm_bytes(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// The S3A key settings for the current credentials. These are secrets: they
/// go into a 0600 properties file or a Spark Connect config call, never onto
/// a command line or into output.
pub fn s3a_credentials(credentials: &quarry_s3::Credentials) -> Vec<(String, String)> {
    let provider = if credentials.session_token().is_some() {
        "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
    } else {
        "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
    };
    let mut conf = vec![
        (
            "spark.hadoop.fs.s3a.aws.credentials.provider".to_string(),
            provider.to_string(),
        ),
        (
            "spark.hadoop.fs.s3a.access.key".to_string(),
            credentials.access_key_id.clone(),
        ),
        (
            "spark.hadoop.fs.s3a.secret.key".to_string(),
            credentials.secret_access_key().to_string(),
        ),
    ];
    if let Some(token) = credentials.session_token() {
        conf.push((
            "spark.hadoop.fs.s3a.session.token".to_string(),
            token.to_string(),
        ));
    }
    conf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_counts_its_heap_and_overhead() {
        let conf = |v: &str| vec![("spark.driver.memory".to_string(), v.to_string())];
        assert_eq!(driver_memory_bytes(&[]), (1 << 30) + (384 << 20));
        assert_eq!(
            driver_memory_bytes(&conf("8g")),
            (8u64 << 30) + (8u64 << 30) / 10
        );
        assert_eq!(
            driver_memory_bytes(&conf("512m")),
            (512 << 20) + (384 << 20)
        );
        assert_eq!(jvm_bytes("2048K"), Some(2 << 20));
        assert_eq!(jvm_bytes("lots"), None);
    }

    fn owner() -> Owner {
        Owner {
            user: "Alice.Smith@example.org".into(),
            session_id: "5f1c2d3e-aaaa-bbbb".into(),
        }
    }

    fn s3() -> S3a {
        S3a {
            endpoint: Some("http://minio.quarry:9000".into()),
            region: "us-east-1".into(),
            path_style: true,
        }
    }

    fn cluster() -> Cluster {
        Cluster {
            api_url: "https://10.0.0.1:443".into(),
            namespace: "quarry-users".into(),
            pod_name: "jupyter-alice".into(),
            pod_ip: "10.1.2.3".into(),
            token_file: "/var/run/secrets/kubernetes.io/serviceaccount/token".into(),
            ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt".into(),
            default_image: Some("quarry/spark-executor:4.3.0".into()),
            policy: AdminPolicy::default(),
            driver_ports: (DRIVER_PORT, BLOCK_MANAGER_PORT),
        }
    }

    fn get<'a>(conf: &'a [(String, String)], key: &str) -> Option<&'a str> {
        conf.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn local_sessions_stay_on_loopback() {
        let conf = spark_conf(
            &Placement::Local,
            &StartOptions::default(),
            &s3(),
            &owner(),
            15002,
        )
        .unwrap();
        assert_eq!(get(&conf, "spark.master"), Some("local[*]"));
        assert_eq!(
            get(&conf, "spark.connect.grpc.binding.address"),
            Some("127.0.0.1")
        );
        assert_eq!(get(&conf, "spark.connect.grpc.binding.port"), Some("15002"));
        assert_eq!(get(&conf, "spark.driver.bindAddress"), Some("127.0.0.1"));
        assert!(get(&conf, "spark.kubernetes.namespace").is_none());
    }

    #[test]
    fn cluster_sessions_follow_the_design() {
        let mut options = StartOptions {
            executors: 3,
            ..StartOptions::default()
        };
        options
            .extra
            .push(("spark.driver.port".into(), "17078".into()));
        let conf = spark_conf(
            &Placement::Kubernetes(Box::new(cluster())),
            &options,
            &s3(),
            &owner(),
            15002,
        )
        .unwrap();
        assert_eq!(
            get(&conf, "spark.master"),
            Some("k8s://https://10.0.0.1:443")
        );
        assert_eq!(
            get(&conf, "spark.kubernetes.driver.pod.name"),
            Some("jupyter-alice")
        );
        assert_eq!(get(&conf, "spark.driver.host"), Some("10.1.2.3"));
        assert_eq!(get(&conf, "spark.driver.bindAddress"), Some("10.1.2.3"));
        assert_eq!(get(&conf, "spark.driver.blockManager.port"), Some("7079"));
        assert_eq!(
            get(&conf, "spark.driver.port"),
            Some("17078"),
            "--conf overrides"
        );
        assert_eq!(get(&conf, "spark.executor.instances"), Some("3"));
        assert_eq!(
            get(&conf, "spark.kubernetes.container.image"),
            Some("quarry/spark-executor:4.3.0")
        );
        assert_eq!(
            get(&conf, "spark.kubernetes.executor.podNamePrefix"),
            Some("quarry-alice-smith-example-org-5f1c2d3e")
        );
        assert_eq!(
            get(
                &conf,
                "spark.kubernetes.executor.label.app.kubernetes.io/managed-by"
            ),
            Some("quarry")
        );
        assert_eq!(
            get(&conf, "spark.kubernetes.executor.label.quarry.io/user"),
            Some("Alice.Smith_example.org-13d6991c")
        );
        assert_eq!(
            get(&conf, "spark.kubernetes.executor.label.quarry.io/session"),
            Some("5f1c2d3e-aaaa-bbbb")
        );
        assert_eq!(
            get(&conf, "spark.kubernetes.authenticate.oauthTokenFile"),
            Some("/var/run/secrets/kubernetes.io/serviceaccount/token")
        );
    }

    #[test]
    fn cluster_sessions_need_an_image() {
        let mut cluster = cluster();
        cluster.default_image = None;
        let error = spark_conf(
            &Placement::Kubernetes(Box::new(cluster)),
            &StartOptions::default(),
            &s3(),
            &owner(),
            1,
        )
        .unwrap_err();
        assert!(error.to_string().contains("QUARRY_SPARK_EXECUTOR_IMAGE"));
    }

    #[test]
    fn s3a_points_at_the_kernels_endpoint() {
        let conf = spark_conf(
            &Placement::Local,
            &StartOptions::default(),
            &s3(),
            &owner(),
            1,
        )
        .unwrap();
        assert_eq!(
            get(&conf, "spark.hadoop.fs.s3a.endpoint"),
            Some("http://minio.quarry:9000")
        );
        assert_eq!(
            get(&conf, "spark.hadoop.fs.s3a.connection.ssl.enabled"),
            Some("false")
        );
        assert_eq!(
            get(&conf, "spark.hadoop.fs.s3a.path.style.access"),
            Some("true")
        );
        assert_eq!(
            get(&conf, "spark.hadoop.fs.s3.impl"),
            Some("org.apache.hadoop.fs.s3a.S3AFileSystem")
        );
        assert!(
            conf.iter()
                .all(|(k, _)| !k.contains("secret") && !k.contains("access.key"))
        );

        let temporary = quarry_s3::Credentials::new("AKIA1", "s3cr3t", Some("tok".into()), None);
        let keys = s3a_credentials(&temporary);
        assert_eq!(
            get(&keys, "spark.hadoop.fs.s3a.aws.credentials.provider"),
            Some("org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider")
        );
        assert_eq!(get(&keys, "spark.hadoop.fs.s3a.session.token"), Some("tok"));
        let fixed = quarry_s3::Credentials::new("AKIA1", "s3cr3t", None, None);
        assert_eq!(
            get(
                &s3a_credentials(&fixed),
                "spark.hadoop.fs.s3a.aws.credentials.provider"
            ),
            Some("org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        );
    }

    #[test]
    fn names_and_labels_are_valid_for_kubernetes() {
        let owner = Owner {
            user: "--Ünïcode user--".into(),
            session_id: "ABCDEF1234567".into(),
        };
        let prefix = owner.pod_name_prefix();
        assert_eq!(prefix, "quarry-n-code-user-abcdef12");
        assert!(prefix.len() <= 47);
        let label = &owner.labels()[1].1;
        assert!(
            label.starts_with("n_code_user-") && label.len() == 20,
            "{label}"
        );
    }

    #[test]
    fn label_values_match_the_hubs_mapping() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/label-values.json"))
                .unwrap();
        for pair in fixture["pairs"].as_array().unwrap() {
            let (user, label) = (
                pair["user"].as_str().unwrap(),
                pair["label"].as_str().unwrap(),
            );
            assert_eq!(label_value(user), label, "{user}");
        }
    }
}
