//! The Quarry Jupyter kernel.
//!
//! Two layers, kept apart so each can be read on its own:
//!
//! * `quarry-protocol` (re-exported as [`protocol`]) speaks the Jupyter
//!   wire protocol: one module per socket, signatures checked, status and
//!   replies sent in the order clients expect. It knows nothing about SQL;
//!   it drives a [`protocol::Handler`].
//! * [`cells`] is Quarry's handler: it routes a cell to SQL or a magic,
//!   runs it on the query executor with progress and interrupt, and renders
//!   results and errors.

#![warn(missing_docs)]

pub mod cells;

pub use cells::{CellsConfig, QuarryHandler};
/// The protocol layer, re-exported: the kernel is this crate's handler
/// driven by `quarry-protocol`.
pub use quarry_protocol as protocol;
pub use quarry_protocol::{
    ConnectionFile, DEFAULT_MAX_MESSAGE_BYTES, KernelExit, KeyPolicy, Owner, run_kernel,
};
