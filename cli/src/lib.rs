//! The subcommands of the `gan` and `gan-export` binaries. Each is a thin layer over a library
//! crate: parse arguments, call the library, print a summary. This is also the one crate that
//! sees both candle and ONNX, so the export's self-check reference (candle's forward pass)
//! lives here.

pub mod bench;
pub mod demo;
pub mod eval;
pub mod export;
pub mod generate;
mod npy;
pub mod reference;
pub mod train;
