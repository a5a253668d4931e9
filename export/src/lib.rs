//! The model compiler: turns a training run's checkpoint into ONNX files that any ONNX runtime
//! accepts.
//!
//! It walks the same `gan_models::Network` descriptions that training builds its candle modules
//! from, reads the checkpoint tensors by their stable names, and writes graphs with `prost`
//! ([`onnx`] holds the message types). Every file is checked before it is published: loaded with
//! tract, run on a fixed batch and compared with a reference forward pass that the caller
//! supplies (the CLI passes candle's), then renamed into place, so a failed export never leaves
//! a partial `.onnx` behind.
//!
//! This crate never sees candle.

mod builder;
mod compile;
mod io;
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
pub use verify::{Reference, TOLERANCE, max_relative_difference, run_onnx};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Model(#[from] gan_models::ModelError),
    #[error(transparent)]
    File(#[from] gan_models::FileError),
    #[error("{0}")]
    Invalid(String),
    #[error("self-check of {}: {reason}", path.display())]
    Check { path: PathBuf, reason: String },
}

impl ExportError {
    fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        ExportError::File(gan_models::FileError {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        })
    }
}
