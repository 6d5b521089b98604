//! A SeaweedFS S3 server on loopback for the local lab.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use super::children::Child;

pub struct Seaweed {
    weed: PathBuf,
    process: Child,
    s3_port: u16,
    master_port: u16,
    master_grpc_port: u16,
    filer_port: u16,
    filer_grpc_port: u16,
    access_key: String,
    secret_key: String,
}

impl Seaweed {
    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Starts `weed mini` with data under `dir`, every port on 127.0.0.1,
    /// telemetry and extra services off, and one admin identity whose keys
    /// are kept in `dir` so data stays readable across runs.
    pub async fn start(weed: &Path, dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir.join("data"))?;
        let (access_key, secret_key) = keys(dir)?;
        let identities = serde_json::json!({"identities": [{
            "name": "admin",
            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]});
        let config = dir.join("identities.json");
        std::fs::write(&config, serde_json::to_vec_pretty(&identities)?)?;

        let ports = free_ports(8)?;
        let mut command = Command::new(weed);
        command
            .arg("mini")
            .arg(format!("-dir={}", dir.join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-admin.ui=false",
                "-webdav=false",
            ])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-master.port={}", ports[0]))
            .arg(format!("-master.port.grpc={}", ports[1]))
            .arg(format!("-volume.port={}", ports[2]))
            .arg(format!("-volume.port.grpc={}", ports[3]))
            .arg(format!("-filer.port={}", ports[4]))
            .arg(format!("-filer.port.grpc={}", ports[5]))
            .arg(format!("-s3.port={}", ports[6]))
            .arg(format!("-s3.port.grpc={}", ports[7]))
            .arg(format!("-s3.config={}", config.display()))
            .stdout(std::fs::File::create(dir.join("weed.log"))?)
            .stderr(std::fs::File::create(dir.join("weed.err.log"))?);
        let process = Child::spawn("SeaweedFS", command)?;
        let server = Seaweed {
            weed: weed.to_path_buf(),
            process,
            s3_port: ports[6],
            master_port: ports[0],
            master_grpc_port: ports[1],
            filer_port: ports[4],
            filer_grpc_port: ports[5],
            access_key,
            secret_key,
        };
        super::wait_for_port(server.s3_port, Duration::from_secs(60))
            .await
            .with_context(|| {
                format!(
                    "SeaweedFS did not start; see {}",
                    dir.join("weed.err.log").display()
                )
            })?;
        Ok(server)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The environment a kernel needs to reach this server.
    pub fn client_env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("AWS_ACCESS_KEY_ID".into(), self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY".into(), self.secret_key.clone()),
            ("AWS_ENDPOINT_URL_S3".into(), self.endpoint()),
            ("AWS_REGION".into(), "us-east-1".into()),
        ])
    }

    /// Creates `bucket` with SeaweedFS's admin shell (idempotent).
    pub async fn create_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        // The filer registers with the master a moment after S3 opens.
        for attempt in 0..15 {
            let mut shell = Command::new(&self.weed)
                .arg("shell")
                // `host:port.grpcPort`: the gRPC ports are not the default
                // port + 10000 here, as every port is chosen free.
                .arg(format!(
                    "-master=127.0.0.1:{}.{}",
                    self.master_port, self.master_grpc_port
                ))
                .arg(format!(
                    "-filer=127.0.0.1:{}.{}",
                    self.filer_port, self.filer_grpc_port
                ))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let mut stdin = shell.stdin.take().expect("piped stdin");
            stdin
                .write_all(format!("s3.bucket.create -name {bucket}\nexit\n").as_bytes())
                .await?;
            drop(stdin);
            // The shell waits for a master that is not up yet; give each
            // attempt a few seconds, then start a fresh one.
            let Ok(output) =
                tokio::time::timeout(Duration::from_secs(8), shell.wait_with_output()).await
            else {
                tracing::debug!(attempt, "SeaweedFS shell timed out; retrying");
                continue;
            };
            let output = output?;
            let text = String::from_utf8_lossy(&output.stdout).to_string()
                + &String::from_utf8_lossy(&output.stderr);
            if text.contains("created bucket") || text.contains("already exist") {
                return Ok(());
            }
            tracing::debug!(attempt, "bucket creation not ready yet: {text}");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        bail!("could not create bucket '{bucket}' in SeaweedFS")
    }

    pub async fn stop(self) {
        self.process.stop().await;
    }
}

/// The admin keys for this data directory, generated on first use.
fn keys(dir: &Path) -> anyhow::Result<(String, String)> {
    let path = dir.join("admin-keys");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some((access, secret)) = text.trim().split_once(':')
    {
        return Ok((access.to_string(), secret.to_string()));
    }
    let access = format!("QUARRY{}", &super::uuid_like()[..14].to_uppercase());
    let secret = super::uuid_like();
    std::fs::write(&path, format!("{access}:{secret}\n"))?;
    Ok((access, secret))
}

fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    // Hold every listener until all are chosen so no port repeats.
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?)
}
