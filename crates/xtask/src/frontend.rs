//! The JupyterLab extension's build, and the browser its tests drive.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::env::{Project, run};

/// Debian's Chromium, which Playwright drives (no browser download needed).
const CHROMIUM: &str = "/usr/bin/chromium";

impl Project {
    fn labextension(&self) -> PathBuf {
        self.root.join("labextension")
    }

    /// Installs the npm packages (exactly the lockfile's), regenerates the
    /// API types from `openapi.json`, and installs the extension into the
    /// venv with pip — the path users take: the wheel build's own hook
    /// (hatch-jupyter-builder) builds the frontend when its sources
    /// changed, so Jupyter sees this checkout's panel as `pip install`
    /// gives it.
    pub fn build_labextension(&self) -> anyhow::Result<()> {
        let dir = self.labextension();
        npm_ci_if_changed(&dir)?;
        eprintln!("xtask: building the JupyterLab extension");
        run(npm(&dir).args(["run", "build:api"]).envs(self.tool_env()))?;
        run(Command::new(self.venv_python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--force-reinstall",
                "--no-build-isolation",
            ])
            .arg(&dir)
            .envs(self.tool_env()))
    }

    /// The Node parts of the cross-component tests, each from its
    /// lockfile: the hub end-to-end test's OpenID provider (standing in
    /// for Keycloak) and JupyterHub's proxy; the Vega-Lite schema the
    /// chart tests validate against.
    pub fn install_test_packages(&self) -> anyhow::Result<()> {
        npm_ci_if_changed(&self.root.join("tests/hub"))?;
        npm_ci_if_changed(&self.root.join("tests/vega"))
    }

    /// The extension's unit tests (pure modules, node's test runner).
    pub fn test_labextension(&self) -> anyhow::Result<()> {
        run(npm(&self.labextension()).args(["test", "--silent"]))
    }

    /// Makes sure the browser for the panel tests is installed (apt, as
    /// root or through passwordless sudo).
    pub fn ensure_chromium(&self) -> anyhow::Result<()> {
        if let Some(custom) = std::env::var_os("QUARRY_CHROMIUM") {
            if Path::new(&custom).is_file() {
                return Ok(());
            }
            bail!("QUARRY_CHROMIUM={custom:?} does not exist");
        }
        if Path::new(CHROMIUM).is_file() {
            return Ok(());
        }
        eprintln!("xtask: installing Debian's chromium for the browser tests");
        let install = ["install", "-y", "--no-install-recommends", "chromium"];
        if apt(&install).is_err() {
            // A fresh machine may have no package lists yet.
            apt(&["update"])?;
            apt(&install)?;
        }
        if !Path::new(CHROMIUM).is_file() {
            bail!("apt installed chromium but {CHROMIUM} is still missing");
        }
        Ok(())
    }
}

/// `npm ci` unless node_modules already holds exactly this lockfile.
fn npm_ci_if_changed(dir: &Path) -> anyhow::Result<()> {
    let lock = std::fs::read(dir.join("package-lock.json"))
        .with_context(|| format!("{}/package-lock.json is missing", dir.display()))?;
    let stamp = dir.join("node_modules/.quarry-lock");
    if std::fs::read(&stamp).ok().as_deref() != Some(lock.as_slice()) {
        eprintln!("xtask: installing npm packages in {}", dir.display());
        run(npm(dir).args(["ci", "--prefer-offline", "--no-audit", "--no-fund"]))?;
        std::fs::write(&stamp, &lock)?;
    }
    Ok(())
}

fn npm(dir: &Path) -> Command {
    let mut command = Command::new("npm");
    command.current_dir(dir);
    command
}

fn apt(args: &[&str]) -> anyhow::Result<()> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut command = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "apt-get"]);
        sudo
    };
    run(command.args(args).env("DEBIAN_FRONTEND", "noninteractive")).context(
        "could not install chromium with apt-get (run `sudo apt-get install chromium`, \
         or point QUARRY_CHROMIUM at a Chromium binary)",
    )
}
