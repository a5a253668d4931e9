//! Fast CPU training kernels for the layers a GAN spends its time in: Conv2d and ConvTranspose2d
//! (forward, input and weight gradients) as im2col + `gemm` with reused buffers, and training-mode
//! BatchNorm fused with the ReLU/LeakyReLU after it. They are candle custom ops ([`ops`]), so
//! autograd, the optimiser and checkpoints are unchanged. Off the CPU, convolutions run
//! [`lowered`] to a matrix product. [`Kernels`] picks per device; `GAN_KERNELS=candle` or
//! `lowered` overrides it, for comparison.

pub mod adam;
mod columns;
mod conv;
pub mod device_norm;
mod gemm;
pub mod lowered;
mod norm;
mod ops;
pub mod profile;
mod scratch;

use std::sync::{Arc, Mutex};

use candle_core::{Device, Result, Tensor};

pub use norm::BatchStats;

/// Which implementation the layers run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The fast kernels on the CPU, lowered convolutions elsewhere, unless `GAN_KERNELS` names
    /// `candle` or `lowered` (the fast kernels exist on the CPU only).
    pub fn default_for(device: &Device) -> Self {
        match std::env::var("GAN_KERNELS").as_deref() {
            Ok("candle") => Kernels::Candle,
            Ok("lowered") => Kernels::Lowered,
            _ if device.is_cpu() => Kernels::Fast,
            _ => Kernels::Lowered,
        }
    }
}

/// `conv2d(x, w) + bias`, `w` `[out, in, k, k]`.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    convolution(x, w, bias, stride, pad, false)
}

/// `conv_transpose2d(x, w) + bias`, `w` `[in, out, k, k]`, no output padding.
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    convolution(x, w, bias, stride, pad, true)
}

fn convolution(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
    transposed: bool,
) -> Result<Tensor> {
    let out_channels = w.dim(if transposed { 1 } else { 0 })?;
    let bias = bias_or_zeros(bias, out_channels)?;
    let op = ops::Convolution {
        stride,
        pad,
        transposed,
    };
    x.contiguous()?.apply_op3(&w.contiguous()?, &bias, op)
}

/// `x · wᵀ + bias` (`w` `[out, in]`).
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let bias = bias_or_zeros(bias, w.dim(0)?)?;
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &bias, ops::Linear)
}

/// The layer's bias, or constant zeros (which get no gradient) for a layer without one.
fn bias_or_zeros(bias: Option<&Tensor>, channels: usize) -> Result<Tensor> {
    match bias {
        Some(b) => b.contiguous(),
        None => Tensor::zeros(channels, candle_core::DType::F32, &Device::Cpu),
    }
}

/// Training-mode BatchNorm of `x` `[N, C, ...]` then `z > 0 ? z : slope·z`; also returns the
/// batch statistics.
pub fn batch_norm_act(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    slope: f32,
) -> Result<(Tensor, BatchStats)> {
    let stats = Arc::new(Mutex::new(BatchStats::default()));
    let op = ops::BatchNormAct {
        eps,
        slope,
        stats: stats.clone(),
    };
    let y = x
        .contiguous()?
        .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)?;
    let stats = stats
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok((y, stats))
}

/// `x > 0 ? x : slope·x`.
pub fn activate(x: &Tensor, slope: f32) -> Result<Tensor> {
    x.contiguous()?.apply_op1(ops::Activation { slope })
}
