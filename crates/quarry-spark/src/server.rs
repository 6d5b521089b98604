//! The Spark Connect server: a JVM child of the kernel, started with
//! `spark-submit`, reachable only on loopback with a per-session token.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::SparkError;

const CONNECT_SERVER_CLASS: &str = "org.apache.spark.sql.connect.service.SparkConnectServer";
/// Generous room per log line when reading a log's tail (stack frames and
/// Kubernetes refusals run long).
const LOG_LINE_BYTES: u64 = 1024;
/// How long a stopping JVM gets after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Where Spark and Java are on this machine, as the binary read them from
/// the environment (`SPARK_HOME`, `QUARRY_PYTHON`, `JAVA_HOME`, `PATH`,
/// the cache folder): this crate reads no environment itself.
#[derive(Debug, Clone, Default)]
pub struct SparkHost {
    /// `SPARK_HOME`: the distribution to run.
    pub spark_home: Option<PathBuf>,
    /// The Python whose `pyspark` package is Spark otherwise (default `python3`).
    pub python: Option<PathBuf>,
    /// `JAVA_HOME`.
    pub java_home: Option<PathBuf>,
    /// The folders of `PATH`, where `java` is found without `JAVA_HOME`.
    pub search_path: Vec<PathBuf>,
    /// The user's cache folder (`XDG_CACHE_HOME`, else `~/.cache`), for the
    /// class archive.
    pub cache_dir: Option<PathBuf>,
}

/// Finds a Spark distribution: `SPARK_HOME`, else the `pyspark` package of
/// the Python on PATH (`QUARRY_PYTHON` overrides which Python).
pub fn find_spark_home(host: &SparkHost) -> Result<PathBuf, SparkError> {
    if let Some(home) = &host.spark_home {
        return if home.join("bin/spark-submit").exists() {
            Ok(home.clone())
        } else {
            Err(SparkError::NotInstalled(format!(
                "SPARK_HOME is {} but there is no bin/spark-submit in it.",
                home.display()
            )))
        };
    }
    let python = host.python.clone().unwrap_or_else(|| "python3".into());
    spark_home_of_python(&python).ok_or_else(|| {
        SparkError::NotInstalled(
            "Spark is not installed here: set SPARK_HOME, or pip install pyspark==4.3.0 (Java 17 is needed too)."
                .into(),
        )
    })
}

