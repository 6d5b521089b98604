//! The process environment, read once: only the variables declared in
//! [`super::variables`], each parsed here with one wording for its errors,
//! then handed to the library crates as typed values (they read no
//! environment themselves).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use super::variables::{self as var, Reader, Variable};

/// A snapshot of the declared variables. Empty and blank values count as
/// unset: Kubernetes manifests often template variables to `""`.
#[derive(Clone, Default)]
pub struct Environment {
    values: HashMap<&'static str, OsString>,
}

/// Names the variables that are set, and shows no secret's value.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = var::ALL.iter().filter_map(|v| {
            let value = self.values.get(v.name)?;
            Some((
                v.name,
                if v.secret {
                    "(secret)".into()
                } else {
                    value.to_string_lossy()
                },
            ))
        });
        f.debug_map().entries(shown).finish()
    }
}

/// A variable whose value does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{name}='{value}' is not {expected}: write e.g. {examples}")]
pub struct BadSetting {
    name: &'static str,
    value: String,
    expected: &'static str,
    examples: &'static str,
}

impl Environment {
    /// Reads the declared variables of this process: the one place Quarry
    /// reads its environment.
    pub fn capture() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// The declared variables as `lookup` answers them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        let values = var::ALL
            .iter()
            .filter_map(|v| Some((v.name, lookup(v.name)?)))
            .filter(|(_, value)| !value.to_string_lossy().trim().is_empty())
            .collect();
        Environment { values }
    }

    /// A fixed environment, for tests.
    #[cfg(test)]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let pairs: HashMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::from_lookup(|name| pairs.get(name).map(OsString::from))
    }

    /// The value as text (a value that is not UTF-8 counts as unset).
    pub fn text(&self, variable: &Variable) -> Option<String> {
        let value = self.values.get(variable.name)?.to_str()?;
        Some(value.trim().to_string())
    }

    /// The value as a path.
    pub fn path(&self, variable: &Variable) -> Option<PathBuf> {
        self.values.get(variable.name).map(PathBuf::from)
    }

    /// The value as raw OS text (for `PATH`).
    pub fn os(&self, variable: &Variable) -> Option<&OsString> {
        self.values.get(variable.name)
    }

    /// A size such as `512m` or `4g`, not zero.
    pub fn size(&self, variable: &'static Variable) -> Result<Option<usize>, BadSetting> {
        self.parsed(
            variable,
            "a size",
            "512m or 4g",
            quarry_text::numbers::parse_byte_size,
        )
    }

    /// A size, where `0` means off.
    pub fn size_or_off(&self, variable: &'static Variable) -> Result<Option<usize>, BadSetting> {
        self.parsed(variable, "a size", "512m or 4g, or 0 for off", |raw| {
            if raw.trim() == "0" {
                Some(0)
            } else {
                quarry_text::numbers::parse_byte_size(raw)
            }
        })
    }

    fn parsed<T>(
        &self,
        variable: &'static Variable,
        expected: &'static str,
        examples: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, BadSetting> {
        let Some(raw) = self.text(variable) else {
            return Ok(None);
        };
        match parse(&raw) {
            Some(value) => Ok(Some(value)),
            None => Err(BadSetting {
                name: variable.name,
                value: raw,
                expected,
                examples,
            }),
        }
    }

    /// The home volume (`HOME`), else the temporary directory.
    pub fn home(&self) -> PathBuf {
        self.path(var::HOME).unwrap_or_else(std::env::temp_dir)
    }

    /// `$HOME/.cache/quarry/<what>`: caches on the home volume, which
    /// outlives a killed pod and is not the node's disk.
    pub fn quarry_cache(&self, what: &str) -> PathBuf {
        self.home().join(".cache/quarry").join(what)
    }

    /// The variables `quarry-s3` interprets (AWS's conventions), with the
    /// user's name for STS session names and `HOME` for the shared
    /// credentials file.
    pub fn s3(&self) -> quarry_s3::Env {
        self.subset(|v| {
            v.reader == Reader::S3
                || [var::JUPYTERHUB_USER, var::USER, var::HOME]
                    .iter()
                    .any(|u| u.name == v.name)
        })
    }

    /// The variables `quarry-spark` interprets to find its cluster and the
    /// administrator's limits.
    pub fn spark_cluster(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| {
            let declared = var::ALL.iter().find(|v| v.name == name);
            debug_assert!(
                declared.is_some(),
                "{name} is not declared in config::variables"
            );
            self.text(declared?)
        }
    }

    fn subset(&self, keep: impl Fn(&&'static Variable) -> bool) -> quarry_s3::Env {
        quarry_s3::Env::from_pairs(
            var::ALL
                .iter()
                .filter(|v| keep(v))
                .filter_map(|v| Some((v.name, self.values.get(v.name)?.to_str()?))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_declared_variables_are_read_and_blank_is_unset() {
        let env = Environment::from_pairs([
            ("QUARRY_MEMORY_LIMIT", "4g"),
            ("QUARRY_S3_CACHE", "  "),
            ("NOT_OURS", "x"),
        ]);
        assert_eq!(env.values.len(), 1);
        assert_eq!(env.size(var::QUARRY_MEMORY_LIMIT).unwrap(), Some(4 << 30));
        assert_eq!(env.size_or_off(var::QUARRY_S3_CACHE).unwrap(), None);
    }

    #[test]
    fn a_bad_size_is_one_sentence_naming_the_variable() {
        let env =
            Environment::from_pairs([("QUARRY_SPILL_LIMIT", "lots"), ("QUARRY_S3_CACHE", "0")]);
        let error = env.size(var::QUARRY_SPILL_LIMIT).unwrap_err();
        assert_eq!(
            error.to_string(),
            "QUARRY_SPILL_LIMIT='lots' is not a size: write e.g. 512m or 4g"
        );
        assert_eq!(env.size_or_off(var::QUARRY_S3_CACHE).unwrap(), Some(0));
        let zero = Environment::from_pairs([("QUARRY_MEMORY_LIMIT", "0")]);
        assert!(zero.size(var::QUARRY_MEMORY_LIMIT).is_err());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let env = Environment::from_pairs([
            ("AWS_SECRET_ACCESS_KEY", "hunter2"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let shown = format!("{env:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("eu-west-1"),
            "{shown}"
        );
    }

    #[test]
    fn s3_gets_its_variables_and_the_user_but_nothing_else() {
        let env = Environment::from_pairs([
            ("AWS_ACCESS_KEY_ID", "k"),
            ("JUPYTERHUB_USER", "ana"),
            ("QUARRY_MEMORY_LIMIT", "4g"),
        ]);
        let s3 = env.s3();
        assert_eq!(s3.get("AWS_ACCESS_KEY_ID").as_deref(), Some("k"));
        assert_eq!(s3.get("JUPYTERHUB_USER").as_deref(), Some("ana"));
        assert_eq!(s3.get("QUARRY_MEMORY_LIMIT"), None);
    }
}
