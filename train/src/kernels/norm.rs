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
#[inline(never)]
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
            let mean = planes().map(|p| lane_sum(p, |v| v)).sum::<f64>() / count;
            let m = mean as f32;
            let sq: f64 = planes().map(|p| lane_sum(p, |v| (v - m) * (v - m))).sum();
            (m, (sq / count) as f32)
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
#[inline(never)]
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
            let (mean, inv_std) = (stats.mean[ch], stats.inv_std[ch]);
            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
            for img in 0..d.n {
                let start = (img * d.c + ch) * d.l;
                let (xs, ys, gs) = (&x[start..][..d.l], &y[start..][..d.l], &dy[start..][..d.l]);
                let (a, b) = lane_sums2(xs, ys, gs, |x, y, g| {
                    let g = if y > 0.0 { g } else { slope * g };
                    (g, g * (x - mean) * inv_std)
                });
                sum_g += a;
                sum_gx += b;
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

/// `y[img, ch, :] += bias[ch]` over `[n, c, l]` data.
pub fn add_channel_bias(d: Dims, bias: &[f32], y: &mut [f32]) {
    y.par_chunks_mut(d.l).enumerate().for_each(|(plane, out)| {
        let b = bias[plane % d.c];
        out.iter_mut().for_each(|v| *v += b);
    });
}

/// `Σ_{img, i} x[img, ch, i]` per channel: the gradient of a per-channel bias.
pub fn channel_sums(d: Dims, x: &[f32]) -> Vec<f32> {
    (0..d.c)
        .into_par_iter()
        .map(|ch| {
            (0..d.n)
                .map(|img| lane_sum(&x[(img * d.c + ch) * d.l..][..d.l], |v| v))
                .sum::<f64>() as f32
        })
        .collect()
}

/// Lanes of partial sums that the compiler keeps in vector registers.
const LANES: usize = 16;

/// `Σ f(v)` over `values`: f32 lanes per call (a plane is at most a few thousand values), f64
/// across calls.
#[inline]
fn lane_sum(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    let mut acc = [0f32; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    acc.iter().map(|&a| a as f64).sum::<f64>() + tail as f64
}

/// Two sums `Σ f(x, y, g)` at once, as [`lane_sum`].
#[inline]
fn lane_sums2(
    xs: &[f32],
    ys: &[f32],
    gs: &[f32],
    f: impl Fn(f32, f32, f32) -> (f32, f32),
) -> (f64, f64) {
    let (mut acc_a, mut acc_b) = ([0f32; LANES], [0f32; LANES]);
    let n = xs.len() / LANES * LANES;
    for start in (0..n).step_by(LANES) {
        for j in 0..LANES {
            let (a, b) = f(xs[start + j], ys[start + j], gs[start + j]);
            acc_a[j] += a;
            acc_b[j] += b;
        }
    }
    let (mut ta, mut tb) = (0f64, 0f64);
    for i in n..xs.len() {
        let (a, b) = f(xs[i], ys[i], gs[i]);
        ta += a as f64;
        tb += b as f64;
    }
    (
        acc_a.iter().map(|&a| a as f64).sum::<f64>() + ta,
        acc_b.iter().map(|&b| b as f64).sum::<f64>() + tb,
    )
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
