//! Command-line values shared by several subcommands, typed so that clap refuses a bad one
//! with the list of good ones, before any work starts.

use clap::ValueEnum;
use gan_runtime::{Backend, Device};

/// `--backend`: the inference engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// tract, pure Rust (built in).
    Tract,
    /// ONNX Runtime, loaded at run time (--ort-library or ORT_DYLIB_PATH).
    Ort,
}

impl From<BackendArg> for Backend {
    fn from(arg: BackendArg) -> Self {
        match arg {
            BackendArg::Tract => Backend::Tract,
            BackendArg::Ort => Backend::Ort,
        }
    }
}

/// `--device`: where the ONNX Runtime backend runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
    Tensorrt,
}

impl From<DeviceArg> for Device {
    fn from(arg: DeviceArg) -> Self {
        match arg {
            DeviceArg::Cpu => Device::Cpu,
            DeviceArg::Cuda => Device::Cuda,
            DeviceArg::Tensorrt => Device::TensorRt,
        }
    }
}

/// Parse `dynamic` or a positive batch size (`gan export --batch`).
pub fn parse_batch(s: &str) -> Result<gan_export::Batch, String> {
    match s {
        "dynamic" => Ok(gan_export::Batch::Dynamic),
        n => match n.parse::<usize>() {
            Ok(0) | Err(_) => Err(format!(
                "`{n}`: use `dynamic` or a batch size of at least 1"
            )),
            Ok(n) => Ok(gan_export::Batch::Fixed(n)),
        },
    }
}

/// `GAN_KERNELS` (fast, lowered or candle): the layers' implementation for a new run or a
/// benchmark. Read here, at the edge, so the library takes it from the run's configuration.
pub fn kernels_from_env() -> anyhow::Result<Option<gan_train::kernels::Kernels>> {
    match std::env::var("GAN_KERNELS") {
        Ok(name) => name
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("GAN_KERNELS: {e}")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("GAN_KERNELS: {e}")),
    }
}
