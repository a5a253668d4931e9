//! 2-D convolution as im2col + matrix product, and its two adjoints. Everything is stated for a
//! convolution `a → b` with weight `[cb, ca, k, k]`; a transposed convolution is the same
//! geometry read backwards (its forward pass is [`backward_data`], its input gradient is
//! [`forward`]), so one set of kernels serves both layer types.

use rayon::prelude::*;

use super::gemm::{Mat, matmul};
use super::profile::timed;
use super::scratch;

/// Shapes of a convolution from `a = [n, ca, ha, wa]` to `b = [n, cb, hb, wb]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub n: usize,
    pub ca: usize,
    pub ha: usize,
    pub wa: usize,
    pub cb: usize,
    pub hb: usize,
    pub wb: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Geometry {
    /// A convolution of `[n, ca, ha, wa]` with `cb` kernels of `k × k`.
    pub fn conv(
        [n, ca, ha, wa]: [usize; 4],
        cb: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Option<Self> {
        let out = |x: usize| Some((x + 2 * pad).checked_sub(k)? / stride + 1);
        Some(Geometry {
            n,
            ca,
            ha,
            wa,
            cb,
            hb: out(ha)?,
            wb: out(wa)?,
            k,
            stride,
            pad,
        })
    }

    /// Rows of the column matrix: one per (input channel, kernel row, kernel column).
    pub(super) fn patch(&self) -> usize {
        self.ca * self.k * self.k
    }

    /// Output positions per image.
    fn positions(&self) -> usize {
        self.hb * self.wb
    }

    pub fn a_len(&self) -> usize {
        self.n * self.ca * self.ha * self.wa
    }

    pub fn b_len(&self) -> usize {
        self.n * self.cb * self.positions()
    }

    pub fn w_len(&self) -> usize {
        self.cb * self.patch()
    }

    /// Input coordinate of output coordinate `o` under kernel offset `kk`, if inside.
    #[inline]
    pub(super) fn source(&self, o: usize, kk: usize, size: usize) -> Option<usize> {
        (o * self.stride + kk)
            .checked_sub(self.pad)
            .filter(|&i| i < size)
    }
}

/// Output columns `[first, end)` whose input column `o·s + kk − p` lies inside `0..size`.
fn valid_outputs(g: &Geometry, kk: usize, size: usize, outputs: usize) -> (usize, usize) {
    let first = g.pad.saturating_sub(kk).div_ceil(g.stride);
    let end = if size + g.pad > kk {
        ((size + g.pad - kk - 1) / g.stride + 1).min(outputs)
    } else {
        0
    };
    (first.min(end), end)
}

/// Sequential: callers run chunks of images in parallel.
/// `col[(c·k + kh)·k + kw][img·hb·wb + oh·wb + ow] = a[img, c, oh·s + kh − p, ow·s + kw − p]`
/// (zero outside).
#[inline(never)]
fn im2col(g: &Geometry, a: &[f32], col: &mut [f32]) {
    let row_len = g.n * g.positions();
    col.chunks_mut(row_len).enumerate().for_each(|(row, out)| {
        let (c, kh, kw) = (row / (g.k * g.k), row / g.k % g.k, row % g.k);
        let (first, end) = valid_outputs(g, kw, g.wa, g.wb);
        for img in 0..g.n {
            let plane = &a[(img * g.ca + c) * g.ha * g.wa..][..g.ha * g.wa];
            let out = &mut out[img * g.positions()..][..g.positions()];
            for oh in 0..g.hb {
                let line = &mut out[oh * g.wb..][..g.wb];
                let Some(ih) = g.source(oh, kh, g.ha) else {
                    line.fill(0.0);
                    continue;
                };
                let src = &plane[ih * g.wa..][..g.wa];
                line[..first].fill(0.0);
                line[end..].fill(0.0);
                let offset = first * g.stride + kw - g.pad;
                let line = &mut line[first..end];
                match g.stride {
                    1 => line.copy_from_slice(&src[offset..][..line.len()]),
                    // The DCGAN case, with the stride a constant the compiler can vectorise.
                    2 => gather(line, &src[offset..], 2),
                    s => gather(line, &src[offset..], s),
                }
            }
        }
    });
}

/// `out[j] = src[j·stride]`.
#[inline(always)]
fn gather(out: &mut [f32], src: &[f32], stride: usize) {
    for (o, &v) in out.iter_mut().zip(src.iter().step_by(stride)) {
        *o = v;
    }
}

/// `dst[j·stride] += src[j]`.
#[inline(always)]
fn scatter_add(dst: &mut [f32], src: &[f32], stride: usize) {
    for (d, &v) in dst.iter_mut().step_by(stride).zip(src) {
        *d += v;
    }
}

/// The adjoint of [`im2col`]: scatter-add the column matrix back onto `a` (overwritten).
#[inline(never)]
fn col2im(g: &Geometry, col: &[f32], a: &mut [f32]) {
    let row_len = g.n * g.positions();
    a.chunks_mut(g.ha * g.wa)
        .enumerate()
        .for_each(|(plane_index, plane)| {
            let (img, c) = (plane_index / g.ca, plane_index % g.ca);
            plane.fill(0.0);
            for kh in 0..g.k {
                for kw in 0..g.k {
                    let (first, end) = valid_outputs(g, kw, g.wa, g.wb);
                    if first >= end {
                        continue;
                    }
                    let offset = first * g.stride + kw - g.pad;
                    let row = &col[((c * g.k + kh) * g.k + kw) * row_len + img * g.positions()..]
                        [..g.positions()];
                    for oh in 0..g.hb {
                        let Some(ih) = g.source(oh, kh, g.ha) else {
                            continue;
                        };
                        let dst = &mut plane[ih * g.wa..][..g.wa];
                        let src = &row[oh * g.wb + first..][..end - first];
                        match g.stride {
                            2 => scatter_add(&mut dst[offset..], src, 2),
                            s => scatter_add(&mut dst[offset..], src, s),
                        }
                    }
                }
            }
        });
}

/// `[n, c, l]` → `[c, n·l]`.
#[inline(never)]
fn batch_to_channels(x: &[f32], n: usize, c: usize, l: usize, out: &mut [f32]) {
    for ch in 0..c {
        for img in 0..n {
            out[(ch * n + img) * l..][..l].copy_from_slice(&x[(img * c + ch) * l..][..l]);
        }
    }
}

/// `[c, n·l]` → `[n, c, l]`.
#[inline(never)]
fn channels_to_batch(x: &[f32], n: usize, c: usize, l: usize, out: &mut [f32]) {
    for img in 0..n {
        for ch in 0..c {
            out[(img * c + ch) * l..][..l].copy_from_slice(&x[(ch * n + img) * l..][..l]);
        }
    }
}

/// The work is done a few images at a time: enough output columns (≥ 512) for an efficient
/// product, a column matrix small enough (≤ 4 MiB) to stay in cache between im2col, the
/// product's packing and col2im, and at least one chunk per thread where the batch allows (a
/// narrower product on one thread beats a wide one shared: threads sharing a product wait on
/// each other, which on 16 cores cost the deep layers most of their speed-up). Chunks run in
/// parallel, each product on one thread.
struct Chunks {
    images: usize,
    count: usize,
    /// Whether products should use the thread pool themselves (too few chunks to share).
    parallel_products: bool,
}

impl Geometry {
    fn chunks(&self) -> Chunks {
        let threads = rayon::current_num_threads();
        let wanted = 512usize.div_ceil(self.positions().max(1));
        let fits = (1 << 20) / (self.patch() * self.positions()).max(1);
        let share = self.n.div_ceil(threads);
        let images = wanted.min(fits.max(1)).min(share).clamp(1, self.n.max(1));
        let count = self.n.div_ceil(images);
        Chunks {
            images,
            count,
            parallel_products: count < threads,
        }
    }

    /// The same convolution over `n` images.
    fn with_images(&self, n: usize) -> Geometry {
        Geometry { n, ..*self }
    }
}

/// `b = conv(a, w)`, `b` of length [`Geometry::b_len`].
pub fn forward(g: &Geometry, a: &[f32], w: &[f32], b: &mut [f32]) {
    forward_and_filter(g, a, Some((w, b)), None);
}

/// With each chunk's `col = im2col(a)` formed once: `b = conv(a, w)` when `forward` is given,
/// and `dw = db · colᵀ` when `filter = (db, dw)` is given. A transposed convolution's backward
/// pass needs both from the same `a` (its output gradient).
pub fn forward_and_filter(
    g: &Geometry,
    a: &[f32],
    forward: Option<(&[f32], &mut [f32])>,
    filter: Option<(&[f32], &mut [f32])>,
) {
    let label = match (&forward, &filter) {
        (Some(_), Some(_)) => "conv forward + weight grad",
        (Some(_), None) => "conv forward",
        _ => "conv weight grad",
    };
    timed(label, || {
        let chunks = g.chunks();
        let threads = rayon::current_num_threads().min(chunks.count);
        let (w, b) = match forward {
            Some((w, b)) => (Some(w), Some(b)),
            None => (None, None),
        };
        let (db, dw) = match filter {
            Some((db, dw)) => (Some(db), Some(dw)),
            None => (None, None),
        };
        let a_image = g.ca * g.ha * g.wa;
        let b_image = g.cb * g.positions();
        // Each worker takes every `threads`-th chunk and accumulates its own weight gradient.
        let b_parts: Vec<std::sync::Mutex<&mut [f32]>> = b
            .map(|b| {
                b.chunks_mut(chunks.images * b_image)
                    .map(std::sync::Mutex::new)
                    .collect()
            })
            .unwrap_or_default();
        let partial_dw: Vec<Option<scratch::Scratch>> = (0..threads)
            .into_par_iter()
            .map(|worker| {
                let mut acc = dw.as_ref().map(|_| {
                    let mut acc = scratch::take(g.w_len());
                    acc.fill(0.0);
                    acc
                });
                for chunk in (worker..chunks.count).step_by(threads) {
                    let first = chunk * chunks.images;
                    let n = chunks.images.min(g.n - first);
                    let cg = g.with_images(n);
                    let cols = n * g.positions();
                    let mut col = scratch::take(g.patch() * cols);
                    im2col(&cg, &a[first * a_image..][..n * a_image], &mut col);
                    if let Some(w) = w {
                        let mut by_channel = scratch::take(g.cb * cols);
                        matmul(
                            Mat::new(w, g.cb, g.patch()),
                            Mat::new(&col, g.patch(), cols),
                            &mut by_channel,
                            false,
                            chunks.parallel_products,
                        );
                        let mut out = b_parts[chunk]
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        channels_to_batch(&by_channel, n, g.cb, g.positions(), &mut out);
                    }
                    if let (Some(db), Some(acc)) = (db, acc.as_mut()) {
                        let mut db_by_channel = scratch::take(g.cb * cols);
                        batch_to_channels(
                            &db[first * b_image..][..n * b_image],
                            n,
                            g.cb,
                            g.positions(),
                            &mut db_by_channel,
                        );
                        matmul(
                            Mat::new(&db_by_channel, g.cb, cols),
                            Mat::t(&col, g.patch(), cols),
                            acc,
                            true,
                            chunks.parallel_products,
                        );
                    }
                }
                acc
            })
            .collect();
        if let Some(dw) = dw {
            // The workers' partial sums, added on all threads (one stretch of `dw` each).
            let parts: Vec<scratch::Scratch> = partial_dw.into_iter().flatten().collect();
            const STRETCH: usize = 1 << 14;
            dw.par_chunks_mut(STRETCH)
                .enumerate()
                .for_each(|(i, stretch)| {
                    stretch.fill(0.0);
                    for part in &parts {
                        let part = &part[i * STRETCH..][..stretch.len()];
                        stretch.iter_mut().zip(part).for_each(|(d, p)| *d += p);
                    }
                });
        }
    });
}

/// The gradient with respect to `a` given the gradient `db` of `b`: `da = convᵀ(db, w)`.
pub fn backward_data(g: &Geometry, db: &[f32], w: &[f32], da: &mut [f32]) {
    timed("conv input grad", || {
        let chunks = g.chunks();
        let a_image = g.ca * g.ha * g.wa;
        let b_image = g.cb * g.positions();
        da.par_chunks_mut(chunks.images * a_image)
            .enumerate()
            .for_each(|(chunk, da)| {
                let first = chunk * chunks.images;
                let n = da.len() / a_image;
                let cg = g.with_images(n);
                let cols = n * g.positions();
                let mut db_by_channel = scratch::take(g.cb * cols);
                batch_to_channels(
                    &db[first * b_image..][..n * b_image],
                    n,
                    g.cb,
                    g.positions(),
                    &mut db_by_channel,
                );
                let mut col = scratch::take(g.patch() * cols);
                matmul(
                    Mat::t(w, g.cb, g.patch()),
                    Mat::new(&db_by_channel, g.cb, cols),
                    &mut col,
                    false,
                    chunks.parallel_products,
                );
                col2im(&cg, &col, da);
            });
    });
}

/// The gradient with respect to the weight: `dw = db · im2col(a)ᵀ`.
pub fn backward_filter(g: &Geometry, a: &[f32], db: &[f32], dw: &mut [f32]) {
    forward_and_filter(g, a, None, Some((db, dw)));
}
