//! `cargo xtask wheel`: the `quarry-jupyter` wheel that `pip install` turns
//! into a working Quarry (see `pyproject.toml` at the root).
//!
//! maturin packs the binary (into the environment's scripts, so PATH) and
//! the `quarry_jupyterlab` Python package; what Jupyter finds by path — the
//! kernelspec, the prebuilt extension, the server extension's config — is
//! staged here first as the wheel's data directory (`build/wheel-data`).
//! The binary is built with the same target dir, profile and features as
//! `cargo xtask test`, so after the tests it is only packed, not rebuilt.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::env::{Project, run};

#[derive(Args)]
pub struct WheelArgs {
    /// Build the binary with the release profile (what images ship), not
    /// the dev profile the tests use.
    #[arg(long)]
    release: bool,
    /// Where the wheel goes (default: `<target dir>/wheels`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Use the extension already built in
    /// `labextension/quarry_jupyterlab/labextension` (as the image's
    /// frontend stage leaves it) instead of building it with the venv.
    #[arg(long)]
    frontend_prebuilt: bool,
}

impl WheelArgs {
    /// The dev-profile wheel `cargo xtask test` installs, its frontend
    /// built by then.
    pub fn for_tests() -> Self {
        WheelArgs {
            release: false,
            out: None,
            frontend_prebuilt: true,
        }
    }
}

/// The kernelspec's `{quarry}`: Jupyter replaces a leading `python` with its
/// own interpreter, and `python -m quarry_jupyterlab` runs the binary
/// installed beside it, whether or not the venv is on PATH.
const KERNEL_LAUNCHER: [&str; 3] = ["python", "-m", "quarry_jupyterlab"];

/// Builds the wheel and returns its path.
pub fn build(project: &Project, args: &WheelArgs) -> anyhow::Result<PathBuf> {
    if !args.frontend_prebuilt {
        project.setup_venv()?;
        project.build_labextension()?;
    }
    let data = project.root.join("build/wheel-data");
    stage_data(&project.root, &data)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| project.target_dir().join("wheels"));
    std::fs::create_dir_all(&out).with_context(|| format!("could not create {}", out.display()))?;
    for old in wheels_in(&out)? {
        std::fs::remove_file(&old)
            .with_context(|| format!("could not remove {}", old.display()))?;
    }
    let profile = if args.release { "release" } else { "dev" };
    eprintln!("xtask: packing the quarry-jupyter wheel ({profile} profile) with maturin");
    let mut maturin = Command::new(project.maturin());
    maturin
        .args(["build", "--profile", profile, "--target-dir"])
        .arg(project.target_dir())
        .arg("--out")
        .arg(&out)
        .current_dir(&project.root);
    if !args.release {
        // The tests' wheel is installed once and thrown away: the fastest
        // deflate (a debug binary is several hundred MB).
        maturin.args(["--compression-level", "1"]);
    }
    Project::without_cargo_run_env(&mut maturin);
    run(&mut maturin)?;
    let wheel = match wheels_in(&out)?.as_slice() {
        [one] => one.clone(),
        found => bail!(
            "maturin left {} quarry-jupyter wheels in {}",
            found.len(),
            out.display()
        ),
    };
    let size = std::fs::metadata(&wheel)?.len();
    eprintln!(
        "xtask: {} ({:.1} MB)",
        wheel.display(),
        size as f64 / 1_000_000.0
    );
    Ok(wheel)
}

fn wheels_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("could not read {}", dir.display()))?
    {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("quarry_jupyter-") && name.ends_with(".whl") {
            found.push(path);
        }
    }
    Ok(found)
}

/// The wheel's `data` directory: each file where a `pip install` puts it
/// under the environment's prefix.
fn stage_data(root: &Path, data: &Path) -> anyhow::Result<()> {
    if data.exists() {
        std::fs::remove_dir_all(data)
            .with_context(|| format!("could not clear {}", data.display()))?;
    }
    let share = data.join("data/share/jupyter");

    let kernel = share.join("kernels/quarry");
    std::fs::create_dir_all(&kernel)?;
    for entry in std::fs::read_dir(root.join("kernelspec"))? {
        let path = entry?.path();
        if path.file_name().is_some_and(|n| n != "kernel.json") {
            std::fs::copy(&path, kernel.join(path.file_name().unwrap_or_default()))?;
        }
    }
    std::fs::write(kernel.join("kernel.json"), kernel_json(root)?)?;

    let prebuilt = root.join("labextension/quarry_jupyterlab/labextension");
    if !prebuilt.join("package.json").is_file() {
        bail!(
            "the JupyterLab extension is not built ({} is missing): run without --frontend-prebuilt, \
             or `npm run build:prod` in labextension first",
            prebuilt.join("package.json").display()
        );
    }
    let extension = share.join("labextensions/quarry-jupyterlab");
    copy_tree(&prebuilt, &extension)?;
    // What JupyterLab's extension manager says about uninstalling it.
    std::fs::write(
        extension.join("install.json"),
        r#"{
  "packageManager": "python",
  "packageName": "quarry-jupyter",
  "uninstallInstructions": "Use your Python package manager (pip, conda, etc.) to uninstall the package quarry-jupyter"
}
"#,
    )?;

    // Enables the token refresher (it does nothing outside a Quarry hub).
    copy_tree(
        &root.join("labextension/jupyter-config/server-config"),
        &data.join("data/etc/jupyter/jupyter_server_config.d"),
    )
}

/// `kernelspec/kernel.json` with its `{quarry}` placeholder replaced by
/// [`KERNEL_LAUNCHER`].
fn kernel_json(root: &Path) -> anyhow::Result<String> {
    let template = std::fs::read_to_string(root.join("kernelspec/kernel.json"))?;
    let mut spec: serde_json::Value =
        serde_json::from_str(&template).context("kernelspec/kernel.json is not JSON")?;
    let argv = spec["argv"]
        .as_array()
        .context("kernelspec/kernel.json has no argv list")?;
    let mut launched = Vec::new();
    for arg in argv {
        if arg == "{quarry}" {
            launched.extend(KERNEL_LAUNCHER.map(serde_json::Value::from));
        } else {
            launched.push(arg.clone());
        }
    }
    spec["argv"] = launched.into();
    Ok(serde_json::to_string_pretty(&spec)? + "\n")
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("could not read {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("could not copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wheel_kernelspec_starts_the_binary_through_jupyters_python() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let spec: serde_json::Value = serde_json::from_str(&kernel_json(&root).unwrap()).unwrap();
        assert_eq!(
            spec["argv"],
            serde_json::json!([
                "python",
                "-m",
                "quarry_jupyterlab",
                "kernel",
                "--connection-file",
                "{connection_file}"
            ])
        );
        assert_eq!(spec["language"], "sql");
    }
}
