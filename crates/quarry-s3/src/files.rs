//! Copies between S3 and the local disk (`%s3 cp`), streamed both ways.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{MultipartUpload, S3Failure, S3Location, S3Stores, UploadedPart};

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
    // An interrupted download (the future dropped) leaves no partial file.
    let cleanup = RemoveOnDrop(Some(partial.clone()));
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
    copied?;
    tokio::fs::rename(&partial, to).await.map_err(local(to))?;
    cleanup.disarm();
    Ok(done)
}

/// Removes a file when dropped armed.
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Uploads the file `from` to `to` in parts, calling `progress(done,
/// total)` (total when the file's size is known). A failure aborts the
/// multipart upload, and so does dropping the future (an interrupted
/// cell): no orphan parts stay behind to be billed.
pub async fn upload_file(
    stores: &S3Stores,
    from: &Path,
    to: &S3Location,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<u64, FileCopyError> {
    let mut file = tokio::fs::File::open(from).await.map_err(local(from))?;
    let total = file.metadata().await.map(|m| m.len()).ok();
    if total.is_some_and(|t| t <= PART_SIZE as u64) {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).await.map_err(local(from))?;
        let size = bytes.len() as u64;
        crate::put_object(stores, to, Bytes::from(bytes)).await?;
        progress(size, total);
        return Ok(size);
    }
    let upload = MultipartUpload::start(stores, to).await?;
    let guard = AbortOnDrop(Some(upload.clone()));
    let sent = send_parts(&upload, &mut file, from, total, &mut progress).await;
    let done = match sent {
        Ok((done, parts)) => upload
            .complete(parts)
            .await
            .map(|()| done)
            .map_err(FileCopyError::from),
        Err(e) => Err(e),
    };
    // Finished either way: abort now (awaited) on failure, never on drop.
    let upload = guard.disarm();
    if done.is_err()
        && let Some(upload) = upload
    {
        upload.abort().await;
    }
    done
}

/// Reads `file` part by part and uploads up to [`UPLOAD_CONCURRENCY`]
/// parts at once; returns the bytes sent and the parts in order.
async fn send_parts(
    upload: &MultipartUpload,
    file: &mut tokio::fs::File,
    from: &Path,
    total: Option<u64>,
    progress: &mut impl FnMut(u64, Option<u64>),
) -> Result<(u64, Vec<UploadedPart>), FileCopyError> {
    let mut in_flight = FuturesUnordered::new();
    let mut parts = Vec::new();
    let mut done = 0u64;
    for number in 1.. {
        let chunk = read_part(file, from).await?;
        if chunk.is_empty() {
            break;
        }
        while in_flight.len() >= UPLOAD_CONCURRENCY {
            let part: Result<UploadedPart, S3Failure> =
                in_flight.next().await.expect("parts are in flight");
            parts.push(part?);
        }
        done += chunk.len() as u64;
        in_flight.push(upload.upload_part(number, Bytes::from(chunk)));
        progress(done, total);
    }
    while let Some(part) = in_flight.next().await {
        parts.push(part?);
    }
    parts.sort_by_key(|p| p.number);
    Ok((done, parts))
}

/// Up to [`PART_SIZE`] bytes of `file` (fewer only at its end).
async fn read_part(file: &mut tokio::fs::File, path: &Path) -> Result<Vec<u8>, FileCopyError> {
    let mut chunk = Vec::with_capacity(PART_SIZE);
    while chunk.len() < PART_SIZE {
        let read = (&mut *file)
            .take((PART_SIZE - chunk.len()) as u64)
            .read_to_end(&mut chunk)
            .await
            .map_err(local(path))?;
        if read == 0 {
            break;
        }
    }
    Ok(chunk)
}

/// Aborts a multipart upload when dropped armed, from a task of its own
/// (drop cannot wait): the cell that owned it was interrupted.
struct AbortOnDrop(Option<MultipartUpload>);

impl AbortOnDrop {
    fn disarm(mut self) -> Option<MultipartUpload> {
        self.0.take()
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move { upload.abort().await });
        }
    }
}
