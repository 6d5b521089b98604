//! The catalog file: what a user keeps, as JSON on the home volume.
//!
//! Several kernels of one user read and write it at once. Writers take an
//! exclusive lock on a lock file beside it, read the current document,
//! change it and rename a new file over it, so a reader sees the old
//! document or the new one, never half of one, and two writers never lose
//! each other's change. Readers look at the file's identity (inode, size,
//! mtime) on each use and parse it again only when it changed: a table
//! kept in one notebook is there in the next query of another.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// What is kept about one table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum KeptEntry {
    /// `CREATE EXTERNAL TABLE`: its statement, and its columns as Arrow
    /// IPC (hex) so the table is known without asking S3.
    ExternalTable {
        /// The statement as DataFusion prints it back.
        statement: String,
        /// The table's location(s), as written.
        location: String,
        /// PARQUET, CSV, JSON…
        format: String,
        /// The table's schema, an Arrow IPC stream of no batches, in hex.
        schema_ipc: String,
    },
    /// `CREATE VIEW`: its statement (the query is planned when used).
    View {
        /// The statement as DataFusion prints it back.
        statement: String,
    },
}

impl KeptEntry {
    pub(crate) fn statement(&self) -> &str {
        match self {
            KeptEntry::ExternalTable { statement, .. } | KeptEntry::View { statement } => statement,
        }
    }
}

/// The kept tables of the default schema, by name.
pub(crate) type Entries = BTreeMap<String, KeptEntry>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    version: u32,
    #[serde(default)]
    tables: Entries,
}

const VERSION: u32 = 1;

/// Why the catalog could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file exists but could not be read, or written.
    #[error("could not use your table catalog {}", path.display())]
    Io {
        /// The catalog file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a catalog Quarry wrote.
    #[error("your table catalog {} is not valid JSON (move it aside to start a new one)", path.display())]
    Invalid {
        /// The catalog file.
        path: PathBuf,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
}

/// Which version of the file was last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    inode: u64,
    len: u64,
    mtime_ns: i128,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        inode: meta.ino(),
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

/// One user's catalog file, read again whenever it changes.
#[derive(Debug)]
pub(crate) struct CatalogFile {
    path: PathBuf,
    seen: Mutex<Option<(Option<Stamp>, Arc<Entries>)>>,
}

impl CatalogFile {
    pub(crate) fn new(path: PathBuf) -> Self {
        CatalogFile {
            path,
            seen: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The kept entries now (a missing file is an empty catalog).
    pub(crate) fn entries(&self) -> Result<Arc<Entries>, CatalogError> {
        let now = stamp(&self.path);
        let mut seen = self.seen.lock().expect("catalog lock");
        if let Some((stamp, entries)) = seen.as_ref()
            && *stamp == now
        {
            return Ok(Arc::clone(entries));
        }
        let entries = Arc::new(self.read()?.tables);
        *seen = Some((now, Arc::clone(&entries)));
        Ok(entries)
    }

    /// The entries, or none when the file cannot be read (logged): a
    /// broken catalog must not stop queries over the session's own tables.
    pub(crate) fn entries_or_empty(&self) -> Arc<Entries> {
        self.entries().unwrap_or_else(|e| {
            tracing::warn!(
                "{e}: {}",
                std::error::Error::source(&e).map_or(String::new(), ToString::to_string)
            );
            Arc::default()
        })
    }

    fn read(&self) -> Result<Document, CatalogError> {
        let text = match std::fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Document::default()),
            Err(source) => return Err(self.io(source)),
        };
        serde_json::from_slice(&text).map_err(|source| CatalogError::Invalid {
            path: self.path.clone(),
            source,
        })
    }

    fn io(&self, source: std::io::Error) -> CatalogError {
        CatalogError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Changes the catalog under the writers' lock: `change` sees the
    /// current entries (whoever wrote them) and edits them.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Entries)) -> Result<(), CatalogError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_path())
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let mut document = self.read()?;
        change(&mut document.tables);
        document.version = VERSION;
        let text = serde_json::to_vec_pretty(&document).expect("a catalog serializes");
        let mut staged = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(e))?;
        staged.write_all(&text).map_err(|e| self.io(e))?;
        staged.as_file().sync_all().map_err(|e| self.io(e))?;
        staged.persist(&self.path).map_err(|e| self.io(e.error))?;
        // The lock is released when `lock` closes.
        Ok(())
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        self.path.with_file_name(name)
    }
}
