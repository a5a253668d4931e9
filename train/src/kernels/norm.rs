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
    y.par_chunks_mut(d.l)
        .with_min_len(MIN_TASK / d.l.max(1) + 1)
        .enumerate()
        .for_each(|(plane, out)| {
            let ch = plane % d.c;
            let scale = gamma[ch] * inv_std[ch];
            let shift = beta[ch] - mean[ch] * scale;
            for (o, &v) in out.iter_mut().zip(&x[plane * d.l..][..d.l]) {
                let z = v * scale + shift;
                *o = rectify(z, slope);
            }
        });
    BatchStats { mean, inv_std, var }
}

/// Gradients `(dx, dγ, dβ)` of [`forward`] given its output `y` and the output gradient `dy`.
#[allow(clippy::too_many_arguments)]
pub fn backward<'a>(
    d: Dims,
    x: &'a [f32],
    y: &'a [f32],
    dy: &'a [f32],
    gamma: &[f32],
    stats: &BatchStats,
    slope: f32,
    dx: &mut [f32],
) -> (Vec<f32>, Vec<f32>) {
    let count = (d.n * d.l) as f64;
    // The activation's derivative, read from the output's sign (it matches the input's).
    let pre = move |y: f32, g: f32| g * rectifier_slope_at(y, slope);
    let plane =
        |v: &'a [f32], img: usize, ch: usize| -> &'a [f32] { &v[(img * d.c + ch) * d.l..][..d.l] };
    // Σg and Σg·x per channel; Σg·x̂ = (Σg·x − μ·Σg)·σ⁻¹.
    let (dgamma, dbeta): (Vec<f32>, Vec<f32>) = (0..d.c)
        .into_par_iter()
        .with_min_len(MIN_TASK / (d.n * d.l).max(1) + 1)
        .map(|ch| {
            let (mut sum_g, mut sum_gx) = (0f64, 0f64);
            for img in 0..d.n {
                let (a, b) = lane_sums2(
                    plane(x, img, ch),
                    plane(y, img, ch),
                    plane(dy, img, ch),
                    |x, y, g| {
                        let g = pre(y, g);
                        (g, g * x)
                    },
                );
                sum_g += a;
                sum_gx += b;
            }
            let (mean, inv_std) = (stats.mean[ch] as f64, stats.inv_std[ch] as f64);
            (((sum_gx - mean * sum_g) * inv_std) as f32, sum_g as f32)
        })
        .unzip();
    dx.par_chunks_mut(d.l)
        .with_min_len(MIN_TASK / d.l.max(1) + 1)
        .enumerate()
        .for_each(|(index, out)| {
            let (img, ch) = (index / d.c, index % d.c);
            let (mean, inv_std) = (stats.mean[ch], stats.inv_std[ch]);
            let k = gamma[ch] * inv_std;
            let mean_g = (dbeta[ch] as f64 / count) as f32;
            let mean_gx = (dgamma[ch] as f64 / count) as f32;
            let rows = plane(x, img, ch)
                .iter()
                .zip(plane(y, img, ch))
                .zip(plane(dy, img, ch));
            for (o, ((&x, &y), &g)) in out.iter_mut().zip(rows) {
                let xhat = (x - mean) * inv_std;
                *o = k * (pre(y, g) - mean_g - xhat * mean_gx);
            }
        });
    (dgamma, dbeta)
}

/// `y[img, ch, :] += bias[ch]` over `[n, c, l]` data.
pub fn add_channel_bias(d: Dims, bias: &[f32], y: &mut [f32]) {
    y.par_chunks_mut(d.l)
        .with_min_len(MIN_TASK / d.l.max(1) + 1)
        .enumerate()
        .for_each(|(plane, out)| {
            let b = bias[plane % d.c];
            out.iter_mut().for_each(|v| *v += b);
        });
}

/// `Σ_{img, i} x[img, ch, i]` per channel: the gradient of a per-channel bias.
pub fn channel_sums(d: Dims, x: &[f32]) -> Vec<f32> {
    (0..d.c)
        .into_par_iter()
        .with_min_len(MIN_TASK / (d.n * d.l).max(1) + 1)
        .map(|ch| {
            (0..d.n)
                .map(|img| lane_sum(&x[(img * d.c + ch) * d.l..][..d.l], |v| v))
                .sum::<f64>() as f32
        })
        .collect()
}

/// Elements per parallel task at least: smaller tasks cost more to schedule than to run.
const MIN_TASK: usize = 1 << 14;

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
    let chunks = xs
        .chunks_exact(LANES)
        .zip(ys.chunks_exact(LANES))
        .zip(gs.chunks_exact(LANES));
    for ((x, y), g) in chunks {
        for j in 0..LANES {
            let (a, b) = f(x[j], y[j], g[j]);
            acc_a[j] += a;
            acc_b[j] += b;
        }
    }
    let tail = xs.len() / LANES * LANES;
    let (mut ta, mut tb) = (0f64, 0f64);
    for ((&x, &y), &g) in xs[tail..].iter().zip(&ys[tail..]).zip(&gs[tail..]) {
        let (a, b) = f(x, y, g);
        ta += a as f64;
        tb += b as f64;
    }
    (
        acc_a.iter().map(|&a| a as f64).sum::<f64>() + ta,
        acc_b.iter().map(|&b| b as f64).sum::<f64>() + tb,
    )
}

/// `z` for `z > 0`, `slope·z` otherwise, without a branch (so loops vectorise).
#[inline(always)]
fn rectify(z: f32, slope: f32) -> f32 {
    z.max(0.0) + slope * z.min(0.0)
}

/// The rectifier's derivative where its output is `y` (same sign as its input).
#[inline(always)]
fn rectifier_slope_at(y: f32, slope: f32) -> f32 {
    if y > 0.0 { 1.0 } else { slope }
}

/// `y = x` for `x > 0`, `slope·x` otherwise.
pub fn activate(x: &[f32], slope: f32, y: &mut [f32]) {
    y.par_chunks_mut(1 << 14)
        .zip(x.par_chunks(1 << 14))
        .for_each(|(o, i)| {
            for (o, &v) in o.iter_mut().zip(i) {
                *o = rectify(v, slope);
            }
        });
}

/// The gradient of [`activate`] from its output `y`.
pub fn activate_backward(y: &[f32], dy: &[f32], slope: f32, dx: &mut [f32]) {
    dx.par_chunks_mut(1 << 14)
        .zip(y.par_chunks(1 << 14).zip(dy.par_chunks(1 << 14)))
        .for_each(|(o, (y, dy))| {
            for ((o, &y), &g) in o.iter_mut().zip(y).zip(dy) {
                *o = g * rectifier_slope_at(y, slope);
            }
        });
}
