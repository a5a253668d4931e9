//! Where training runs: the CPU (this crate's kernels) or an NVIDIA GPU through candle's CUDA
//! backend (the `cuda` feature). The device is a property of one process, not of a run: a run
//! started on one device resumes on another, because checkpoints hold plain f32 tensors.

use std::fmt;
use std::str::FromStr;

use candle_core::Device;

use crate::error::{Result, TrainError};

/// A training device as a user names it: `cpu`, `cuda` (GPU 0) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainDevice {
    #[default]
    Cpu,
    /// The CUDA GPU with this ordinal.
    Cuda(usize),
}

/// Whether this build can train on CUDA GPUs.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

impl TrainDevice {
    /// The candle device, or why it cannot be opened (no CUDA in this build, no such GPU, no
    /// driver).
    pub fn open(self) -> Result<Device> {
        match self {
            TrainDevice::Cpu => Ok(Device::Cpu),
            TrainDevice::Cuda(ordinal) => {
                open_cuda(ordinal).map_err(|reason| TrainError::DeviceUnavailable {
                    device: self.to_string(),
                    reason,
                })
            }
        }
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> std::result::Result<Device, String> {
    Device::new_cuda(ordinal).map_err(|e| e.to_string())
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize) -> std::result::Result<Device, String> {
    Err("this build has no CUDA support (it was built without the `cuda` feature)".into())
}

impl fmt::Display for TrainDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainDevice::Cpu => f.write_str("cpu"),
            TrainDevice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl FromStr for TrainDevice {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" => Ok(TrainDevice::Cpu),
            "cuda" => Ok(TrainDevice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(TrainDevice::Cuda)
                .ok_or_else(|| format!("`{s}` is not a device: use cpu, cuda or cuda:N")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_print_back() {
        for (text, device) in [
            ("cpu", TrainDevice::Cpu),
            ("cuda", TrainDevice::Cuda(0)),
            ("cuda:3", TrainDevice::Cuda(3)),
        ] {
            assert_eq!(text.parse::<TrainDevice>(), Ok(device));
        }
        assert_eq!(TrainDevice::Cuda(3).to_string(), "cuda:3");
        for bad in ["gpu", "cuda:", "cuda:x", "CPU", "cuda:-1"] {
            let err = bad.parse::<TrainDevice>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_build_without_cuda_refuses_a_gpu_by_name() {
        let err = TrainDevice::Cuda(1).open().unwrap_err().to_string();
        assert!(
            err.contains("cuda:1") && err.contains("`cuda` feature"),
            "{err}"
        );
    }
}
