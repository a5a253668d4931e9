//! How to load a generator: backend, device, threads, and what a foreign model does not say.

use std::path::PathBuf;

pub use gan_contract::OutputRange;

/// Which inference engine runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// tract, pure Rust (feature `tract`, on by default).
    #[default]
    Tract,
    /// ONNX Runtime, loaded dynamically (feature `ort`).
    Ort,
}

/// Where the ONNX Runtime backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU (every backend).
    #[default]
    Cpu,
    /// An NVIDIA GPU through ONNX Runtime's CUDA provider.
    Cuda,
    /// An NVIDIA GPU through ONNX Runtime's TensorRT provider.
    TensorRt,
}

/// How to load a generator; `Default` is tract on all cores, trusting the model's metadata.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Which engine runs the model.
    pub backend: Backend,
    /// Where the `ort` backend runs it.
    pub device: Device,
    /// Run on the CPU (with a logged warning) when the requested device cannot be used,
    /// instead of failing.
    pub allow_fallback: bool,
    /// The ONNX Runtime shared library (else `ORT_DYLIB_PATH`).
    pub ort_library: Option<PathBuf>,
    /// TensorRT engine cache folder.
    pub tensorrt_cache: Option<PathBuf>,
    /// Intra-op threads (default: the machine's cores).
    pub threads: Option<usize>,
    /// Largest batch run at once; larger requests are split (default 64).
    pub max_batch: Option<usize>,
    /// For models without `gan.*` metadata: latent size.
    pub latent_dim: Option<usize>,
    /// For models without metadata: image shape (channels, height, width).
    pub image_shape: Option<(usize, usize, usize)>,
    /// For models without metadata: output value range.
    pub output_range: Option<OutputRange>,
    /// For conditional models: the name of the class label input (default `label`).
    pub label_input: Option<String>,
    /// For conditional models without metadata: the number of classes (named `0`, `1`, …).
    pub class_count: Option<usize>,
}
