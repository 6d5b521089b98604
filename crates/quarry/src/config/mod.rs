//! Quarry's configuration: every environment variable it reads is declared
//! once in [`variables`], read once into an [`Environment`] by the binary,
//! parsed there with one error wording, and passed down as typed values.
//! No library crate reads the environment (a test checks the sources).
//! The configuration reference in the docs is generated from the same
//! declarations (and from the subcommands' `env` flags).

mod environment;
pub mod variables;

pub use environment::Environment;

use variables::Reader;

/// The variables `readers` read, for a subcommand's `--help`.
pub fn help_for(readers: &[Reader]) -> String {
    let mut text = String::from("Environment:");
    for reader in readers {
        text.push_str(&format!("\n\n  {}:\n", reader.title().replace('`', "")));
        for v in variables::ALL.iter().filter(|v| v.reader == *reader) {
            let meaning = v.meaning.replace('`', "");
            text.push_str(&format!(
                "    {}{}\n        {meaning}\n",
                v.name,
                if v.secret { " (secret)" } else { "" }
            ));
        }
    }
    text
}

/// The configuration reference, as Markdown: the declared variables by
/// reader, then the flags that also take a variable (from `cli`).
#[cfg(test)]
pub fn reference_markdown(cli: &clap::Command) -> String {
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from crates/quarry/src/config/variables.rs and the CLI's flags: \
         QUARRY_BLESS=1 cargo test --workspace configuration_reference rewrites it. -->\n\n\
         Quarry reads these environment variables and no others. Empty values \
         count as unset. Secrets (marked) never appear in output, logs or errors.\n",
    );
    for reader in Reader::ALL {
        out.push_str(&format!(
            "\n## {}\n\n| variable | meaning |\n|---|---|\n",
            reader.title()
        ));
        for v in variables::ALL.iter().filter(|v| v.reader == reader) {
            let secret = if v.secret { " (secret)" } else { "" };
            out.push_str(&format!("| `{}`{secret} | {} |\n", v.name, v.meaning));
        }
    }
    out.push_str(
        "\n## Flags that a variable also sets\n\n| variable | flag | meaning |\n|---|---|---|\n",
    );
    for (path, arg) in env_flags(cli, "quarry") {
        let env = arg
            .get_env()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        let long = arg.get_long().unwrap_or_default();
        out.push_str(&format!("| `{env}` | `{path} --{long}` | {help} |\n"));
    }
    out
}

/// Every argument of `command` and its subcommands that reads a variable.
#[cfg(test)]
fn env_flags(command: &clap::Command, path: &str) -> Vec<(String, clap::Arg)> {
    let mut found: Vec<(String, clap::Arg)> = command
        .get_arguments()
        .filter(|arg| arg.get_env().is_some())
        .map(|arg| (path.to_string(), arg.clone()))
        .collect();
    for sub in command.get_subcommands() {
        found.extend(env_flags(sub, &format!("{path} {}", sub.get_name())));
    }
    found
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// Crates that may read the environment: this binary (through
    /// [`super::Environment`]), and the tools beside the graph.
    const MAY_READ: &[&str] = &["quarry", "xtask", "quarry-testkit"];
    /// How Rust code reads the process environment at run time.
    const READS: &[&str] = &[
        "env::var(",
        "env::var_os(",
        "env::vars(",
        "env::vars_os(",
        "env::temp_dir(",
    ];

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("a source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    #[test]
    fn no_library_crate_reads_the_environment() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut offenders = Vec::new();
        for entry in std::fs::read_dir(&crates).expect("crates/").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if MAY_READ.contains(&name.as_str()) || !entry.path().join("src").is_dir() {
                continue;
            }
            let mut files = Vec::new();
            rust_files(&entry.path().join("src"), &mut files);
            for file in files {
                let text = std::fs::read_to_string(&file).expect("a source file");
                // Unit tests (at the end of a file, or a `tests.rs`) may
                // read `CARGO_MANIFEST_DIR` and `QUARRY_BLESS`.
                let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
                if file.ends_with("tests.rs") {
                    continue;
                }
                for (number, line) in code.lines().enumerate() {
                    if READS.iter().any(|read| line.contains(read))
                        && !line.trim_start().starts_with("//")
                    {
                        offenders.push(format!(
                            "{}:{}: {}",
                            file.display(),
                            number + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "library crates read no environment (declare it in crates/quarry/src/config/variables.rs and pass the value down):\n{}",
            offenders.join("\n")
        );
    }

    /// The check above finds what it looks for.
    #[test]
    fn the_environment_check_sees_a_read() {
        let line = "let x = std::env::var(\"HOME\");";
        assert!(READS.iter().any(|read| line.contains(read)));
    }
}
