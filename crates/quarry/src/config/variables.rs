//! Every environment variable Quarry reads, defined once: its name, who
//! reads it and what it means. The configuration reference
//! (`docs/src/reference/configuration.md`) is generated from this table.

/// Which part of Quarry reads a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reader {
    /// S3 credentials and endpoints (the kernel, the panel, `aws-credentials`).
    S3,
    /// The kernel.
    Kernel,
    /// The S3 panel's backend (`quarry serve`).
    Panel,
    /// `%spark` sessions.
    Spark,
    /// `quarry install`.
    Install,
    /// `quarry lab`, the local platform.
    Lab,
}

impl Reader {
    #[cfg(test)]
    pub const ALL: [Reader; 6] = [
        Reader::S3,
        Reader::Kernel,
        Reader::Panel,
        Reader::Spark,
        Reader::Install,
        Reader::Lab,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Reader::S3 => "S3 credentials and endpoints",
            Reader::Kernel => "The kernel",
            Reader::Panel => "The S3 panel's backend",
            Reader::Spark => "Spark sessions",
            Reader::Install => "`quarry install`",
            Reader::Lab => "`quarry lab`",
        }
    }
}

/// One environment variable.
#[derive(Debug)]
pub struct Variable {
    pub name: &'static str,
    pub reader: Reader,
    /// What it means and its default, as one or two sentences of Markdown.
    pub meaning: &'static str,
    /// Whether its value is a secret (never logged, never shown).
    pub secret: bool,
}

macro_rules! variables {
    ($($ident:ident = $name:literal, $reader:ident, $secret:literal, $meaning:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $ident: &Variable = &Variable {
                name: $name,
                reader: Reader::$reader,
                meaning: $meaning,
                secret: $secret,
            };
        )*
        /// All of them, in the reference's order.
        pub const ALL: &[&Variable] = &[$($ident),*];
    };
}