/// The Spark distribution inside `python`'s `pyspark` package, if any.
pub fn spark_home_of_python(python: &Path) -> Option<PathBuf> {
    std::process::Command::new(python)
        .args([
            "-c",
            "import os, pyspark; print(os.path.dirname(pyspark.__file__))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .filter(|home| home.join("bin/spark-submit").exists())
}

/// A running (or starting) Spark Connect server.
pub struct ConnectServer {
    child: Child,
    pub port: u16,
    /// Holds the properties file and the log; removed on drop.
    dir: tempfile::TempDir,
}

/// `conf` as a properties file only this user can read, in `dir`.
fn write_properties(dir: &Path, conf: &[(String, String)]) -> std::io::Result<PathBuf> {
    let properties = dir.join("spark.properties");
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(&properties)?;
    for (key, value) in conf {
        writeln!(file, "{}={}", escape_property(key), escape_property(value))?;
    }
    Ok(properties)
}

impl ConnectServer {
    /// Starts `spark-submit` with `conf` written to a private properties file
    /// (secrets never appear on the command line), the auth token in the
    /// environment, and output to a log file.
    pub fn launch(
        spark_home: &Path,
        conf: &[(String, String)],
        token: &str,
        port: u16,
    ) -> Result<ConnectServer, SparkError> {
        let failed = |what: &str| SparkError::local(format!("{what} for the Spark server"));
        let dir = tempfile::Builder::new()
            .prefix("quarry-spark-")
            .tempdir()
            .map_err(failed("create a work folder"))?;
        let properties =
            write_properties(dir.path(), conf).map_err(failed("write the settings"))?;
        let log = std::fs::File::create(dir.path().join("spark.log"))
            .map_err(failed("create the log"))?;
        let log_err = log.try_clone().map_err(failed("create the log"))?;

        let mut command = Command::new(spark_home.join("bin/spark-submit"));
        command
            .arg("--properties-file")
            .arg(&properties)
            .args(["--class", CONNECT_SERVER_CLASS, "spark-internal"])
            .env("SPARK_HOME", spark_home)
            .env("SPARK_CONNECT_AUTHENTICATE_TOKEN", token)
            // The exact java command heads the log; the class archive is
            // built for it (see `class_archive`). It holds no secret.
            .env("SPARK_PRINT_LAUNCH_COMMAND", "1")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .kill_on_drop(true)
            // Its own process group: a terminal's Ctrl-C aimed at `quarry lab`
            // must not kill the JVM behind the kernel's back.
            .process_group(0);
        if conf
            .iter()
            .any(|(k, v)| k == "spark.driver.bindAddress" && v == "127.0.0.1")
        {
            command.env("SPARK_LOCAL_IP", "127.0.0.1");
        }
        // SAFETY: prctl is async-signal-safe; it asks Linux to SIGTERM the
        // JVM if the kernel dies without stopping it (kill -9, OOM).
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command.spawn().map_err(failed("start spark-submit"))?;
        Ok(ConnectServer { child, port, dir })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("spark.log")
    }

    /// `Some(report)` if the JVM has exited: its status and last log lines.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "The Spark server exited ({status}). Last lines of its log:\n{}",
                self.log_tail(20)
            )),
            _ => None,
        }
    }

    /// Like [`ConnectServer::exited`], but waits up to `grace` for a dying
    /// JVM to finish exiting.
    pub async fn exited_within(&mut self, grace: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            if let Some(report) = self.exited() {
                return Some(report);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last `lines` lines of the server's log.
    /// Only the file's end is read: start-up polls this while the log grows.
    /// The first few KiB of the log: the launch command and start-up lines.
    pub fn log_head(&self) -> String {
        use std::io::Read as _;
        let mut head = Vec::new();
        if let Ok(file) = std::fs::File::open(self.log_path()) {
            let _ = file.take(16 * 1024).read_to_end(&mut head);
        }
        String::from_utf8_lossy(&head).into_owned()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut file) = std::fs::File::open(self.log_path()) else {
            return String::new();
        };
        let window = (lines as u64 + 1) * LOG_LINE_BYTES;
        let length = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut bytes = Vec::new();
        if file
            .seek(SeekFrom::Start(length.saturating_sub(window)))
            .is_err()
            || file.read_to_end(&mut bytes).is_err()
        {
            return String::new();
        }
        let text = String::from_utf8_lossy(&bytes);
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Waits until the gRPC port accepts connections, the JVM dies, or
    /// `timeout` passes.
    pub async fn wait_for_port(&mut self, timeout: Duration) -> Result<(), SparkError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(report) = self.exited() {
                return Err(SparkError::Server(report));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(SparkError::Server(format!(
                    "The Spark server did not open its port within {} s. Last lines of its log:\n{}",
                    timeout.as_secs(),
                    self.log_tail(20)
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM to the JVM's process group, then SIGKILL after a grace period.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: signalling our own child's process group.
            unsafe { libc::kill(-(pid as i32), libc::SIGTERM) };
            if tokio::time::timeout(STOP_GRACE, self.child.wait())
                .await
                .is_err()
            {
                tracing::warn!("Spark server ignored SIGTERM for {STOP_GRACE:?}; killing it");
                unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
                let _ = self.child.wait().await;
            }
        }
    }
}

/// Java properties escaping for the characters that matter in keys/values.
fn escape_property(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '=' | ':' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A free loopback TCP port.
pub fn free_port() -> Result<u16, SparkError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(SparkError::local("find a free port for Spark"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_escaped() {
        assert_eq!(escape_property("a=b:c\\d\n"), "a\\=b\\:c\\\\d\\n");
        assert_eq!(escape_property("spark.master"), "spark.master");
    }

    #[test]
    fn missing_spark_home_is_one_sentence() {
        let dir = tempfile::tempdir().unwrap();
        let host = SparkHost {
            spark_home: Some(dir.path().to_path_buf()),
            ..SparkHost::default()
        };
        let error = find_spark_home(&host).unwrap_err().to_string();
        assert!(error.contains("no bin/spark-submit"), "{error}");
    }
}
