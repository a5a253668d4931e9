//! BatchNorm in training mode fused with the activation that follows it (ReLU, LeakyReLU or
//! none), forward and backward, over NCHW data. Statistics are accumulated in f64, per channel,
//! in parallel; the element-wise passes run per (image, channel) plane.

use rayon::prelude::*;

/// Batch statistics of one forward pass, kept for the backward pass and the running averages.
#[derive(Debug, Clone, Default)]
pub struct BatchStats {
    pub mean: Vec<f32>,
    /// `1 / sqrt(var + eps)` with the biased variance.
    pub inv_std: Vec<f32>,
    /// The biased variance (the running average takes the unbiased one).
    pub var: Vec<f32>,
}

/// Layout of the data: `n` images of `c` channels of `l` positions.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub n: usize,
    pub c: usize,
    pub l: usize,
}

/// `y = act(γ·(x − μ)/σ + β)` where `act(z) = z` for `z > 0` and `slope·z` otherwise
/// (`slope` 0: ReLU, 1: no activation).
pub fn forward(
    d: Dims,
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    slope: f32,
    y: &mut [f32],
) -> BatchStats {
    let count = (d.n * d.l) as f64;
    let (mean, var): (Vec<f32>, Vec<f32>) = (0..d.c)
        .into_par_iter()
        .map(|ch| {
            let planes = || (0..d.n).map(move |img| &x[(img * d.c + ch) * d.l..][..d.l]);
            let sum: f64 = planes().flatten().map(|&v| v as f64).sum();
            let mean = sum / count;
            let sq: f64 = planes().flatten().map(|&v| (v as f64 - mean).powi(2)).sum();
            (mean as f32, (sq / count) as f32)
        })
        .unzip();
    let inv_std: Vec<f32> = var
        .iter()
        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
        .collect();
    y.par_chunks_mut(d.l).enumerate().for_each(|(plane, out)| {
        let ch = plane % d.c;
        let scale = gamma[ch] * inv_std[ch];
        let shift = beta[ch] - mean[ch] * scale;
        for (o, &v) in out.iter_mut().zip(&x[plane * d.l..][..d.l]) {
            let z = v * scale + shift;
            *o = if z > 0.0 { z } else { slope * z };
        }
    });
    BatchStats { mean, inv_std, var }
}

/// Gradients `(dx, dγ, dβ)` of [`forward`] given its output `y` and the output gradient `dy`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    d: Dims,
    x: &[f32],
    y: &[f32],
    dy: &[f32],
    gamma: &[f32],
    stats: &BatchStats,
    slope: f32,
    dx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let count = (d.n * d.l) as f64;
    // The activation's derivative, read from the output's sign (it matches the input's).
    let pre = |i: usize| if y[i] > 0.0 { dy[i] } else { slope * dy[i] };
    let (dgamma, dbeta): (Vec<f32>, Vec<f32>) = (0..d.c)
        .into_par_iter()
        .map(|ch| {
            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
            for img in 0..d.n {
                let start = (img * d.c + ch) * d.l;
                for i in start..start + d.l {
                    let g = pre(i) as f64;
                    sum_g += g;
                    sum_gx += g * ((x[i] - stats.mean[ch]) * stats.inv_std[ch]) as f64;
                }
            }
            (sum_gx as f32, sum_g as f32)
        })
        .unzip();
    dx.par_chunks_mut(d.l).enumerate().for_each(|(plane, out)| {
        let ch = plane % d.c;
        let (mean, inv_std) = (stats.mean[ch], stats.inv_std[ch]);
        let k = gamma[ch] * inv_std;
        let (mean_g, mean_gx) = (
            (dbeta[ch] as f64 / count) as f32,
            (dgamma[ch] as f64 / count) as f32,
        );
        for (j, o) in out.iter_mut().enumerate() {
            let i = plane * d.l + j;
            let xhat = (x[i] - mean) * inv_std;
            *o = k * (pre(i) - mean_g - xhat * mean_gx);
        }
    });
    (dgamma, dbeta)
}

/// `y = x` for `x > 0`, `slope·x` otherwise.
pub fn activate(x: &[f32], slope: f32, y: &mut [f32]) {
    y.par_chunks_mut(1 << 14)
        .zip(x.par_chunks(1 << 14))
        .for_each(|(o, i)| {
            for (o, &v) in o.iter_mut().zip(i) {
                *o = if v > 0.0 { v } else { slope * v };
            }
        });
}

/// The gradient of [`activate`] from its output `y`.
pub fn activate_backward(y: &[f32], dy: &[f32], slope: f32, dx: &mut [f32]) {
    dx.par_chunks_mut(1 << 14)
        .zip(y.par_chunks(1 << 14).zip(dy.par_chunks(1 << 14)))
        .for_each(|(o, (y, dy))| {
            for ((o, &y), &g) in o.iter_mut().zip(y).zip(dy) {
                *o = if y > 0.0 { g } else { slope * g };
            }
        });
}
