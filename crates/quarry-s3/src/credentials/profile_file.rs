//! The shared credentials file (`~/.aws/credentials`), re-read when it
//! changes, so a sidecar or a `kubectl cp` can rotate keys under a running
//! kernel.

use std::path::PathBuf;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::Credentials;
use crate::Env;

#[derive(Debug)]
pub(crate) struct ProfileFile {
    path: PathBuf,
    profile: String,
}

impl ProfileFile {
    /// `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`) and
    /// `AWS_PROFILE` (else `default`).
    pub(crate) fn from_env(env: &Env) -> Option<Self> {
        let path = env
            .get("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| {
                env.get("HOME")
                    .map(|h| PathBuf::from(h).join(".aws/credentials"))
            })?;
        Some(ProfileFile {
            path,
            profile: env.get("AWS_PROFILE").unwrap_or_else(|| "default".into()),
        })
    }

    pub(crate) fn describe(&self) -> String {
        format!("profile '{}' in {}", self.profile, self.path.display())
    }

    /// The file's modification time, or `None` when it does not exist.
    pub(crate) fn modified(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    pub(crate) fn read(&self) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        parse_profile(&text, &self.profile).ok_or_else(|| {
            format!(
                "{} has no complete '{}' profile",
                self.path.display(),
                self.profile
            )
        })
    }
}

/// Reads one `[profile]` section of an AWS credentials INI file.
fn parse_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_section = false;
    let (mut key, mut secret, mut token, mut expiration) = (None, None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_section = name == profile || name == format!("profile {profile}");
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => key = Some(value),
            "aws_secret_access_key" => secret = Some(value),
            "aws_session_token" => token = Some(value),
            "aws_credential_expiration" | "expiration" => {
                expiration = DateTime::parse_from_rfc3339(&value)
                    .ok()
                    .map(|t| t.with_timezone(&Utc));
            }
            _ => {}
        }
    }
    Some(Credentials::new(key?, secret?, token, expiration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_requested_profile_only() {
        let text = "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = s1\n\n\
                    [profile work]\naws_access_key_id=AKIAWORK\naws_secret_access_key=s2\naws_session_token=tok\n\
                    aws_credential_expiration=2030-01-01T00:00:00Z\n";
        let default = parse_profile(text, "default").unwrap();
        assert_eq!(default.access_key_id, "AKIADEFAULT");
        let work = parse_profile(text, "work").unwrap();
        assert_eq!(work.access_key_id, "AKIAWORK");
        assert_eq!(
            work.expiration.unwrap().to_rfc3339(),
            "2030-01-01T00:00:00+00:00"
        );
        assert!(parse_profile(text, "missing").is_none());
    }

    #[test]
    fn changes_are_visible_through_modified_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        let file = ProfileFile {
            path: path.clone(),
            profile: "default".into(),
        };
        assert!(file.modified().is_none());
        std::fs::write(
            &path,
            "[default]\naws_access_key_id=A1\naws_secret_access_key=s\n",
        )
        .unwrap();
        assert_eq!(file.read().unwrap().access_key_id, "A1");
        assert!(file.modified().is_some());
    }
}
