//! 2-D convolution as im2col + matrix product, and its two adjoints. Everything is stated for a
//! convolution `a → b` with weight `[cb, ca, k, k]`; a transposed convolution is the same
//! geometry read backwards (its forward pass is [`backward_data`], its input gradient is
//! [`forward`]), so one set of kernels serves both layer types.

use rayon::prelude::*;

use super::gemm::{Mat, matmul};
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
    fn patch(&self) -> usize {
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

    /// Multiply-accumulates of one of the three products.
    pub fn macs(&self) -> u64 {
        (self.w_len() * self.n * self.positions()) as u64
    }

    /// Input coordinate of output coordinate `o` under kernel offset `kk`, if inside.
    #[inline]
    fn source(&self, o: usize, kk: usize, size: usize) -> Option<usize> {
        (o * self.stride + kk)
            .checked_sub(self.pad)
            .filter(|&i| i < size)
    }
}

/// `col[(c·k + kh)·k + kw][img·hb·wb + oh·wb + ow] = a[img, c, oh·s + kh − p, ow·s + kw − p]`
/// (zero outside).
fn im2col(g: &Geometry, a: &[f32], col: &mut [f32]) {
    let row_len = g.n * g.positions();
    col.par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(row, out)| {
            let (c, kh, kw) = (row / (g.k * g.k), row / g.k % g.k, row % g.k);
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
                    for (ow, v) in line.iter_mut().enumerate() {
                        *v = g.source(ow, kw, g.wa).map_or(0.0, |iw| src[iw]);
                    }
                }
            }
        });
}

/// The adjoint of [`im2col`]: scatter-add the column matrix back onto `a` (overwritten).
fn col2im(g: &Geometry, col: &[f32], a: &mut [f32]) {
    let row_len = g.n * g.positions();
    a.par_chunks_mut(g.ha * g.wa)
        .enumerate()
        .for_each(|(plane_index, plane)| {
            let (img, c) = (plane_index / g.ca, plane_index % g.ca);
            plane.fill(0.0);
            for kh in 0..g.k {
                for kw in 0..g.k {
                    let row = &col[((c * g.k + kh) * g.k + kw) * row_len + img * g.positions()..]
                        [..g.positions()];
                    for oh in 0..g.hb {
                        let Some(ih) = g.source(oh, kh, g.ha) else {
                            continue;
                        };
                        let dst = &mut plane[ih * g.wa..][..g.wa];
                        for (ow, v) in row[oh * g.wb..][..g.wb].iter().enumerate() {
                            if let Some(iw) = g.source(ow, kw, g.wa) {
                                dst[iw] += v;
                            }
                        }
                    }
                }
            }
        });
}

/// `[n, c, l]` → `[c, n·l]`.
fn batch_to_channels(x: &[f32], n: usize, c: usize, l: usize, out: &mut [f32]) {
    out.par_chunks_mut(n * l).enumerate().for_each(|(ch, dst)| {
        for img in 0..n {
            dst[img * l..][..l].copy_from_slice(&x[(img * c + ch) * l..][..l]);
        }
    });
}

/// `[c, n·l]` → `[n, c, l]`.
fn channels_to_batch(x: &[f32], n: usize, c: usize, l: usize, out: &mut [f32]) {
    out.par_chunks_mut(c * l)
        .enumerate()
        .for_each(|(img, dst)| {
            for ch in 0..c {
                dst[ch * l..][..l].copy_from_slice(&x[ch * n * l + img * l..][..l]);
            }
        });
}

/// `b = conv(a, w)`, `b` of length [`Geometry::b_len`].
pub fn forward(g: &Geometry, a: &[f32], w: &[f32], b: &mut [f32]) {
    let mut col = scratch::take(g.patch() * g.n * g.positions());
    im2col(g, a, &mut col);
    let mut by_channel = scratch::take(g.b_len());
    matmul(
        Mat::new(w, g.cb, g.patch()),
        Mat::new(&col, g.patch(), g.n * g.positions()),
        &mut by_channel,
        false,
    );
    channels_to_batch(&by_channel, g.n, g.cb, g.positions(), b);
}

/// The gradient with respect to `a` given the gradient `db` of `b`: `da = convᵀ(db, w)`.
pub fn backward_data(g: &Geometry, db: &[f32], w: &[f32], da: &mut [f32]) {
    let mut db_by_channel = scratch::take(g.b_len());
    batch_to_channels(db, g.n, g.cb, g.positions(), &mut db_by_channel);
    let mut col = scratch::take(g.patch() * g.n * g.positions());
    matmul(
        Mat::t(w, g.cb, g.patch()),
        Mat::new(&db_by_channel, g.cb, g.n * g.positions()),
        &mut col,
        false,
    );
    col2im(g, &col, da);
}

/// The gradient with respect to the weight: `dw = db · im2col(a)ᵀ`.
pub fn backward_filter(g: &Geometry, a: &[f32], db: &[f32], dw: &mut [f32]) {
    let mut db_by_channel = scratch::take(g.b_len());
    batch_to_channels(db, g.n, g.cb, g.positions(), &mut db_by_channel);
    let mut col = scratch::take(g.patch() * g.n * g.positions());
    im2col(g, a, &mut col);
    matmul(
        Mat::new(&db_by_channel, g.cb, g.n * g.positions()),
        Mat::t(&col, g.patch(), g.n * g.positions()),
        dw,
        false,
    );
}
