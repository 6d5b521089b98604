//! Copies between S3 and the local disk (`%s3 cp`), streamed both ways.

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use object_store::ObjectStoreExt as _;
use object_store::WriteMultipart;
use object_store::path::Path as StorePath;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{S3Failure, S3Location, S3Stores};

/// Multipart part size: S3 needs ≥ 5 MiB parts; 8 MiB keeps memory small
/// while uploads of tens of GiB stay under the 10,000-part limit.
const PART_SIZE: usize = 8 << 20;
/// Parts in flight at once during an upload.
const UPLOAD_CONCURRENCY: usize = 4;

/// Why a copy between S3 and a local file failed.
#[derive(Debug, thiserror::Error)]
pub enum FileCopyError {
    #[error("{0}")]
    /// S3 refused or failed the request.
    S3(#[from] S3Failure),
    #[error("Could not use the local file {}: {source}.", path.display())]
    /// The local file could not be read or written.
    Local {
        /// The file (for a download, its temporary name).
        path: PathBuf,
        #[source]
        /// What the operating system said.
        source: std::io::Error,
    },
}

fn local(path: &Path) -> impl FnOnce(std::io::Error) -> FileCopyError + '_ {
    move |source| FileCopyError::Local {
        path: path.to_path_buf(),
        source,
    }
}

/// Downloads `from` to the file `to`, calling `progress(done, total)` as
/// bytes arrive. The bytes go to a temporary name first, so a failed
/// download never leaves a truncated file under the real name.
pub async fn download_to_file(
    stores: &S3Stores,
    from: &S3Location,
    to: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, FileCopyError> {
    let mut body = crate::get_object(stores, from, None).await?;
    let partial = to.with_extension("quarry-partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(local(&partial))?;
    let mut done = 0u64;
    let copied = async {
        while let Some(chunk) = body.stream.next().await {
            let chunk = chunk?;
            file.write_all(&chunk).await.map_err(local(&partial))?;
            done += chunk.len() as u64;
            progress(done, body.size);
        }
        file.flush().await.map_err(local(&partial))?;
        Ok::<_, FileCopyError>(())
    }
    .await;
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(e);
    }
    tokio::fs::rename(&partial, to).await.map_err(local(to))?;
    Ok(done)
}

/// Uploads the file `from` to `to` in parts, calling `progress(done,
/// total)` (total when the file's size is known). A failure aborts the
/// multipart upload, so no orphan parts stay behind; so does dropping the
/// future (object_store aborts an unfinished upload when dropped).
pub async fn upload_file(
    stores: &S3Stores,
    from: &Path,
    to: &S3Location,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<u64, FileCopyError> {
    let place = to.to_string();
    let endpoint = stores.settings().endpoint_display();
    let explain = |e: object_store::Error| crate::explain_store_failure(&e, &place, &endpoint);
    let mut file = tokio::fs::File::open(from).await.map_err(local(from))?;
    let total = file.metadata().await.map(|m| m.len()).ok();
    let store = stores.store(&to.bucket).map_err(S3Failure::from)?;
    let upload = store
        .put_multipart(&StorePath::from(to.key.as_str()))
        .await
        .map_err(explain)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut buffer = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let sent = async {
        loop {
            let n = file.read(&mut buffer).await.map_err(local(from))?;
            if n == 0 {
                return Ok::<_, FileCopyError>(());
            }
            writer
                .wait_for_capacity(UPLOAD_CONCURRENCY)
                .await
                .map_err(explain)?;
            writer.write(&buffer[..n]);
            done += n as u64;
            progress(done, total);
        }
    }
    .await;
    match sent {
        Ok(()) => {
            writer.finish().await.map_err(explain)?;
            Ok(done)
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}
