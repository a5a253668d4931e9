//! The model compiler: turns a training run's checkpoint into ONNX files that any ONNX runtime
//! accepts.
//!
//! It walks the same `gan_models::Network` descriptions that training builds its candle modules
//! from, reads the checkpoint tensors by their stable names, and writes graphs with `prost`
//! ([`onnx`] holds the message types). The graph builder (`builder.rs`) is what lowering
//! (`lower.rs`) and each optional rewrite (`passes/`, one file per pass: BatchNorm folding, the
//! sub-pixel form of transposed convolutions) write through. Every file is checked before it is
//! published: opened and run through `gan-runtime` (the same validated path every consumer
//! uses) on a fixed batch and compared with a reference forward pass that the caller supplies
//! (the CLI passes candle's), then renamed into place, so a failed export never leaves a partial
//! `.onnx` behind. Metadata keys and tensor names come from `gan-contract`.
//!
//! This crate never sees candle.
//!
//! ```no_run
//! use std::path::Path;
//! use gan_export::{ExportOptions, ReferenceInput, Role, export_run};
//!
//! // The reference the files are checked against: the network's outputs for a batch of
//! // inputs, computed some other way (the `gan` CLI passes candle's forward pass).
//! let reference = |_role: Role, _stop: Option<usize>, _checkpoint: &Path, _input: ReferenceInput| {
//!     Err::<Vec<f32>, String>("no reference here".into())
//! };
//! let exported = export_run(
//!     Path::new("runs/toy"),
//!     Path::new("runs/toy/onnx"),
//!     &ExportOptions::default(),
//!     &reference,
//! )?;
//! # Ok::<(), gan_export::ExportError>(())
//! ```

#![warn(missing_docs)]

mod builder;
mod compile;
mod composite;
mod io;
mod label;
mod lower;
mod model;
pub mod onnx;
mod passes;
mod pixels;
mod triton;
mod verify;

use std::path::PathBuf;

pub use builder::Batch;
pub use gan_models::Role;
pub use model::{ExportOptions, Exported, Which, export_run};
pub use verify::{Reference, ReferenceInput, TOLERANCE, max_relative_difference, run_onnx};

/// Everything that can stop an export; a failed export publishes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The run's architecture cannot be built.
    #[error(transparent)]
    Model(#[from] gan_models::ModelError),
    /// A run file (configuration, checkpoint) cannot be used.
    #[error(transparent)]
    File(#[from] gan_models::FileError),
    /// An option (a field of [`ExportOptions`]) does not suit the run or the other options.
    #[error("{field}: {reason}")]
    InvalidOption {
        /// The field of [`ExportOptions`].
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The run's tensors do not fit its description.
    #[error("{0}")]
    Invalid(String),
    /// The written file did not compute what the checkpoint computes.
    #[error("self-check of {}: {reason}", path.display())]
    Check {
        /// The file that was checked (and not published).
        path: PathBuf,
        /// How it differs.
        reason: String,
    },
}

impl ExportError {
    fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        ExportError::File(gan_models::FileError {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        })
    }
}
