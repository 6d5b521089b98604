//! `%spark start` options: parsed from the magic's words into settings the
//! launch configuration (`conf`) turns into Spark's.

use crate::SparkError;

/// `%spark start` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartOptions {
    pub executors: u32,
    pub executor_memory: String,
    pub executor_cores: u32,
    pub image: Option<String>,
    /// `--conf k=v` pairs, applied last so they override Quarry's choices.
    pub extra: Vec<(String, String)>,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            executors: 2,
            executor_memory: "2g".into(),
            executor_cores: 1,
            image: None,
            extra: Vec::new(),
        }
    }
}

impl StartOptions {
    /// Parses `--executors N --executor-memory 2g --executor-cores N
    /// --image IMG --conf k=v…` (also `--flag=value`).
    pub fn parse(args: &[&str]) -> Result<Self, SparkError> {
        let mut options = StartOptions::default();
        let mut words = args.iter().flat_map(|arg| match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") && flag != "--conf" => {
                vec![flag.to_string(), value.to_string()]
            }
            _ => vec![arg.to_string()],
        });
        while let Some(flag) = words.next() {
            let mut value = |what: &str| {
                words.next().ok_or_else(|| {
                    SparkError::usage(format!(
                        "{flag} needs {what}, e.g. {flag} {}",
                        example(&flag)
                    ))
                })
            };
            match flag.as_str() {
                "--executors" => options.executors = positive(&flag, &value("a number")?)?,
                "--executor-cores" => {
                    options.executor_cores = positive(&flag, &value("a number")?)?
                }
                "--executor-memory" => {
                    let memory = value("a size")?;
                    if !is_jvm_size(&memory) {
                        return Err(SparkError::usage(format!(
                            "--executor-memory takes a JVM size such as 512m or 2g, not '{memory}'."
                        )));
                    }
                    options.executor_memory = memory;
                }
                "--image" => options.image = Some(value("an image")?),
                "--conf" => {
                    let pair = value("key=value")?;
                    let (key, val) = pair
                        .split_once('=')
                        .filter(|(k, _)| !k.is_empty())
                        .ok_or_else(|| {
                            SparkError::usage(format!("--conf takes key=value, not '{pair}'."))
                        })?;
                    options.extra.push((key.to_string(), val.to_string()));
                }
                other => {
                    return Err(SparkError::usage(format!(
                        "Unknown option '{other}': %spark start takes --executors, --executor-memory, --executor-cores, --image and --conf."
                    )));
                }
            }
        }
        Ok(options)
    }
}

fn example(flag: &str) -> &'static str {
    match flag {
        "--executor-memory" => "2g",
        "--image" => "registry/quarry-spark-executor:4.3.0",
        "--conf" => "spark.sql.shuffle.partitions=8",
        _ => "2",
    }
}

fn positive(flag: &str, value: &str) -> Result<u32, SparkError> {
    value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        SparkError::usage(format!(
            "{flag} takes a positive whole number, not '{value}'."
        ))
    })
}

fn is_jvm_size(value: &str) -> bool {
    let digits = value.trim_end_matches(|c: char| "kKmMgGtT".contains(c));
    !digits.is_empty()
        && digits.len() + 1 >= value.len()
        && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_start_options() {
        let options = StartOptions::parse(&[
            "--executors",
            "3",
            "--executor-memory=1g",
            "--executor-cores",
            "2",
            "--image",
            "img:1",
            "--conf",
            "spark.sql.shuffle.partitions=4",
        ])
        .unwrap();
        assert_eq!(options.executors, 3);
        assert_eq!(options.executor_memory, "1g");
        assert_eq!(options.executor_cores, 2);
        assert_eq!(options.image.as_deref(), Some("img:1"));
        assert_eq!(
            options.extra,
            vec![("spark.sql.shuffle.partitions".into(), "4".into())]
        );
        assert_eq!(StartOptions::parse(&[]).unwrap(), StartOptions::default());
    }

    #[test]
    fn refuses_bad_start_options_in_one_sentence() {
        let message = |args: &[&str]| StartOptions::parse(args).unwrap_err().to_string();
        assert!(message(&["--executors", "0"]).contains("positive whole number"));
        assert!(message(&["--executors"]).contains("needs a number"));
        assert!(message(&["--executor-memory", "lots"]).contains("JVM size"));
        assert!(message(&["--conf", "novalue"]).contains("key=value"));
        assert!(message(&["--nodes", "2"]).contains("Unknown option '--nodes'"));
    }
}
