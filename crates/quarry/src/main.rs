//! `quarry`: the Quarry kernel (`kernel`), its kernelspec installer
//! (`install`), the S3 panel's backend (`serve`), the local platform
//! launcher (`lab`) and the AWS SDKs' credential source (`aws-credentials`). Each subcommand is a thin shell over a library crate
//! (see `crates/README.md`); only this binary decides how the process
//! exits and where logs go (stderr or a file, never the notebook).

mod aws_credentials;
mod install;
mod kernel;
mod lab;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Print S3 credentials for AWS SDKs (an AWS config file's
    /// `credential_process`), from the web identity token as the kernel gets them.
    AwsCredentials(aws_credentials::AwsCredentialsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The credential source's stdout is the SDK's input and its stderr the
    // SDK's error text: only the one sentence of a failure goes there.
    let default_filter = match cli.command {
        Command::AwsCredentials(_) => "off",
        _ => "warn,zeromq=warn,quarry=info,quarry_kernel=info,quarry_protocol=info",
    };
    init_logging(default_filter);
    let outcome = match cli.command {
        Command::Kernel {
            connection_file,
            allow_unauthenticated,
        } => kernel::run(&connection_file, allow_unauthenticated),
        Command::Install(args) => install::run(&args),
        Command::Lab(args) => lab::run(args),
        Command::Serve(args) => serve::run(&args),
        Command::AwsCredentials(args) => aws_credentials::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line a person can act on; no backtrace, even with
            // RUST_BACKTRACE set (that is for panics, which are bugs).
            eprintln!("quarry: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line: "what failed: why: why".
fn one_line(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        let part = part.trim().trim_end_matches('.');
        // Wrappers often repeat their cause's text; say it once.
        if !part.is_empty() && !text.contains(part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(part);
        }
    }
    text.push('.');
    text
}

/// Logs go to stderr (Jupyter's server log for a kernel), never to the
/// notebook. `QUARRY_LOG` takes a tracing filter such as `debug`.
fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUARRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn errors_read_as_one_line_without_repeats() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let error = anyhow::Error::new(io).context("could not read the connection file /x");
        assert_eq!(
            one_line(&error),
            "could not read the connection file /x: No such file or directory."
        );
    }
}
