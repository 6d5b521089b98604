//! `quarry lab`: the whole platform on one machine.
//!
//! Starts SeaweedFS (S3) on loopback with a `demo` bucket of generated
//! sensor data, installs the kernelspec into a private Jupyter path, and
//! runs JupyterLab with the S3 credentials in its environment, the way the
//! hub's pre-spawn hook would. Ctrl-C, SIGTERM and closing its terminal
//! (SIGHUP) stop everything it started; one lab at a time may use a data
//! folder (`lock`).

mod children;
mod demo_data;
mod lock;
mod run_dir;
mod seaweed;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;

use children::Child;
use lock::LabLock;
use run_dir::RunDir;
use seaweed::Seaweed;

use crate::config::{Environment, variables as var};

#[derive(Args, Debug, Clone)]
pub struct LabArgs {
    /// Port for JupyterLab.
    #[arg(long, default_value_t = 8888)]
    port: u16,
    /// Where S3 data, the kernelspec and notebooks live between runs.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory JupyterLab opens (defaults to DATA_DIR/notebooks).
    #[arg(long, value_name = "DIR")]
    notebooks: Option<PathBuf>,
    /// The SeaweedFS binary (defaults to `weed` on PATH or in the project venv).
    #[arg(long, env = "QUARRY_WEED")]
    weed: Option<PathBuf>,
    /// The Jupyter command (defaults to `jupyter` on PATH or in the project venv).
    #[arg(long, env = "QUARRY_JUPYTER")]
    jupyter: Option<PathBuf>,
}

/// What the lab reads from the environment (through [`Environment`]).
struct LabHost {
    home: Option<PathBuf>,
    search_path: Vec<PathBuf>,
    venv: Option<PathBuf>,
    spark_home: Option<PathBuf>,
}

impl LabHost {
    fn new(env: &Environment) -> Self {
        LabHost {
            home: env.path(var::HOME),
            search_path: env
                .os(var::PATH)
                .map(|p| std::env::split_paths(p).collect())
                .unwrap_or_default(),
            venv: env.path(var::QUARRY_VENV),
            spark_home: env.path(var::SPARK_HOME),
        }
    }

    fn home(&self) -> anyhow::Result<&Path> {
        self.home
            .as_deref()
            .context("HOME is not set: pass --data-dir")
    }

    /// An explicit path, else `name` on PATH, else the project's venv.
    fn find_tool(&self, explicit: Option<PathBuf>, name: &str) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return path.is_file().then_some(path);
        }
        let on_path = self
            .search_path
            .iter()
            .map(|dir| dir.join(name))
            .find(|p| p.is_file());
        on_path.or_else(|| {
            let venv = self
                .venv
                .clone()
                .or_else(|| Some(self.home.as_ref()?.join(".cache/quarry/venv")))?;
            Some(venv.join("bin").join(name)).filter(|p| p.is_file())
        })
    }
}

pub fn run(env: &Environment, args: LabArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(lab(LabHost::new(env), args))
}

async fn lab(host: LabHost, args: LabArgs) -> anyhow::Result<()> {
    let port = args.port;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    // Dropping `start` half-way drops the children started so far, which
    // kills them: a Ctrl-C during start-up leaves nothing behind either.
    let (s3, mut lab, token, run_dir, _lock) = tokio::select! {
        started = start(&host, args) => started?,
        signal = &mut stop => {
            println!("\n{signal}: stopped during start-up.");
            return Ok(());
        }
    };
    println!();
    println!("Quarry lab is running:");
    println!("    http://127.0.0.1:{port}/lab?token={token}");
    println!(
        "Open a notebook with the \"Quarry (SQL · Spark)\" kernel; demo data is in s3://demo/."
    );
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        signal = &mut stop => println!("\n{signal}: stopping …"),
        status = lab.wait() => println!("JupyterLab exited ({status})."),
    }
    // JupyterLab first: on SIGTERM it shuts its kernels down and stops the
    // panel backend, which need S3 no more.
    lab.stop().await;
    s3.stop().await;
    run_dir.remove();
    println!("Stopped JupyterLab (and its kernels) and SeaweedFS.");
    Ok(())
}

/// Ctrl-C in the terminal, SIGTERM from a supervisor, or SIGHUP when the
/// terminal is closed; children run in their own process groups (so none
/// of these reach them), and stopping them is up to us.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "Ctrl-C";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = terminate.recv() => "SIGTERM",
        _ = hangup.recv() => "SIGHUP (the terminal closed)",
    }
}

