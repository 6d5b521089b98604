//! `%s3 cp` and `%s3 rm`.

use std::path::{Path, PathBuf};

use quarry_s3::{FailureKind, FileCopyError, S3Location};
use quarry_text::numbers::human_bytes;
use tokio::time::Instant;

use super::{S3, take_flag, usage_error};
use crate::protocol::ExecuteError;
use crate::running::{PROGRESS_EVERY, StatusLine};

/// One end of a copy.
enum Endpoint {
    S3(S3Location),
    Local(PathBuf),
}

impl Endpoint {
    fn parse(arg: &str) -> Result<Self, ExecuteError> {
        if arg.starts_with("s3://") || arg.starts_with("s3a://") {
            S3Location::parse(arg)
                .map(Endpoint::S3)
                .map_err(|e| usage_error(&e.to_string()))
        } else if arg.contains("://") {
            Err(usage_error(&format!(
                "'{arg}' is neither an s3:// URL nor a local path."
            )))
        } else {
            Ok(Endpoint::Local(PathBuf::from(arg)))
        }
    }
}

/// A progress line that appears once a copy takes a moment, updated at
/// most every [`PROGRESS_EVERY`].
struct CopyProgress<'a> {
    s3: &'a S3,
    line: StatusLine<'a>,
    started: Instant,
    last: Option<Instant>,
}

impl<'a> CopyProgress<'a> {
    fn new(s3: &'a S3) -> Self {
        CopyProgress {
            s3,
            line: StatusLine::new(&s3.outputs),
            started: Instant::now(),
            last: None,
        }
    }

    fn update(&mut self, what: &str, done: u64, total: Option<u64>) {
        let now = Instant::now();
        if now - self.started < PROGRESS_EVERY
            || self.last.is_some_and(|t| now - t < PROGRESS_EVERY)
        {
            return;
        }
        let line = match total {
            Some(total) if total > 0 => format!(
                "{what}: {} of {} ({:.0}%)",
                human_bytes(done),
                human_bytes(total),
                done as f64 * 100.0 / total as f64
            ),
            _ => format!("{what}: {}", human_bytes(done)),
        };
        self.line.show(&line);
        self.last = Some(now);
    }

    fn finish(self, line: String) {
        self.line.finish(&line);
        self.s3.outputs.stdout(&format!("{line}\n"));
    }
}

impl S3 {
    pub(super) async fn cp(&self, args: &[String]) -> Result<(), ExecuteError> {
        let [source, destination] = args else {
            return Err(usage_error("%s3 cp takes a source and a destination."));
        };
        let (from, to) = (Endpoint::parse(source)?, Endpoint::parse(destination)?);
        let started = Instant::now();
        let (bytes, target) = match (from, to) {
            (Endpoint::S3(from), Endpoint::S3(to)) => self.copy_in_s3(&from, to).await?,
            (Endpoint::S3(from), Endpoint::Local(to)) => self.download(&from, to).await?,
            (Endpoint::Local(from), Endpoint::S3(to)) => self.upload(&from, to).await?,
            (Endpoint::Local(_), Endpoint::Local(_)) => {
                return Err(usage_error("One side of %s3 cp must be an s3:// URL."));
            }
        };
        let secs = started.elapsed().as_secs_f64().max(0.001);
        self.outputs.stdout(&format!(
            "Copied {source} → {target} ({} in {secs:.1} s, {}/s)\n",
            human_bytes(bytes),
            human_bytes((bytes as f64 / secs) as u64)
        ));
        Ok(())
    }

    /// `s3://b/dir/` + `x.csv` → `s3://b/dir/x.csv`: a destination ending
    /// in `/` (or empty) names a folder.
    fn into_folder(to: S3Location, file_name: &str) -> S3Location {
        if to.key.is_empty() || to.key.ends_with('/') {
            S3Location {
                key: format!("{}{file_name}", to.key),
                ..to
            }
        } else {
            to
        }
    }

    async fn copy_in_s3(
        &self,
        from: &S3Location,
        to: S3Location,
    ) -> Result<(u64, String), ExecuteError> {
        let name = from.key.rsplit('/').next().unwrap_or_default().to_string();
        let to = Self::into_folder(to, &name);
        let place = to.to_string();
        let mut progress = CopyProgress::new(self);
        let mut parts = false;
        let size = quarry_s3::copy_object(self.session.s3(), from, &to, |done, total| {
            if done < total {
                parts = true;
            }
            progress.update(&format!("Copying to {place}"), done, Some(total));
        })
        .await
        .map_err(super::from_failure)?;
        if parts {
            progress.finish(format!("Copied {} in parts", human_bytes(size)));
        }
        Ok((size, place))
    }

