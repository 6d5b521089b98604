//! Where things live: the checkout, the shared target dir, the venv.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

pub struct Project {
    pub root: PathBuf,
    venv: PathBuf,
}

impl Project {
    pub fn locate() -> anyhow::Result<Self> {
        // Read at run time: `cargo run` sets it for this checkout, whereas a
        // compile-time `env!` would be baked into a binary that a shared
        // target dir may reuse for another clone of the project.
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .ancestors()
            .nth(2)
            .context("xtask is not inside the workspace")?
            .to_path_buf();
        // The venv lives outside the checkout so clean clones (CI) reuse it.
        let venv = match std::env::var_os("QUARRY_VENV") {
            Some(dir) => PathBuf::from(dir),
            None => home()?.join(".cache/quarry/venv"),
        };
        Ok(Project { root, venv })
    }

    pub fn target_dir(&self) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    self.root.join(p)
                }
            })
            .unwrap_or_else(|| self.root.join("target"))
    }

    /// Tools built from crates.io for the project (mdBook), beside the venv.
    pub fn tools_dir(&self) -> PathBuf {
        self.venv.with_file_name("tools")
    }

    pub fn binary(&self, profile: &str) -> PathBuf {
        self.target_dir().join(profile).join("quarry")
    }

    /// Creates the venv and installs tests/requirements.txt into it, and the
    /// tools' own venvs: the security scanner from
    /// tests/requirements-checkov.txt (checkov pins its own boto3, so it
    /// cannot share the test venv) and the OpenAPI fuzzer from
    /// tests/requirements-schemathesis.txt, unless the installed sets
    /// already match the files.
    pub fn setup(&self) -> anyhow::Result<()> {
        self.setup_venv()?;
        for tool in TOOL_VENVS {
            install_requirements(
                &self.tool_venv(tool),
                &self.root.join(format!("tests/requirements-{tool}.txt")),
            )?;
        }
        Ok(())
    }

    /// The venv alone (JupyterLab, SeaweedFS, pyspark): what the lab runs,
    /// without the test-only tools' venvs.
    pub fn setup_venv(&self) -> anyhow::Result<()> {
        install_requirements(&self.venv, &self.root.join("tests/requirements.txt"))
    }

    /// Beside the test venv: `~/.cache/quarry/venv-<tool>` by default.
    fn tool_venv(&self, tool: &str) -> PathBuf {
        let mut name = self.venv.file_name().unwrap_or_default().to_os_string();
        name.push(format!("-{tool}"));
        self.venv.with_file_name(name)
    }

    pub fn venv_python(&self) -> PathBuf {
        self.venv.join("bin/python")
    }

    /// PATH with the venv first, so `weed` and `jupyter` resolve there, and
    /// where the tools are (`QUARRY_CHECKOV`, `QUARRY_SCHEMATHESIS`).
    pub fn tool_env(&self) -> HashMap<String, String> {
        let path = std::env::var("PATH").unwrap_or_default();
        HashMap::from([
            (
                "PATH".into(),
                format!("{}:{path}", self.venv.join("bin").display()),
            ),
            ("VIRTUAL_ENV".into(), self.venv.display().to_string()),
            (
                "QUARRY_CHECKOV".into(),
                self.tool_venv("checkov")
                    .join("bin/checkov")
                    .display()
                    .to_string(),
            ),
            (
                "QUARRY_SCHEMATHESIS".into(),
                self.tool_venv("schemathesis")
                    .join("bin/st")
                    .display()
                    .to_string(),
            ),
        ])
    }

    /// Runs cargo as if typed in a shell.
    ///
    /// `cargo run` gives xtask variables such as `CARGO_PKG_NAME=xtask` and
    /// `CARGO_MANIFEST_DIR`; build scripts (ring's, for one) declare
    /// `rerun-if-env-changed` on those, so passing them on would make every
    /// `cargo xtask` build and every plain `cargo build` invalidate each
    /// other's cache and rebuild DataFusion from scratch.
    pub fn cargo(&self, args: &[&str]) -> anyhow::Result<()> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        Self::without_cargo_run_env(&mut command);
        run(command.args(args).current_dir(&self.root))
    }

    /// Removes what `cargo run` injected into xtask's environment, for a
    /// child that runs cargo itself (see [`Project::cargo`]).
    pub fn without_cargo_run_env(command: &mut Command) {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let injected = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix));
            if injected || name == "OUT_DIR" {
                command.env_remove(name.as_ref());
            }
        }
    }

    /// maturin, which packs the wheel: `QUARRY_MATURIN`, else the venv's.
    pub fn maturin(&self) -> PathBuf {
        std::env::var_os("QUARRY_MATURIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.venv.join("bin/maturin"))
    }

    pub fn python(&self, args: &[&str]) -> anyhow::Result<()> {
        run(Command::new(self.venv_python())
            .args(args)
            .current_dir(&self.root)
            .envs(self.tool_env()))
    }
}

fn home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set; set QUARRY_VENV")
}

pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("could not run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

/// Tools with a venv of their own, each from `tests/requirements-<tool>.txt`.
const TOOL_VENVS: [&str; 2] = ["checkov", "schemathesis"];

/// Creates `venv` if needed and installs `requirements` into it, unless a
/// stamp says that exact file was installed last.
fn install_requirements(venv: &Path, requirements: &Path) -> anyhow::Result<()> {
    let wanted = std::fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let python = venv.join("bin/python");
    let stamp = venv.join(".quarry-requirements");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && python.is_file() {
        return Ok(());
    }
    if !python.is_file() {
        eprintln!("xtask: creating the Python venv at {}", venv.display());
        run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    }
    eprintln!(
        "xtask: installing {} into {} (first run takes a few minutes)",
        requirements.display(),
        venv.display()
    );
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "--upgrade", "pip"]))?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(requirements))?;
    std::fs::write(stamp, wanted)?;
    Ok(())
}