/// Starts S3 (with demo data) and JupyterLab; returns once both serve,
/// with the data folder's lock (held until the lab and its children end).
async fn start(
    host: &LabHost,
    args: LabArgs,
) -> anyhow::Result<(Seaweed, Child, String, RunDir, LabLock)> {
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => host.home()?.join(".local/share/quarry/lab"),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("could not create {}", data_dir.display()))?;
    let mut lock = LabLock::acquire(&data_dir)?;
    ensure_port_free(args.port)?;
    let weed = host.find_tool(args.weed, "weed").context("SeaweedFS (`weed`) was not found: run `cargo xtask lab`, which installs it, or pass --weed")?;
    let jupyter = host.find_tool(args.jupyter, "jupyter").context("`jupyter` was not found: run `cargo xtask lab`, which installs JupyterLab, or pass --jupyter")?;

    println!("Starting SeaweedFS (S3) from {} …", weed.display());
    let s3 = Seaweed::start(&weed, &data_dir.join("s3")).await?;
    lock.record("SeaweedFS", s3.pid());
    println!("S3 is up at {}", s3.endpoint());
    s3.create_bucket("demo").await?;
    demo_data::ensure(&s3).await?;

    let jupyter_path = data_dir.join("jupyter");
    let quarry = std::env::current_exe()?;
    crate::install::install_into(&jupyter_path.join("kernels"), &quarry)?;
    let notebooks = args.notebooks.unwrap_or_else(|| data_dir.join("notebooks"));
    std::fs::create_dir_all(&notebooks)?;
    demo_data::write_notebooks(&notebooks)?;

    let token = uuid_like();
    let run_dir = RunDir::create(&data_dir)?;
    let mut command = jupyter_command(
        host,
        &jupyter,
        args.port,
        &token,
        &notebooks,
        &jupyter_path,
        &s3,
    )?;
    run_dir.apply(&mut command);
    lab_settings(&jupyter_path, &mut command)?;
    let lab = Child::spawn("JupyterLab", command)?;
    lock.record(&format!("JupyterLab on port {}", args.port), lab.pid());
    wait_for_port(args.port, Duration::from_secs(60))
        .await
        .context("JupyterLab did not start")?;
    Ok((s3, lab, token, run_dir, lock))
}

/// Fails in one sentence when the port is taken, rather than waiting for a
/// JupyterLab that cannot bind it (or mistaking another server for ours).
fn ensure_port_free(port: u16) -> anyhow::Result<()> {
    match std::net::TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            bail!("port {port} is already in use (another JupyterLab?): pass --port N")
        }
        Err(e) => Err(e).with_context(|| format!("could not check port {port}")),
    }
}

/// JupyterLab with the lab's kernelspec, the S3 credentials in its
/// environment (as the hub's pre-spawn hook would give them) and Spark in
/// local mode when pyspark is beside it.
fn jupyter_command(
    host: &LabHost,
    jupyter: &Path,
    port: u16,
    token: &str,
    notebooks: &Path,
    jupyter_path: &Path,
    s3: &Seaweed,
) -> anyhow::Result<tokio::process::Command> {
    let quarry = std::env::current_exe()?;
    let mut command = tokio::process::Command::new(jupyter);
    command
        .args([
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            "--LabApp.news_url=None",
        ])
        .arg(format!("--ServerApp.port={port}"))
        .arg("--ServerApp.port_retries=0")
        .arg(format!("--IdentityProvider.token={token}"))
        .arg(format!("--ServerApp.root_dir={}", notebooks.display()))
        .env("JUPYTER_PATH", jupyter_path)
        // The S3 panel's backend is this binary too (jupyter-server-proxy
        // starts `$QUARRY_BIN serve`).
        .env("QUARRY_BIN", &quarry)
        // The lab's user ("me" or the login name) owns no bucket of that
        // name: `%export` without a destination writes into the demo bucket.
        .env("QUARRY_EXPORT_PREFIX", "s3://demo/exports/")
        .envs(s3.client_env());
    // Spark in local mode: the kernel finds pyspark's Spark through the
    // Python that runs JupyterLab (or SPARK_HOME, if set).
    let python = jupyter.with_file_name("python");
    if host.spark_home.is_none() && python.is_file() {
        command.env("QUARRY_PYTHON", &python);
    }
    match host
        .spark_home
        .clone()
        .or_else(|| quarry_spark::spark_home_of_python(&python))
    {
        Some(home) => println!("Spark (local mode, %spark start) from {}", home.display()),
        None => println!(
            "Spark is not installed: `pip install pyspark==4.3.0` next to JupyterLab enables %spark"
        ),
    }
    if is_root() {
        command.arg("--allow-root");
    }
    Ok(command)
}

/// JupyterLab's settings and workspaces for the lab live in its data
/// folder (not the user's own JupyterLab settings), starting with the news
/// prompt answered: no "Would you like to receive official Jupyter news?"
/// on a first visit (`--LabApp.news_url=None` alone does not stop it).
fn lab_settings(jupyter_path: &Path, command: &mut tokio::process::Command) -> anyhow::Result<()> {
    let settings = jupyter_path.join("lab/user-settings");
    let notification = settings.join("@jupyterlab/apputils-extension");
    std::fs::create_dir_all(&notification)
        .with_context(|| format!("could not create {}", notification.display()))?;
    let file = notification.join("notification.jupyterlab-settings");
    if !file.exists() {
        std::fs::write(
            &file,
            "{\n  \"fetchNews\": \"false\",\n  \"checkForUpdates\": false\n}\n",
        )
        .with_context(|| format!("could not write {}", file.display()))?;
    }
    command.env("JUPYTERLAB_SETTINGS_DIR", &settings).env(
        "JUPYTERLAB_WORKSPACES_DIR",
        jupyter_path.join("lab/workspaces"),
    );
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A random token for Jupyter's login URL.
fn uuid_like() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    (0..3)
        .map(|_| {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(std::process::id() as u64);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub(crate) async fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "nothing listened on port {port} within {}s",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
