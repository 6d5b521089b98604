//! One `%spark` session: the server JVM, the client session on it, and (in
//! a cluster) the executor pods — started together, stopped together.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use quarry_s3::CredentialsProvider;
use tokio::sync::Mutex;

use crate::SparkError;
use crate::class_archive::ClassArchive;
use crate::client::{QueryProgress, SparkClient, SparkResult};
use crate::conf::{Owner, Placement, S3a, StartOptions, s3a_credentials, spark_conf};
use crate::k8s::{self, Executors, SessionAuth};
use crate::server::{ConnectServer, free_port};
use crate::start_step::StartStep;

/// How long the JVM gets to open its port.
const PORT_TIMEOUT: Duration = Duration::from_secs(180);
/// How long `%spark start` waits for executors before handing the session
/// over anyway (Spark queues tasks until executors arrive).
const EXECUTOR_WAIT: Duration = Duration::from_secs(120);
/// How long housekeeping calls (interrupt, release) may take.
const RPC_GRACE: Duration = Duration::from_secs(5);
/// After a broken connection, how long to wait for the JVM to be reaped.
const EXIT_GRACE: Duration = Duration::from_secs(3);
/// `-i` tables travel in parts of this many bytes (one gRPC message each).
const PART_BYTES: usize = 16 * 1024 * 1024;

/// What a session needs from the kernel.
#[derive(Clone)]
pub struct SessionConfig {
    pub spark_home: PathBuf,
    /// Where Java and the class archive's cache are.
    pub host: crate::SparkHost,
    pub user: String,
    pub placement: Placement,
    pub s3: S3a,
    pub credentials: Arc<CredentialsProvider>,
}

struct Kubernetes {
    client: kube::Client,
    namespace: String,
    executors: Executors,
    wanted: u32,
    /// Spark's application id: its own objects (the executor config map)
    /// carry it as `spark-app-selector`, not Quarry's labels.
    app_id: std::sync::OnceLock<String>,
    /// The session secret executors authenticate with.
    auth: SessionAuth,
}

/// A running Spark session.
pub struct SparkSession {
    server: Mutex<Option<ConnectServer>>,
    client: SparkClient,
    owner: Owner,
    config: SessionConfig,
    kubernetes: Option<Kubernetes>,
    started: Instant,
    version: String,
    /// The access key (and token) Spark last got, to resend only on change.
    sent_keys: Mutex<Option<Vec<(String, String)>>>,
    /// Where the JVM's class archive lives (built after the first session).
    class_archive: Option<ClassArchive>,
    /// What the driver JVM may take of the pod (heap and overhead).
    driver_memory: u64,
}