variables! {
    AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID", S3, true,
        "Static S3 credentials' key id (with `AWS_SECRET_ACCESS_KEY`).";
    AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY", S3, true,
        "Static S3 credentials' secret.";
    AWS_SESSION_TOKEN = "AWS_SESSION_TOKEN", S3, true,
        "The session token of temporary (STS) credentials.";
    AWS_CREDENTIAL_EXPIRATION = "AWS_CREDENTIAL_EXPIRATION", S3, false,
        "RFC 3339 expiry of static temporary credentials; errors after it name the time.";
    AWS_WEB_IDENTITY_TOKEN_FILE = "AWS_WEB_IDENTITY_TOKEN_FILE", S3, false,
        "A web identity (OIDC) token file, exchanged with STS for credentials that renew themselves (with `AWS_ROLE_ARN`).";
    QUARRY_WEB_IDENTITY_TOKEN_FILE = "QUARRY_WEB_IDENTITY_TOKEN_FILE", S3, false,
        "The same for MinIO's claim mode, where no role is assumed.";
    AWS_ROLE_ARN = "AWS_ROLE_ARN", S3, false,
        "The role the web identity token assumes.";
    AWS_ROLE_SESSION_NAME = "AWS_ROLE_SESSION_NAME", S3, false,
        "The STS session name; default `quarry-` and the user's name.";
    AWS_ENDPOINT_URL_STS = "AWS_ENDPOINT_URL_STS", S3, false,
        "Where STS is; default the S3 endpoint (MinIO and SeaweedFS serve both), else AWS.";
    AWS_PROFILE = "AWS_PROFILE", S3, false,
        "The profile of the shared credentials file; default `default`.";
    AWS_SHARED_CREDENTIALS_FILE = "AWS_SHARED_CREDENTIALS_FILE", S3, false,
        "The shared credentials file; default `~/.aws/credentials`.";
    AWS_ENDPOINT_URL_S3 = "AWS_ENDPOINT_URL_S3", S3, false,
        "The S3 endpoint, e.g. `http://minio:9000` (non-AWS endpoints use path-style addressing); default AWS.";
    AWS_ENDPOINT_URL = "AWS_ENDPOINT_URL", S3, false,
        "The endpoint when `AWS_ENDPOINT_URL_S3` is unset.";
    S3_ENDPOINT = "S3_ENDPOINT", S3, false,
        "The endpoint when neither of the two above is set.";
    AWS_REGION = "AWS_REGION", S3, false,
        "The signing region; default `AWS_DEFAULT_REGION`, else `us-east-1`.";
    AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION", S3, false,
        "The signing region when `AWS_REGION` is unset.";
    QUARRY_S3_PUBLIC_ENDPOINT = "QUARRY_S3_PUBLIC_ENDPOINT", S3, false,
        "The S3 endpoint as browsers reach it, for the panel's presigned downloads; without it (and with a custom endpoint) downloads stream through the panel backend, which jupyter-server-proxy limits to files below ≈ 100 MiB.";
    QUARRY_MEMORY_LIMIT = "QUARRY_MEMORY_LIMIT", Kernel, false,
        "The pod's DataFusion memory budget (e.g. `4g`), shared by the kernels of one pod; default 60 % of the container's cgroup memory limit, else of physical memory.";
    QUARRY_SPILL_DIR = "QUARRY_SPILL_DIR", Kernel, false,
        "Where sorts, joins and aggregations past the memory budget spill; default `~/.cache/quarry/spill` (the home volume, not the node's disk).";
    QUARRY_SPILL_LIMIT = "QUARRY_SPILL_LIMIT", Kernel, false,
        "How much all spill files may hold (default `10g`); past it a query fails in one sentence (`SET datafusion.runtime.max_temp_directory_size = '20G'` allows more for the session).";
    QUARRY_S3_CACHE = "QUARRY_S3_CACHE", Kernel, false,
        "Bytes of S3 reads kept in memory for later queries (e.g. `1g`, `0` = off); default a quarter of the memory budget (15 % of the limit).";
    QUARRY_POD_DIR = "QUARRY_POD_DIR", Kernel, false,
        "The registry through which the kernels of one pod share the budget; default `quarry-kernels-<uid>` in the temporary directory.";
    QUARRY_CATALOG = "QUARRY_CATALOG", Kernel, false,
        "The file your kept tables and views are in, shared by all your kernels; default `~/.local/share/quarry/catalog.json` (the home volume).";
    QUARRY_MAX_MESSAGE = "QUARRY_MAX_MESSAGE", Kernel, false,
        "The largest message a Jupyter client may send the kernel (default `128m`); a client whose frame or message passes it is disconnected before the kernel reserves memory for it.";
    QUARRY_EXPORT_PREFIX = "QUARRY_EXPORT_PREFIX", Kernel, false,
        "Where `%export` writes when given no destination; `{user}` becomes `JUPYTERHUB_USER`; default `s3://{user}/exports/`.";
    QUARRY_UPLOAD_JOURNAL = "QUARRY_UPLOAD_JOURNAL", Kernel, false,
        "Where multipart uploads in flight are written down (default `~/.cache/quarry/uploads`), so the next kernel or panel backend aborts the uploads of a process that was killed mid-way. The panel reads it too.";
    QUARRY_LOG = "QUARRY_LOG", Kernel, false,
        "The log filter for stderr, e.g. `debug` (every subcommand).";
    JUPYTERHUB_USER = "JUPYTERHUB_USER", Kernel, false,
        "The user's name on the hub (set by JupyterHub): `%whoami`, the panel's `whoami`, `%export`'s `{user}`, Spark's user and the STS session name.";
    USER = "USER", Kernel, false,
        "The user's name off the hub, when `JUPYTERHUB_USER` is unset.";
    JUPYTERHUB_SERVICE_PREFIX = "JUPYTERHUB_SERVICE_PREFIX", Kernel, false,
        "The user's server URL prefix (set by JupyterHub), for `%export`'s download links; default `/`.";
    JPY_PARENT_PID = "JPY_PARENT_PID", Kernel, false,
        "The process that started the kernel (set by jupyter_client); the kernel exits when it does.";
    HOME = "HOME", Kernel, false,
        "The home volume: the default place of the catalog, spill files, the upload journal, `~/.aws/credentials` and Spark's class archive.";
    QUARRY_UPLOAD_BUFFER = "QUARRY_UPLOAD_BUFFER", Panel, false,
        "What the panel backend may buffer for all uploads at once (default `200m`); a chunk past it is answered 503 and retried by the browser.";
    SPARK_HOME = "SPARK_HOME", Spark, false,
        "The Spark distribution `%spark start` runs; default the `pyspark` package of `QUARRY_PYTHON`.";
    QUARRY_PYTHON = "QUARRY_PYTHON", Spark, false,
        "The Python whose `pyspark` package is Spark when `SPARK_HOME` is unset; default `python3`.";
    JAVA_HOME = "JAVA_HOME", Spark, false,
        "The Java that runs Spark; default the `java` on `PATH`.";
    PATH = "PATH", Spark, false,
        "Where `java` and `python3` are found.";
    XDG_CACHE_HOME = "XDG_CACHE_HOME", Spark, false,
        "Where Spark's class archive (faster JVM starts) is kept; default `~/.cache`.";
    KUBERNETES_SERVICE_HOST = "KUBERNETES_SERVICE_HOST", Spark, false,
        "Set by Kubernetes in a pod: `%spark start` then runs executors as pods in the pod's namespace.";
    KUBERNETES_SERVICE_PORT = "KUBERNETES_SERVICE_PORT", Spark, false,
        "The API server's port (set by Kubernetes); default 443.";
    QUARRY_KUBE_SERVICEACCOUNT_DIR = "QUARRY_KUBE_SERVICEACCOUNT_DIR", Spark, false,
        "Where the service account's token, namespace and CA are mounted; default `/var/run/secrets/kubernetes.io/serviceaccount`.";
    HOSTNAME = "HOSTNAME", Spark, false,
        "The notebook pod's name (set by Kubernetes), the executors' owner.";
    QUARRY_POD_IP = "QUARRY_POD_IP", Spark, false,
        "The notebook pod's IP (the downward API), which executors connect back to.";
    QUARRY_SPARK_EXECUTOR_IMAGE = "QUARRY_SPARK_EXECUTOR_IMAGE", Spark, false,
        "The executors' image when `%spark start` names none.";
    QUARRY_SPARK_IMAGES = "QUARRY_SPARK_IMAGES", Spark, false,
        "The administrator's allow-list of executor images, comma-separated (`*` ends a prefix); default any.";
    QUARRY_SPARK_MAX_EXECUTORS = "QUARRY_SPARK_MAX_EXECUTORS", Spark, false,
        "The most executors one session may ask for; default no limit beyond the namespace's quota.";
    QUARRY_SPARK_MAX_EXECUTOR_MEMORY = "QUARRY_SPARK_MAX_EXECUTOR_MEMORY", Spark, false,
        "The most memory one executor may ask for, e.g. `4g`.";
    JUPYTER_DATA_DIR = "JUPYTER_DATA_DIR", Install, false,
        "Jupyter's data folder, where `quarry install` puts the kernelspec; default `XDG_DATA_HOME/jupyter`, else `~/.local/share/jupyter`.";
    XDG_DATA_HOME = "XDG_DATA_HOME", Install, false,
        "The data folder whose `jupyter` folder `quarry install` uses when `JUPYTER_DATA_DIR` is unset.";
    VIRTUAL_ENV = "VIRTUAL_ENV", Install, false,
        "The active virtual environment, where `quarry install --sys-prefix` installs (else `python3`'s prefix).";
    QUARRY_VENV = "QUARRY_VENV", Lab, false,
        "The virtual environment whose JupyterLab `quarry lab` runs; default `~/.cache/quarry/venv`.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_declared_once() {
        let mut names: Vec<_> = ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before);
    }

    #[test]
    fn secrets_are_marked() {
        let secrets: Vec<_> = ALL.iter().filter(|v| v.secret).map(|v| v.name).collect();
        assert_eq!(
            secrets,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN"
            ]
        );
    }
}
