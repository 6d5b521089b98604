//! A journal of multipart uploads in flight, so a process killed mid-upload
//! (an OOM-killed kernel, a pod evicted) leaves no parts behind for long.
//!
//! S3 keeps the parts of an upload that was neither completed nor aborted,
//! invisible and billed, until someone aborts it — and only the process
//! that started it knows its id. So each upload is written down (one small
//! file per upload, named by the process that owns it) when it starts and
//! struck off when it completes or aborts; the next Quarry process to
//! start on the same home volume aborts the uploads of owners that are
//! gone. Upload ids are not secrets (they cannot be used without keys).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::multipart::abort_upload;
use crate::{S3Location, S3Stores};

/// One upload in flight, as written down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    bucket: String,
    key: String,
    upload_id: String,
    pid: u32,
}

/// Where uploads in flight are written down.
#[derive(Debug, Clone)]
pub struct UploadJournal {
    dir: PathBuf,
}

impl UploadJournal {
    /// A journal in `dir` (created when the first upload is written down).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        UploadJournal { dir: dir.into() }
    }

    /// Writes an upload down; returns the file to strike off later.
    pub(crate) fn record(&self, location: &S3Location, upload_id: &str) -> Option<PathBuf> {
        let entry = Entry {
            bucket: location.bucket.clone(),
            key: location.key.clone(),
            upload_id: upload_id.to_string(),
            pid: std::process::id(),
        };
        let name = format!("{}-{}.upload", entry.pid, uuid_like(upload_id));
        let path = self.dir.join(name);
        let written = std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&path, serde_json::to_vec(&entry).unwrap_or_default()));
        match written {
            Ok(()) => Some(path),
            Err(e) => {
                // Not fatal: the upload still works, it is just not journaled.
                tracing::warn!(dir = %self.dir.display(), "could not journal an upload: {e}");
                None
            }
        }
    }

    /// Aborts the uploads whose owner is gone; returns how many.
    pub async fn reap(&self, stores: &S3Stores) -> usize {
        let Ok(files) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut reaped = 0;
        for path in files.flatten().map(|f| f.path()) {
            let Some(entry) = read_entry(&path) else {
                continue;
            };
            if is_alive(entry.pid) {
                continue;
            }
            let location = S3Location {
                bucket: entry.bucket,
                key: entry.key,
            };
            // S3 away: the entry stays for the next reap.
            if !abort_upload(stores.client(), &location, &entry.upload_id).await {
                continue;
            }
            tracing::info!(%location, "aborted an upload its process left behind");
            strike(&path);
            reaped += 1;
        }
        reaped
    }
}

/// Strikes an upload off (it completed or was aborted).
pub(crate) fn strike(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn read_entry(path: &Path) -> Option<Entry> {
    if path.extension().is_none_or(|e| e != "upload") {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn is_alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// A file-name-safe digest of the upload id (they may hold any character).
fn uuid_like(upload_id: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    upload_id.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_written_down_and_struck_off() {
        let dir = tempfile::tempdir().unwrap();
        let journal = UploadJournal::at(dir.path().join("uploads"));
        let location = S3Location::parse("s3://data/big.bin").unwrap();
        let path = journal.record(&location, "abc/def+1").expect("written");
        let entry = read_entry(&path).unwrap();
        assert_eq!(
            (
                entry.bucket.as_str(),
                entry.key.as_str(),
                entry.upload_id.as_str()
            ),
            ("data", "big.bin", "abc/def+1")
        );
        assert_eq!(entry.pid, std::process::id());
        assert!(is_alive(entry.pid), "this process owns it: never reaped");
        strike(&path);
        assert!(!path.exists());
    }
}
