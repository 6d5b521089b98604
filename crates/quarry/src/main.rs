//! `quarry`: the Quarry kernel (`kernel`), its kernelspec installer
//! (`install`), the S3 panel's backend (`serve`), the local platform
//! launcher (`lab`) and the AWS SDKs' credential source (`aws-credentials`). Each subcommand is a thin shell over a library crate
//! (see `crates/README.md`); only this binary decides how the process
//! exits and where logs go (stderr or a file, never the notebook).

mod aws_credentials;
mod config;
mod install;
mod kernel;
mod lab;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use config::variables::Reader;

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

/// The CLI with each subcommand's environment variables in its `--help`,
/// from the one table that declares them.
fn command_with_environment_help() -> clap::Command {
    let readers: [(&str, &[Reader]); 5] = [
        ("kernel", &[Reader::S3, Reader::Kernel, Reader::Spark]),
        ("serve", &[Reader::S3, Reader::Panel]),
        ("aws-credentials", &[Reader::S3]),
        ("install", &[Reader::Install]),
        ("lab", &[Reader::Lab]),
    ];
    readers
        .iter()
        .fold(Cli::command(), |command, (name, readers)| {
            command.mut_subcommand(*name, |sub| sub.after_long_help(config::help_for(readers)))
        })
}

fn main() -> ExitCode {
    let cli = Cli::from_arg_matches(&command_with_environment_help().get_matches())
        .unwrap_or_else(|error| error.exit());
    // The one read of the environment: everything below gets typed values.
    let env = config::Environment::capture();
    // The credential source's stdout is the SDK's input and its stderr the
    // SDK's error text: only the one sentence of a failure goes there.
    let default_filter = match cli.command {
        Command::AwsCredentials(_) => "off",
        _ => "warn,zeromq=warn,quarry=info,quarry_kernel=info,quarry_protocol=info",
    };
    init_logging(&env, default_filter);
    let outcome = match cli.command {
        Command::Kernel {
            connection_file,
            allow_unauthenticated,
        } => kernel::run(&env, &connection_file, allow_unauthenticated),
        Command::Install(args) => install::run(&env, &args),
        Command::Lab(args) => lab::run(&env, args),
        Command::Serve(args) => serve::run(&env, &args),
        Command::AwsCredentials(args) => aws_credentials::run(&env, &args),
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
fn init_logging(env: &config::Environment, default_filter: &str) {
    let filter = env
        .text(config::variables::QUARRY_LOG)
        .and_then(|raw| tracing_subscriber::EnvFilter::try_new(raw).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::one_line;

    /// The configuration reference in the docs is generated from the
    /// declarations; `QUARRY_BLESS=1` rewrites it.
    #[test]
    fn the_configuration_reference_is_the_declarations() {
        quarry_testkit::generated::assert_generated(
            "docs/src/reference/configuration.md",
            &super::config::reference_markdown(&super::command_with_environment_help()),
            "cargo test --workspace configuration_reference",
        );
    }

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
