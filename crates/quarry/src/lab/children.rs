//! Child processes that stop when the lab stops.

use std::time::Duration;

use anyhow::Context as _;
use tokio::process::Command;

/// How long a child may take to stop on SIGTERM: JupyterLab asks each
/// kernel to shut down (up to 5 s each, in parallel) before it exits.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// A server process in its own process group, so the terminal's Ctrl-C
/// reaches only `quarry lab`, which then stops children in order (JupyterLab
/// would otherwise stop to ask "Shutdown this server (y/[n])?").
pub struct Child {
    name: &'static str,
    process: tokio::process::Child,
}

impl Child {
    pub fn spawn(name: &'static str, mut command: Command) -> anyhow::Result<Self> {
        command.process_group(0).kill_on_drop(true);
        let process = command
            .spawn()
            .with_context(|| format!("could not start {name}"))?;
        Ok(Child { name, process })
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.id()
    }

    pub async fn wait(&mut self) -> String {
        match self.process.wait().await {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within the grace
    /// period; then whatever is left of its process group (helpers it
    /// started, e.g. the panel backend under jupyter-server-proxy).
    pub async fn stop(mut self) {
        let pid = self.process.id();
        if let Some(pid) = pid {
            // SAFETY: kill(2) with a pid we own; no memory is involved.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(STOP_GRACE, self.process.wait())
            .await
            .is_err()
        {
            tracing::warn!("{} did not stop on SIGTERM; killing it", self.name);
            let _ = self.process.kill().await;
        }
        if let Some(pid) = pid {
            // The child leads its own group (`process_group(0)`).
            // SAFETY: kill(2) on a process group we created.
            unsafe {
                libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
            }
        }
    }
}
