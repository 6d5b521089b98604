//! `quarry install`: writes the `quarry` kernelspec pointing at this binary.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::config::{Environment, variables as var};

/// The kernelspec name is a contract: notebooks and tests select it.
pub const KERNEL_NAME: &str = "quarry";

const KERNEL_JSON: &str = include_str!("../../../kernelspec/kernel.json");
const LOGOS: [(&str, &[u8]); 3] = [
    (
        "logo-32x32.png",
        include_bytes!("../../../kernelspec/logo-32x32.png"),
    ),
    (
        "logo-64x64.png",
        include_bytes!("../../../kernelspec/logo-64x64.png"),
    ),
    (
        "logo-svg.svg",
        include_bytes!("../../../kernelspec/logo-svg.svg"),
    ),
];

#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
pub struct InstallArgs {
    /// Install for the current user (the default).
    #[arg(long)]
    user: bool,
    /// Install into the active Python environment (`$VIRTUAL_ENV`, or the
    /// prefix of `python3`), as the single-user image does.
    #[arg(long)]
    sys_prefix: bool,
    /// Install under DIR/share/jupyter/kernels.
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
}

pub fn run(env: &Environment, args: &InstallArgs) -> anyhow::Result<()> {
    let kernels = kernels_dir(env, args)?;
    let binary = std::env::current_exe().context("could not find the quarry binary's own path")?;
    let dir = install_into(&kernels, &binary)?;
    println!(
        "Installed the '{KERNEL_NAME}' kernelspec in {}",
        dir.display()
    );
    Ok(())
}

/// Writes `kernel.json` and the logos into `kernels/quarry`, replacing any
/// earlier install.
pub fn install_into(kernels: &Path, binary: &Path) -> anyhow::Result<PathBuf> {
    let dir = kernels.join(KERNEL_NAME);
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let binary = binary
        .to_str()
        .context("the quarry binary's path is not valid UTF-8")?;
    // Substitute inside the parsed JSON so a path with quotes or
    // backslashes stays valid.
    let mut spec: serde_json::Value =
        serde_json::from_str(KERNEL_JSON).expect("kernel.json template is valid JSON");
    for arg in spec["argv"].as_array_mut().expect("argv is an array") {
        if arg == "{quarry}" {
            *arg = binary.into();
        }
    }
    let json = serde_json::to_string_pretty(&spec)?;
    std::fs::write(dir.join("kernel.json"), json + "\n")
        .with_context(|| format!("could not write {}", dir.join("kernel.json").display()))?;
    for (name, bytes) in LOGOS {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok(dir)
}

fn kernels_dir(env: &Environment, args: &InstallArgs) -> anyhow::Result<PathBuf> {
    if let Some(prefix) = &args.prefix {
        return Ok(prefix.join("share/jupyter/kernels"));
    }
    if args.sys_prefix {
        return Ok(python_prefix(env)?.join("share/jupyter/kernels"));
    }
    Ok(user_data_dir(env)?.join("kernels"))
}

/// Jupyter's per-user data directory, honouring the same variables Jupyter
/// itself does.
fn user_data_dir(env: &Environment) -> anyhow::Result<PathBuf> {
    if let Some(dir) = env.path(var::JUPYTER_DATA_DIR) {
        return Ok(dir);
    }
    if let Some(xdg) = env.path(var::XDG_DATA_HOME) {
        return Ok(xdg.join("jupyter"));
    }
    let home = env
        .path(var::HOME)
        .context("HOME is not set: pass --prefix DIR")?;
    Ok(home.join(".local/share/jupyter"))
}

fn python_prefix(env: &Environment) -> anyhow::Result<PathBuf> {
    if let Some(venv) = env.path(var::VIRTUAL_ENV) {
        return Ok(venv);
    }
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .context("--sys-prefix needs python3 on PATH (or VIRTUAL_ENV set)")?;
    if !output.status.success() {
        bail!("python3 could not report its prefix");
    }
    Ok(PathBuf::from(String::from_utf8(output.stdout)?.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_kernelspec_that_runs_this_binary() {
        let dir = tempfile::tempdir().unwrap();
        let installed =
            install_into(dir.path(), Path::new("/opt/quarry \"x\"/bin/quarry")).unwrap();
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(installed.join("kernel.json")).unwrap())
                .unwrap();
        assert_eq!(spec["argv"][0], "/opt/quarry \"x\"/bin/quarry");
        assert_eq!(spec["argv"][1], "kernel");
        assert_eq!(spec["argv"][3], "{connection_file}");
        assert_eq!(spec["language"], "sql");
        assert_eq!(spec["interrupt_mode"], "message");
        assert_eq!(spec["display_name"], "Quarry (SQL · Spark)");
        for (logo, _) in LOGOS {
            assert!(installed.join(logo).is_file(), "{logo} missing");
        }
    }
}
