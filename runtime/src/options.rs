//! How to load a generator: backend, device, threads, and what a foreign model does not say.

use std::path::PathBuf;

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
    #[default]
    Cpu,
    Cuda,
    TensorRt,
}

/// How generator output values map to pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRange {
    /// [-1, 1] (Tanh), our exporter's convention.
    MinusOneToOne,
    /// [0, 1] (Sigmoid).
    ZeroToOne,
    /// [0, 255].
    ZeroTo255,
}

impl OutputRange {
    pub fn parse(s: &str) -> Option<Self> {
        match s.replace(' ', "").as_str() {
            "-1,1" | "minus1_1" => Some(OutputRange::MinusOneToOne),
            "0,1" | "zero_1" => Some(OutputRange::ZeroToOne),
            "0,255" | "zero_255" => Some(OutputRange::ZeroTo255),
            _ => None,
        }
    }

    /// One output value to a byte (rounded, clamped).
    pub fn to_byte(self, x: f32) -> u8 {
        let v = match self {
            OutputRange::MinusOneToOne => (x + 1.0) * 127.5,
            OutputRange::ZeroToOne => x * 255.0,
            OutputRange::ZeroTo255 => x,
        };
        v.round_ties_even().clamp(0.0, 255.0) as u8
    }
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub backend: Backend,
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
}
