//! A dedicated runtime for query execution.
//!
//! DataFusion operators are CPU-bound and only yield between batches. Run on
//! the same runtime as the Jupyter sockets, a heavy join can starve the
//! control channel and make the stop button feel dead. Queries therefore run
//! on their own multi-threaded runtime, and the kernel's protocol tasks stay
//! responsive on theirs.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// Owns the query runtime; dropping it stops every query still running.
#[derive(Debug)]
pub struct QueryExecutor {
    runtime: Option<Runtime>,
}

impl QueryExecutor {
    /// A runtime with `threads` workers (at least one).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("quarry-query")
            .enable_all()
            .build()?;
        Ok(QueryExecutor {
            runtime: Some(runtime),
        })
    }

    /// Starts `future` on the query runtime. Aborting the returned handle
    /// drops the future, and with it every DataFusion stream it owns.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn(future)
    }

    pub fn handle(&self) -> &Handle {
        self.runtime
            .as_ref()
            .expect("runtime present until drop")
            .handle()
    }
}

impl Drop for QueryExecutor {
    fn drop(&mut self) {
        // A plain drop blocks, which panics inside another runtime's context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
