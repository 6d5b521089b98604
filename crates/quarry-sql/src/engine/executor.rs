//! A dedicated runtime for query execution.
//!
//! DataFusion operators are CPU-bound and only yield between batches. Run on
//! the same runtime as the Jupyter sockets, a heavy join can starve the
//! control channel and make the stop button feel dead. Queries therefore run
//! on their own multi-threaded runtime, and the kernel's protocol tasks stay
//! responsive on theirs.
//!
//! The workers get deep stacks. Planning and evaluating SQL recurses over
//! the expression tree, and a cell of 2,000 `+ 1` terms overflowed tokio's
//! default 2 MiB stack — an abort that takes every table of the session
//! with it. DataFusion guards its own tree walks (the `recursive` crate
//! moves them to heap-allocated stack segments), but not all of them:
//! physical evaluation, `Display` and dropping a deep tree recurse on the
//! thread's own stack. A stack only costs the pages a query actually
//! touches, so a large reservation is cheap, and the parser's recursion
//! limit turns nesting deeper than any real query into an error.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

/// Stack reserved for each query thread (touched pages only are resident).
pub const QUERY_THREAD_STACK: usize = 256 << 20;

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
            .thread_stack_size(QUERY_THREAD_STACK)
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

    /// The runtime queries run on.
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
