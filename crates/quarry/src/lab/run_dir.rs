//! The lab's own runtime folder, so stopping it leaves nothing behind.
//!
//! JupyterLab writes its server file (`jpserver-*.json`), kernels'
//! connection files and jupyter-server-proxy's socket folder
//! (`jupyter-server-proxy-*`, under `TMPDIR`) into the user's shared
//! runtime dir and `/tmp`, and a stop that is not perfectly clean leaves
//! them there. The lab points `JUPYTER_RUNTIME_DIR` and `TMPDIR` at a
//! folder of its own and removes it when it stops.
//!
//! The folder is short and under the system's temporary directory
//! (`/tmp/quarry-lab-<pid>`), not in the data folder: unix socket paths
//! (the panel backend's, the kernel's) must fit in 108 bytes. Its path is
//! noted in `DATA_DIR/run-dir`, so the next start removes what a crashed
//! lab left.

use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio::process::Command;

/// The name every lab's runtime folder starts with.
const PREFIX: &str = "quarry-lab-";

pub struct RunDir {
    root: PathBuf,
    note: PathBuf,
}

impl RunDir {
    /// A fresh private runtime folder for the lab using `data_dir` (whose
    /// lock says no other lab uses it), after removing the one a crashed
    /// lab left.
    pub fn create(data_dir: &Path) -> anyhow::Result<RunDir> {
        let note = data_dir.join("run-dir");
        if let Ok(stale) = std::fs::read_to_string(&note) {
            let stale = PathBuf::from(stale.trim());
            let ours = stale
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX));
            if ours {
                let _ = std::fs::remove_dir_all(&stale);
            }
        }
        let root = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["runtime", "tmp"] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root.join(dir))
                .with_context(|| format!("could not create {}", root.join(dir).display()))?;
        }
        std::fs::write(&note, root.display().to_string())
            .with_context(|| format!("could not write {}", note.display()))?;
        Ok(RunDir { root, note })
    }

    /// Points JupyterLab (and what it starts: kernels, the panel backend)
    /// at this folder for runtime files and temporary files.
    pub fn apply(&self, command: &mut Command) {
        command
            .env("JUPYTER_RUNTIME_DIR", self.root.join("runtime"))
            .env("TMPDIR", self.root.join("tmp"));
    }

    /// Removes the folder once everything that used it has stopped.
    pub fn remove(self) {
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            tracing::warn!("could not remove {}: {e}", self.root.display());
        }
        let _ = std::fs::remove_file(&self.note);
    }
}