    async fn download(
        &self,
        from: &S3Location,
        to: PathBuf,
    ) -> Result<(u64, String), ExecuteError> {
        let place = from.to_string();
        let name = from.key.rsplit('/').next().unwrap_or("download");
        let target = if to.is_dir() || to.as_os_str().to_string_lossy().ends_with('/') {
            to.join(name)
        } else {
            to
        };
        let mut progress = CopyProgress::new(self);
        let done = quarry_s3::download_to_file(self.stores(), from, &target, |done, total| {
            progress.update(&format!("Downloading {place}"), done, Some(total));
        })
        .await
        .map_err(from_copy_error)?;
        progress.finish(format!("Downloaded {}", human_bytes(done)));
        Ok((done, target.display().to_string()))
    }

    async fn upload(&self, from: &Path, to: S3Location) -> Result<(u64, String), ExecuteError> {
        let name = from
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let to = Self::into_folder(to, &name);
        let place = to.to_string();
        let mut progress = CopyProgress::new(self);
        let done = quarry_s3::upload_file(self.stores(), from, &to, |done, total| {
            progress.update(&format!("Uploading to {place}"), done, total);
        })
        .await
        .map_err(from_copy_error)?;
        progress.finish(format!("Uploaded {}", human_bytes(done)));
        Ok((done, place))
    }

    pub(super) async fn rm(&self, args: &[String]) -> Result<(), ExecuteError> {
        let mut args = args.to_vec();
        let recursive = take_flag(&mut args, &["--recursive", "-r"]);
        let [url] = args.as_slice() else {
            return Err(usage_error("%s3 rm takes one s3:// URL."));
        };
        let location = S3Location::parse(url).map_err(|e| usage_error(&e.to_string()))?;
        if location.key.is_empty() {
            return Err(usage_error(
                "%s3 rm removes objects and prefixes, not whole buckets.",
            ));
        }
        if recursive {
            return self.rm_prefix(&location, url).await;
        }
        match quarry_s3::delete_object(self.stores(), &location).await {
            Ok(()) => {
                self.outputs.stdout(&format!("Deleted {url}\n"));
                Ok(())
            }
            Err(failure) if failure.kind == FailureKind::NotFound => {
                // Not an object; perhaps a folder, which needs --recursive.
                let folder = S3Location {
                    key: format!("{}/", location.key.trim_end_matches('/')),
                    ..location
                };
                if quarry_s3::exists(self.stores(), &folder)
                    .await
                    .map_err(super::from_failure)?
                {
                    return Err(ExecuteError::new(
                        "UsageError",
                        format!(
                            "{url} is a folder: to delete everything under it, run %s3 rm --recursive {folder}"
                        ),
                    ));
                }
                Err(super::from_failure(failure))
            }
            Err(failure) => Err(super::from_failure(failure)),
        }
    }

    async fn rm_prefix(&self, location: &S3Location, url: &str) -> Result<(), ExecuteError> {
        let mut status = StatusLine::new(&self.outputs);
        let deleted =
            quarry_s3::delete_prefix(self.session.s3(), &location.bucket, &location.key, |n| {
                status.show(&format!("Deleted {n} objects under {url} …"))
            })
            .await
            .map_err(|e| match &e {
                quarry_s3::DeletePrefixError::S3(failure) => super::from_failure(failure.clone()),
                quarry_s3::DeletePrefixError::Refused { .. } => {
                    ExecuteError::new("S3AccessDenied", e.message(url))
                }
            })?;
        if deleted == 0 {
            return Err(super::from_failure(quarry_s3::not_found_failure(url)));
        }
        self.outputs.stdout(&format!(
            "Deleted {deleted} object{} under {url}\n",
            if deleted == 1 { "" } else { "s" }
        ));
        Ok(())
    }
}

fn from_copy_error(err: FileCopyError) -> ExecuteError {
    match err {
        FileCopyError::S3(failure) => super::from_failure(failure),
        local @ FileCopyError::Local { .. } => {
            ExecuteError::new("LocalFileError", local.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_take_the_source_name() {
        let to = S3Location::parse("s3://bkt/dir/").unwrap();
        assert_eq!(
            S3::into_folder(to, "x.csv").to_string(),
            "s3://bkt/dir/x.csv"
        );
        let to = S3Location::parse("s3://bkt/file.csv").unwrap();
        assert_eq!(
            S3::into_folder(to, "x.csv").to_string(),
            "s3://bkt/file.csv"
        );
    }
}
