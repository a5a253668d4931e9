//! Fast CPU training kernels for the layers a GAN spends its time in: Conv2d and ConvTranspose2d
//! (forward, input and weight gradients) as im2col + `gemm` with reused buffers, and training-mode
//! BatchNorm fused with the ReLU/LeakyReLU after it. They are candle custom ops ([`ops`]), so
//! autograd, the optimiser and checkpoints are unchanged. Off the CPU, convolutions run
//! [`lowered`] to a matrix product. [`Kernels`] picks per device unless the run names one
//! (candle's own ops or the lowered form, for comparison).

pub mod adam;
mod columns;
mod conv;
mod device_norm;
mod gemm;
mod joined;
mod lowered;
mod norm;
mod ops;
pub mod profile;
mod scratch;
mod upsample;

use std::sync::{Arc, Mutex};

use candle_core::{Device, Result, Tensor};
use gan_models::Conv;

use norm::BatchStats;

/// Which implementation the layers run on. A run's `config.json` may name one
/// (`TrainConfig::kernels`, from `GAN_KERNELS` at the CLI); otherwise [`Kernels::default_for`]
/// the device. The choice changes results at float rounding, so it is part of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernels {
    /// This module's kernels (CPU only).
    Fast,
    /// Convolutions as [`lowered`] matrix products and BatchNorm as [`device_norm`], each one
    /// graph node; the rest candle's ops (any device).
    Lowered,
    /// candle's built-in ops.
    Candle,
}

impl Kernels {
    /// The fast kernels on the CPU, lowered convolutions elsewhere.
    pub fn default_for(device: &Device) -> Self {
        if device.is_cpu() {
            Kernels::Fast
        } else {
            Kernels::Lowered
        }
    }

    /// `choice` if it runs on `device` (the fast kernels exist on the CPU only), else the
    /// device's default.
    pub fn choose(choice: Option<Kernels>, device: &Device) -> Result<Self> {
        match choice {
            Some(Kernels::Fast) if !device.is_cpu() => {
                candle_core::bail!("the fast kernels run on the CPU only; use lowered or candle")
            }
            Some(kernels) => Ok(kernels),
            None => Ok(Self::default_for(device)),
        }
    }
}

impl std::str::FromStr for Kernels {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "fast" => Ok(Kernels::Fast),
            "lowered" => Ok(Kernels::Lowered),
            "candle" => Ok(Kernels::Candle),
            other => Err(format!(
                "unknown kernels `{other}`: use fast, lowered or candle"
            )),
        }
    }
}

/// `conv2d(x, w) + bias` (`w` `[out, in, k, k]`) or, when `conv.transposed`,
/// `conv_transpose2d(x, w) + bias`, on `kernels`. The stride, padding and direction come from
/// the layer's description; the weight's shape is the tensor's.
pub fn convolution(
    kernels: Kernels,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    conv: &Conv,
) -> Result<Tensor> {
    let Conv {
        stride,
        padding: pad,
        transposed,
        ..
    } = *conv;
    let out_channels = w.dim(if transposed { 1 } else { 0 })?;
    match kernels {
        Kernels::Fast => {
            let bias = bias_or_zeros(bias, out_channels, x.device())?;
            let op = ops::Convolution {
                stride,
                pad,
                transposed,
            };
            x.contiguous()?.apply_op3(&w.contiguous()?, &bias, op)
        }
        Kernels::Lowered => {
            lowered::convolution(x, w, &bias_or_zeros(bias, out_channels, x.device())?, conv)
        }
        Kernels::Candle => {
            let y = if transposed {
                x.conv_transpose2d(w, pad, 0, stride, 1)?
            } else {
                x.conv2d(w, pad, stride, 1, 1)?
            };
            match bias {
                Some(b) => y.broadcast_add(&b.reshape((1, out_channels, 1, 1))?),
                None => Ok(y),
            }
        }
    }
}

/// `x · wᵀ + bias` (`w` `[out, in]`).
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let bias = bias_or_zeros(bias, w.dim(0)?, x.device())?;
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &bias, ops::Linear)
}

/// The layer's bias, or constant zeros (which get no gradient) for a layer without one.
fn bias_or_zeros(bias: Option<&Tensor>, channels: usize, device: &Device) -> Result<Tensor> {
    match bias {
        Some(b) => b.contiguous(),
        None => Tensor::zeros(channels, candle_core::DType::F32, device),
    }
}

/// Training-mode BatchNorm of `x` `[N, C, H, W]` then `z > 0 ? z : slope·z`, on `kernels` (the
/// fused CPU kernel, or [`device_norm`] elsewhere); also returns the batch mean and biased
/// variance `[C]` for the running statistics.
pub fn batch_norm_act(
    kernels: Kernels,
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    slope: f32,
) -> Result<(Tensor, Tensor, Tensor)> {
    if kernels != Kernels::Fast {
        return device_norm::batch_norm_act(x, gamma, beta, eps, slope);
    }
    let stats = Arc::new(Mutex::new(BatchStats::default()));
    let op = ops::BatchNormAct {
        eps,
        slope,
        stats: stats.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)?;
    // The op keeps its copy for the backward pass.
    let stats = stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let channels = stats.mean.len();
    let mean = Tensor::from_vec(stats.mean, channels, x.device())?;
    let var = Tensor::from_vec(stats.var, channels, x.device())?;
    Ok((y, mean, var))
}

/// Nearest-neighbour upsampling of `[n, c, h, w]` by `factor`: the CPU kernel with the fast
/// kernels, otherwise a broadcast (whose backward is a sum).
pub fn upsample_nearest(kernels: Kernels, x: &Tensor, factor: usize) -> Result<Tensor> {
    if kernels == Kernels::Fast {
        return x.contiguous()?.apply_op1(ops::Upsample { factor });
    }
    let (n, c, h, w) = x.dims4()?;
    x.reshape((n, c, h, 1, w, 1))?
        .broadcast_as((n, c, h, factor, w, factor))?
        .reshape((n, c, h * factor, w * factor))
}

/// `x > 0 ? x : slope·x`.
pub fn activate(x: &Tensor, slope: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op1(ops::Activation { slope })
}
