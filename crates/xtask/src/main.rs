//! Project automation, run as `cargo xtask <command>`.
//!
//! Everything a fresh machine needs is installed from here (a Python venv
//! from PyPI, the extension's npm packages, Debian's chromium for the
//! browser tests), so the README's two commands work anywhere:
//! `cargo xtask lab` and `cargo xtask test`.

mod docs;
mod env;
mod frontend;
mod lab;
mod wheel;

use std::path::Path;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use env::Project;

#[derive(Parser)]
#[command(name = "xtask", about = "Quarry project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install the Python environment the tests and the lab use, and build
    /// the JupyterLab extension into it.
    Setup,
    /// Build everything and run every test suite (Rust unit tests, then the
    /// Jupyter/S3 end-to-end suites).
    Test {
        /// Extra arguments for pytest, e.g. `-k interrupt`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        pytest_args: Vec<String>,
    },
    /// Start the local platform: S3 with demo data and JupyterLab.
    Lab {
        /// Arguments for `quarry lab`, e.g. `--port 8890 --data-dir DIR`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        lab_args: Vec<String>,
    },
    /// Run the benchmarks and write a report under target/bench/.
    Bench,
    /// Build the documentation (docs/, mdBook) into docs/book/ and check
    /// every link in it.
    Docs,
    /// Build the `quarry-jupyter` wheel: the binary, its kernelspec and the
    /// JupyterLab extension, for one `pip install`.
    Wheel(wheel::WheelArgs),
}

fn main() -> anyhow::Result<()> {
    let project = Project::locate()?;
    match Cli::parse().command {
        Task::Setup => {
            project.setup()?;
            project.build_labextension()
        }
        Task::Test { pytest_args } => test(&project, &pytest_args),
        Task::Lab { lab_args } => lab::run(&project, &lab_args),
        Task::Wheel(args) => wheel::build(&project, &args).map(drop),
        Task::Docs => docs::build(&project).map(drop),
        Task::Bench => bench(&project),
    }
}

/// Runs the benchmarks against a release build and writes one report.
fn bench(project: &Project) -> anyhow::Result<()> {
    project.setup()?;
    // Measure what users run: the images build `--release`. The
    // Spark bench's fake Kubernetes is a debug test binary.
    project.cargo(&["build", "--release", "-p", "quarry"])?;
    project.cargo(&["build", "--workspace", "--bins"])?;
    let quarry = project.binary("release");
    let quarry = quarry.to_str().context("non-UTF-8 path")?;
    let out = project.target_dir().join("bench");
    let out = out.to_str().context("non-UTF-8 path")?;
    // The peers (datafusion-python, polars, DuckDB) and the data
    // generator are only needed here.
    project.python(&[
        "-m",
        "pip",
        "install",
        "--quiet",
        "-r",
        "tests/bench/requirements.txt",
    ])?;
    // The query engine's figures first: they take longest and matter
    // most when a run has to be cut short.
    let benches = [
        ("tpch_bench", "tpch"),
        ("cpu_profile", "cpu_profile"),
        ("sensor_bench", "sensor"),
        ("scaling_bench", "scaling"),
        ("kernel_bench", "kernel"),
        ("panel_bench", "panel"),
        ("chart_bench", "chart_bench"),
        ("grid_bench", "grid_bench"),
        ("spark_bench", "spark"),
        ("credentials_bench", "credentials"),
    ];
    for (bench, _) in benches {
        let script = format!("tests/bench/{bench}.py");
        project.python(&[&script, "--quarry", quarry, "--out", out])?;
    }
    // One report of the whole run, in the order above.
    let out = Path::new(out);
    let mut report = String::new();
    for (_, name) in benches {
        let part = out.join(format!("{name}.md"));
        if let Ok(text) = std::fs::read_to_string(&part) {
            report.push_str(&text);
            report.push('\n');
        }
    }
    std::fs::write(out.join("report.md"), report).context("could not write the report")?;
    eprintln!(
        "xtask: the whole run's report is {}",
        out.join("report.md").display()
    );
    Ok(())
}

fn test(project: &Project, pytest_args: &[String]) -> anyhow::Result<()> {
    project.setup()?;
    project.ensure_chromium()?;
    project.cargo(&["fmt", "--all", "--check"])?;
    project.build_labextension()?;
    project.install_test_packages()?;
    project.test_labextension()?;
    // One build serves both suites: the unit tests and the binary the
    // end-to-end tests start as a real kernel.
    project.cargo(&["build", "--workspace", "--all-targets"])?;
    // The lint gate: the workspace lints (Cargo.toml) with warnings as errors.
    project.cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    project.cargo(&["test", "--workspace", "--quiet"])?;
    // The book builds and its links hold (the generated references were
    // checked against their definitions by the unit tests above).
    docs::build(project)?;
    // The wheel the install test puts into a clean venv: the same binary,
    // packed (the frontend was built above).
    let wheel = wheel::build(project, &wheel::WheelArgs::for_tests())?;
    let quarry = project.binary("debug");
    let mut args = vec![
        "-m".to_string(),
        "pytest".into(),
        "tests".into(),
        "-v".into(),
        "-rs".into(),
        // Where CI's time goes, in its log.
        "--durations=25".into(),
        format!("--quarry={}", quarry.display()),
        format!("--wheel={}", wheel.display()),
    ];
    args.extend(pytest_args.iter().cloned());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    project.python(&arg_refs)
}
