//! The lab's own runtime folder, so stopping it leaves nothing behind.
//!
//! JupyterLab writes its server file (`jpserver-*.json`), kernels'
//! connection files and jupyter-server-proxy's socket folder
//! (`jupyter-server-proxy-*`, under `TMPDIR`) into the user's shared
//! runtime dir and `/tmp`, and a stop that is not perfectly clean leaves
//! them there. The lab points `JUPYTER_RUNTIME_DIR` and `TMPDIR` at
//! `DATA_DIR/run/` instead and removes it when it stops (and at the next
//! start, after a crash).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio::process::Command;

pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// An empty `DATA_DIR/run` (what a crashed lab left is removed first;
    /// the data folder's lock says no other lab uses it).
    pub fn create(data_dir: &Path) -> anyhow::Result<RunDir> {
        let root = data_dir.join("run");
        if root.exists() {
            std::fs::remove_dir_all(&root)
                .with_context(|| format!("could not clear {}", root.display()))?;
        }
        for dir in ["jupyter-runtime", "tmp"] {
            std::fs::create_dir_all(root.join(dir))
                .with_context(|| format!("could not create {}", root.join(dir).display()))?;
        }
        Ok(RunDir { root })
    }

    /// Points JupyterLab (and what it starts: kernels, the panel backend)
    /// at this folder for runtime files and temporary files.
    pub fn apply(&self, command: &mut Command) {
        command
            .env("JUPYTER_RUNTIME_DIR", self.root.join("jupyter-runtime"))
            .env("TMPDIR", self.root.join("tmp"));
    }

    /// Removes the folder once everything that used it has stopped.
    pub fn remove(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!("could not remove {}: {e}", self.root.display());
        }
    }
}