impl SparkSession {
    /// Starts a session, reporting each step; returns once SQL can run.
    pub async fn start(
        config: SessionConfig,
        options: StartOptions,
        mut on_step: impl FnMut(StartStep),
    ) -> Result<SparkSession, SparkError> {
        let started = Instant::now();
        let owner = Owner {
            user: config.user.clone(),
            session_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_string(),
        };
        let mut placement = config.placement.clone();
        let mut kube_client = None;
        let mut auth = None;
        if let Placement::Kubernetes(cluster) = &mut placement {
            // Options and the administrator's limits first: a refused image
            // or size should not wait for the API server.
            spark_conf(
                &Placement::Kubernetes(cluster.clone()),
                &options,
                &config.s3,
                &owner,
                0,
            )?;
            on_step(StartStep::Checking);
            let client = k8s::kube_client(cluster)?;
            k8s::preflight(&client, &cluster.namespace).await?;
            cluster.pod_ip = k8s::pod_ip(&client, cluster).await?;
            // A free pair of the ports the NetworkPolicy opens: another
            // notebook in this pod may be running a driver too.
            let ports = k8s::pick_driver_ports(k8s::DRIVER_PORTS, k8s::port_is_free)?;
            cluster.driver_ports = (ports.driver, ports.block_manager);
            let session_auth = SessionAuth::generate(&owner)?;
            session_auth
                .create_secret(&client, &cluster.namespace, &owner, &cluster.pod_name)
                .await?;
            auth = Some(session_auth);
            kube_client = Some(client);
        }
        let port = free_port()?;
        let mut conf = spark_conf(&placement, &options, &config.s3, &owner, port)?;
        if let (Some(auth), Placement::Kubernetes(cluster)) = (&auth, &placement) {
            conf.extend(auth.spark_settings());
            let template = k8s::write_pod_template(auth.private_dir())?;
            conf.extend(k8s::pod_template_settings(&template));
            // Executors read the secret file only when their settings say
            // they run on Kubernetes, and the settings they start with (before
            // the driver sends the rest) do not; Spark refuses `-Dspark.*` in
            // extraJavaOptions, so the JVM is told through its own variable.
            add_java_options(
                &mut conf,
                "spark.executorEnv.JAVA_TOOL_OPTIONS",
                &format!("-Dspark.master=k8s://{}", cluster.api_url),
            );
        }
        let keys = match config.credentials.current().await {
            Ok(credentials) => Some(s3a_credentials(&credentials)),
            Err(e) => {
                tracing::info!("Spark starts without S3 keys: {e}");
                None
            }
        };
        conf.extend(keys.clone().unwrap_or_default());
        let class_archive = config
            .host
            .cache_dir
            .as_ref()
            .and_then(|cache| ClassArchive::locate(cache, &config.spark_home, &config.host));
        if let Some(options) = class_archive.as_ref().and_then(ClassArchive::java_options) {
            add_java_options(&mut conf, "spark.driver.extraJavaOptions", &options);
        }
        let master = conf
            .iter()
            .rev()
            .find(|(k, _)| k == "spark.master")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        on_step(StartStep::Launching { master });

        let token = uuid::Uuid::new_v4().simple().to_string();
        let launched = ConnectServer::launch(&config.spark_home, &conf, &token, port);
        let kubernetes = match (&placement, kube_client, auth) {
            (Placement::Kubernetes(cluster), Some(client), Some(auth)) => Some(Kubernetes {
                executors: Executors::watch(&client, &cluster.namespace, &owner.selector()),
                client,
                namespace: cluster.namespace.clone(),
                wanted: options.executors,
                app_id: std::sync::OnceLock::new(),
                auth,
            }),
            _ => None,
        };
        let mut server = match launched {
            Ok(server) => server,
            Err(error) => {
                if let Some(k) = &kubernetes
                    && let Err(cleanup) = k.auth.delete_secret(&k.client, &k.namespace).await
                {
                    tracing::warn!("after a failed launch: {cleanup}");
                }
                return Err(error);
            }
        };
        let client = SparkClient::connect(port, &token, &config.user)?;
        let session = SparkSession {
            server: Mutex::new(None),
            client,
            owner,
            config,
            kubernetes,
            started,
            version: String::new(),
            sent_keys: Mutex::new(keys),
            class_archive,
            driver_memory: crate::conf::driver_memory_bytes(&conf),
        };
        // From here on a failure must stop what was started.
        match session.bring_up(&mut server, &mut on_step).await {
            Ok(version) => {
                *session.server.lock().await = Some(server);
                Ok(SparkSession { version, ..session })
            }
            Err(error) => {
                // Spark gives up when Kubernetes refuses its executors; the
                // refusal in its log says more than "the server exited".
                let error = match (&error, k8s::quota_refusal(&server.log_tail(400))) {
                    (SparkError::Server(_), Some(refusal)) => SparkError::Kubernetes(refusal),
                    _ => error,
                };
                server.stop().await;
                if let Err(cleanup) = session.cleanup_cluster().await {
                    tracing::warn!("after a failed start: {cleanup}");
                }
                Err(error)
            }
        }
    }

