//! `quarry`: the Quarry kernel (`kernel`), its kernelspec installer
//! (`install`), the S3 panel's backend (`serve`) and the local platform
//! launcher (`lab`). Each subcommand is a thin shell over a library crate
//! (see `crates/README.md`); only this binary decides how the process
//! exits and where logs go (stderr or a file, never the notebook).

mod install;
mod kernel;
mod lab;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "quarry",
    version,
    about = "A Jupyter data kernel: SQL over S3 with Apache DataFusion"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the kernel (started by Jupyter from the kernelspec).
    Kernel {
        /// The connection file Jupyter wrote for this kernel.
        #[arg(long, short = 'f')]
        connection_file: PathBuf,
        /// Accept a connection file with an empty key (messages are then
        /// not authenticated): only on a machine nobody else can reach.
        #[arg(long)]
        allow_unauthenticated: bool,
    },
    /// Install the `quarry` kernelspec so Jupyter can start this binary.
    Install(install::InstallArgs),
    /// Start a local platform: an S3 server with demo data and JupyterLab.
    Lab(lab::LabArgs),
    /// Serve the S3 panel's REST API (started by jupyter-server-proxy).
    Serve(serve::ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Kernel {
            connection_file,
            allow_unauthenticated,
        } => kernel::run(&connection_file, allow_unauthenticated),
        Command::Install(args) => install::run(&args),
        Command::Lab(args) => lab::run(args),
        Command::Serve(args) => serve::run(&args),
    }
}

/// Logs go to stderr (Jupyter's server log for a kernel), never to the
/// notebook. `QUARRY_LOG` takes a tracing filter such as `debug`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUARRY_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "warn,zeromq=warn,quarry=info,quarry_kernel=info,quarry_protocol=info",
        )
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
