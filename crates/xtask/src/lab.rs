//! `cargo xtask lab`: prepares what the lab runs, then becomes `quarry lab`.
//!
//! Only what the lab needs is built — the venv with JupyterLab and
//! SeaweedFS, the extension, and the `quarry` binary (not the test targets,
//! not the test-only tool venvs) — and each step says what it does from
//! the first second. Then this process *execs* `quarry lab`: the PID the
//! user (or a process manager, or a closing terminal) signals is the lab
//! itself, which stops JupyterLab, its kernels, the panel backend and
//! SeaweedFS however it is stopped. A wrapper process in between would die
//! alone and leave them running.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;

use crate::env::Project;

/// Steps the lab takes before it starts, for "[n/N]".
const STEPS: usize = 3;

pub fn run(project: &Project, lab_args: &[String]) -> anyhow::Result<()> {
    step(
        1,
        "the Python venv (JupyterLab, SeaweedFS, pyspark)",
        || project.setup_venv(),
    )?;
    step(2, "the JupyterLab extension", || {
        project.build_labextension()
    })?;
    let binary = match std::env::var_os("QUARRY_BIN") {
        // A binary built already, elsewhere or by another target dir.
        // (In the same target dir there is no need: `-p quarry` resolves
        // the features the test build does, so it only links — see
        // crates/README.md, "Packaging".)
        Some(prebuilt) => {
            let prebuilt = std::path::PathBuf::from(prebuilt);
            eprintln!(
                "xtask: [3/{STEPS}] the quarry binary: using QUARRY_BIN={}",
                prebuilt.display()
            );
            prebuilt
        }
        None => {
            let binary = project.binary("debug");
            let what = if binary.is_file() {
                "the quarry binary (only what changed)"
            } else {
                // Measured on a fresh 2-core machine: 33 min.
                "the quarry binary — the first build compiles DataFusion, the AWS SDK and Spark's client: about 35 min on 2 cores, later starts take seconds"
            };
            step(3, what, || {
                project.cargo(&["build", "-p", "quarry", "--bin", "quarry"])
            })?;
            binary
        }
    };
    eprintln!("xtask: starting quarry lab");
    // On success exec does not return; it returns only the error.
    let error = lab_command(project, &binary, lab_args).exec();
    Err(error).with_context(|| format!("could not start {}", binary.display()))
}

fn step(n: usize, what: &str, work: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<()> {
    eprintln!("xtask: [{n}/{STEPS}] {what} …");
    let started = Instant::now();
    work()?;
    eprintln!(
        "xtask: [{n}/{STEPS}] done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `quarry lab` with the venv's tools; the demo notebooks are copies in
/// the lab's data folder (quarry lab writes them there), so saving a
/// notebook never touches the clone.
fn lab_command(project: &Project, binary: &Path, lab_args: &[String]) -> Command {
    let mut command = Command::new(binary);
    command.arg("lab").args(lab_args).envs(project.tool_env());
    command
}
