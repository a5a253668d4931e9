//! gan-runtime: load an ONNX GAN generator and make pictures from seeds, in any program —
//! a CLI, a server, a game engine (through the C ABI, which the `gan-ffi` crate builds on it).
//!
//! ```no_run
//! use gan_runtime::{Generator, LoadOptions};
//! let generator = Generator::load("generator.onnx", &LoadOptions::default())?;
//! let sprites = generator.generate(&[1, 2, 3])?; // RGBA8, same pictures on every platform
//! # Ok::<(), gan_runtime::RuntimeError>(())
//! ```
//!
//! Backends: tract (pure Rust, default feature `tract`) and ONNX Runtime (feature `ort`, loaded
//! dynamically, CPU/CUDA/TensorRT). Models written by `gan-export` describe themselves through
//! `gan.*` metadata; other generators (PyTorch exports, say) work when the options supply what
//! the file does not say. A bad file is an error, never a panic.
//!
//! This crate depends on none of the training or export crates and never sees candle.

#![warn(missing_docs)]

mod backend;
mod error;
mod feed;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod generator;
pub mod latent;
mod limits;
#[cfg(feature = "tract")]
mod onnx_model;
mod options;
pub mod picture;
mod signature;

pub use error::{Result, RuntimeError};
pub use feed::Feed;
pub use generator::{Generator, Rgba8};
pub use latent::latent_for_seed;
pub use limits::MAX_MODEL_BYTES;
#[cfg(feature = "tract")]
pub use onnx_model::{OnnxModel, OutputTensor, quiet_guarded_panics};
pub use options::{Backend, Device, LoadOptions, OutputRange};
pub use signature::{LabelInfo, ModelInfo, Signature, ValueSig};
/// The ONNX protobuf schema (tract's prost types of `onnx.proto`): the workspace's one copy,
/// which this crate reads and `gan-export` writes.
#[cfg(feature = "tract")]
pub use tract_onnx::pb as onnx_schema;