    async fn bring_up(
        &self,
        server: &mut ConnectServer,
        on_step: &mut impl FnMut(StartStep),
    ) -> Result<String, SparkError> {
        server.wait_for_port(PORT_TIMEOUT).await?;
        on_step(StartStep::JvmUp {
            after: self.started.elapsed(),
        });
        let version = loop {
            match self.client.spark_version().await {
                Ok(version) => break version,
                // The port opens a moment before the service is registered.
                Err(SparkError::Server(_))
                    if server.exited().is_none() && self.started.elapsed() < PORT_TIMEOUT =>
                {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => {
                    return Err(server.exited().map(SparkError::Server).unwrap_or(error));
                }
            }
        };
        on_step(StartStep::Ready {
            version: version.clone(),
            after: self.started.elapsed(),
        });
        if let Some(kubernetes) = &self.kubernetes {
            if let Ok(Some(app_id)) = self.client.get_conf("spark.app.id").await {
                let _ = kubernetes.app_id.set(app_id);
            }
            self.wait_for_executors(kubernetes, server, on_step).await?;
        }
        Ok(version)
    }

    async fn wait_for_executors(
        &self,
        kubernetes: &Kubernetes,
        server: &mut ConnectServer,
        on_step: &mut impl FnMut(StartStep),
    ) -> Result<(), SparkError> {
        let deadline = Instant::now() + EXECUTOR_WAIT;
        let mut last = None;
        loop {
            if let Some(report) = server.exited() {
                let refusal = k8s::quota_refusal(&server.log_tail(200));
                return Err(refusal
                    .map(SparkError::Kubernetes)
                    .unwrap_or(SparkError::Server(report)));
            }
            let views = kubernetes.executors.views();
            let running = views.iter().filter(|v| v.is_running()).count();
            let note = views
                .iter()
                .find(|v| !v.problem.is_empty())
                .map(|v| v.problem.clone())
                .unwrap_or_default();
            let step = StartStep::Executors {
                running,
                wanted: kubernetes.wanted,
                note,
            };
            if last.as_ref() != Some(&step) {
                on_step(step.clone());
                last = Some(step);
            }
            if running >= kubernetes.wanted as usize {
                return Ok(());
            }
            if let Some(refusal) = k8s::quota_refusal(&server.log_tail(200)) {
                if running == 0 {
                    return Err(SparkError::Kubernetes(refusal));
                }
                on_step(StartStep::Executors {
                    running,
                    wanted: kubernetes.wanted,
                    note: refusal,
                });
                return Ok(());
            }
            if Instant::now() > deadline {
                // Usable anyway: Spark runs tasks as executors arrive.
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// What the driver JVM may take of the pod's memory (heap and
    /// overhead), to be counted against the kernel's share.
    pub fn driver_memory_bytes(&self) -> u64 {
        self.driver_memory
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// Hands Spark renewed S3 keys if they changed since last time.
    async fn refresh_keys(&self) {
        let Ok(credentials) = self.config.credentials.current().await else {
            return;
        };
        let keys = s3a_credentials(&credentials);
        let mut sent = self.sent_keys.lock().await;
        if sent.as_ref() == Some(&keys) {
            return;
        }
        match self.client.set_conf(&keys).await {
            Ok(()) => *sent = Some(keys),
            Err(e) => tracing::warn!("could not hand Spark renewed S3 keys: {e}"),
        }
    }

    /// Runs Spark SQL; `tag` lets [`SparkSession::interrupt`] cancel it.
    pub async fn sql(
        &self,
        query: &str,
        tag: &str,
        on_progress: impl FnMut(&QueryProgress),
    ) -> Result<SparkResult, SparkError> {
        self.sql_rows(query, None, tag, on_progress).await
    }

    /// Runs Spark SQL and brings back all its rows, or with `Some(n)` its
    /// first `n` only ([`SparkResult::more_rows`] says whether there were
    /// more).
    pub async fn sql_rows(
        &self,
        query: &str,
        rows: Option<usize>,
        tag: &str,
        on_progress: impl FnMut(&QueryProgress),
    ) -> Result<SparkResult, SparkError> {
        self.refresh_keys().await;
        let result = match rows {
            Some(rows) => {
                self.client
                    .sql_first_rows(query, rows, tag, on_progress)
                    .await
            }
            None => self.client.sql(query, tag, on_progress).await,
        };
        self.explain_failure(result).await
    }

    /// Sends a kernel table to Spark as temporary view `name`.
    pub async fn send_table(
        &self,
        name: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        tag: &str,
    ) -> Result<(), SparkError> {
        let (schema, batches) = crate::arrow_types::for_spark(schema, batches)?;
        let result = self
            .client
            .create_view(name, &schema, &batches, PART_BYTES, tag)
            .await;
        self.explain_failure(result).await
    }

    /// A dead JVM explains a failed call better than the gRPC error does.
    async fn explain_failure<T>(&self, result: Result<T, SparkError>) -> Result<T, SparkError> {
        match result {
            Err(SparkError::Server(message)) => {
                let mut server = self.server.lock().await;
                let report = match server.as_mut() {
                    // A killed JVM drops its connections before the kernel can
                    // reap it (its threads are still being torn down).
                    Some(running) => running.exited_within(EXIT_GRACE).await,
                    None => None,
                };
                Err(SparkError::Server(report.unwrap_or(message)))
            }
            other => other,
        }
    }

    pub async fn interrupt(&self, tag: &str) -> Result<(), SparkError> {
        tokio::time::timeout(RPC_GRACE, self.client.interrupt(tag))
            .await
            .unwrap_or_else(|_| {
                Err(SparkError::Server(
                    "The Spark server did not answer the interrupt.".into(),
                ))
            })
    }

    /// What `%spark status` shows, as text and escaped HTML.
    pub async fn status(&self) -> k8s::Shown {
        let mut server = self.server.lock().await;
        let mut shown = k8s::Shown::default();
        match server.as_mut() {
            Some(running) => match running.exited() {
                Some(report) => {
                    shown.heading("The Spark server has stopped.");
                    shown.block(&report);
                }
                None => shown.heading(&format!(
                    "Spark {} session {} — up {}, server pid {}, {}",
                    self.version,
                    self.owner.session_id,
                    human(self.started.elapsed()),
                    running.pid().map(|p| p.to_string()).unwrap_or_default(),
                    match &self.config.placement {
                        Placement::Local =>
                            "local mode (executors run inside the server)".to_string(),
                        Placement::Kubernetes(c) =>
                            format!("executors in namespace {}", c.namespace),
                    }
                )),
            },
            None => shown.line("No Spark session."),
        }
        if let Some(kubernetes) = &self.kubernetes {
            shown.append(k8s::describe_executors(
                &kubernetes.executors.views(),
                kubernetes.wanted,
                kubernetes.executors.failing().as_deref(),
            ));
        }
        shown
    }

    /// "executors: k of N running" in cluster mode.
    pub fn executor_summary(&self) -> Option<String> {
        let k = self.kubernetes.as_ref()?;
        let running = k
            .executors
            .views()
            .iter()
            .filter(|v| v.is_running())
            .count();
        Some(format!("executors: {running} of {} running", k.wanted))
    }

    /// `%spark logs`: the server's log, or one executor's.
    pub async fn logs(&self, executor: Option<&str>, lines: usize) -> Result<String, SparkError> {
        match (executor, &self.kubernetes) {
            (None, _) => {
                let server = self.server.lock().await;
                Ok(server
                    .as_ref()
                    .map(|s| s.log_tail(lines))
                    .unwrap_or_default())
            }
            (Some(which), Some(kubernetes)) => {
                k8s::executor_log(
                    &kubernetes.client,
                    &kubernetes.namespace,
                    &kubernetes.executors.views(),
                    which,
                    lines as i64,
                )
                .await
            }
            (Some(_), None) => Err(SparkError::usage(
                "This session runs in local mode: executors live inside the Spark server, so %spark logs (without a name) shows everything.",
            )),
        }
    }

    /// Stops the JVM and removes every Kubernetes object of the session.
    /// Returns how many leftover objects cleanup deleted.
    /// Cells still holding the session then fail fast: the server is gone.
    pub async fn stop(&self) -> Result<usize, SparkError> {
        // A hung server must not hang the kernel's shutdown.
        let _ = tokio::time::timeout(RPC_GRACE, self.client.release()).await;
        if let Some(server) = self.server.lock().await.take() {
            let log_head = server.log_head();
            server.stop().await;
            if let Some(archive) = &self.class_archive {
                archive.build_in_background(&log_head);
            }
        }
        self.cleanup_cluster().await
    }

    async fn cleanup_cluster(&self) -> Result<usize, SparkError> {
        let Some(k) = &self.kubernetes else {
            return Ok(0);
        };
        k.auth.delete_secret(&k.client, &k.namespace).await?;
        let mut removed = k8s::cleanup(&k.client, &k.namespace, &self.owner.selector()).await?;
        if let Some(app_id) = k.app_id.get() {
            removed += k8s::cleanup(
                &k.client,
                &k.namespace,
                &format!("spark-app-selector={app_id}"),
            )
            .await?;
        }
        Ok(removed)
    }
}

/// Appends `options` to the JVM options under `key` (driver or executor),
/// keeping any the user set with `--conf key=…` (the last entry wins).
fn add_java_options(conf: &mut Vec<(String, String)>, key: &str, options: &str) {
    match conf.iter_mut().rev().find(|(k, _)| k == key) {
        Some((_, existing)) => {
            existing.push(' ');
            existing.push_str(options);
        }
        None => conf.push((key.to_string(), options.to_string())),
    }
}

fn human(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_java_options_keep_the_users_own() {
        let mut conf = vec![("spark.master".to_string(), "local[*]".to_string())];
        add_java_options(
            &mut conf,
            "spark.driver.extraJavaOptions",
            "-XX:SharedArchiveFile=/c/a.jsa",
        );
        assert_eq!(conf[1].1, "-XX:SharedArchiveFile=/c/a.jsa");
        let mut conf = vec![(
            "spark.driver.extraJavaOptions".to_string(),
            "-Duser.timezone=UTC".to_string(),
        )];
        add_java_options(
            &mut conf,
            "spark.driver.extraJavaOptions",
            "-XX:SharedArchiveFile=/c/a.jsa",
        );
        assert_eq!(conf.len(), 1);
        assert_eq!(
            conf[0].1,
            "-Duser.timezone=UTC -XX:SharedArchiveFile=/c/a.jsa"
        );
    }
}
