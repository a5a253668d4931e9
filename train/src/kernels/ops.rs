//! The kernels as candle custom ops, so autograd runs them: each op's backward computes its
//! input gradients directly (and skips those of inputs nothing depends on, such as the data
//! batch or a detached fake batch, which candle would otherwise compute).

use std::sync::{Arc, Mutex};

use candle_core::{
    CpuStorage, CustomOp1, CustomOp3, Device, Layout, Result, Shape, Storage, Tensor, bail,
};

use rayon::prelude::*;

use super::conv::{self, Geometry};
use super::gemm::{Mat, matmul};
use super::norm::{self, BatchStats, Dims};
use super::upsample;

fn slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("the fast kernels need contiguous tensors"),
    }
}

/// Run `f` on the f32 values of `t` (made contiguous first).
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(cpu) => f(slice(cpu, layout)?),
        _ => bail!("the fast kernels run on the CPU only"),
    }
}

/// Below this many elements one thread fills a buffer faster than the pool starts.
const PARALLEL_FILL_MIN: usize = 1 << 16;

/// A zero-filled output buffer, written on every thread when large. `vec![0.0; n]` zero-fills
/// (and faults in) each output on the calling thread: a few percent of a 2-thread DCGAN step
/// that stays the same with 16 threads while the rest shrinks.
fn zeroed(len: usize) -> Vec<f32> {
    if len < PARALLEL_FILL_MIN {
        return vec![0.0; len];
    }
    let mut values = Vec::with_capacity(len);
    values.par_extend(rayon::iter::repeat_n(0f32, len));
    values
}

fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> Result<Tensor> {
    Tensor::from_vec(values, shape, &Device::Cpu)
}

fn dims4(layout: &Layout) -> Result<[usize; 4]> {
    match layout.dims() {
        &[a, b, c, d] => Ok([a, b, c, d]),
        other => bail!("expected a 4-D tensor, got shape {other:?}"),
    }
}

/// `y[img, ch] += bias[ch]` for NCHW `y` (a bias of zeros when the layer has none).
fn add_bias(y: &mut [f32], n: usize, c: usize, bias: &[f32]) {
    if bias.iter().any(|&b| b != 0.0) {
        norm::add_channel_bias(
            Dims {
                n,
                c,
                l: y.len() / (n * c).max(1),
            },
            bias,
            y,
        );
    }
}

/// The bias gradient (per-channel sums of `dy`), if the bias is trained.
fn bias_grad(bias: &Tensor, dy: &Tensor, n: usize, c: usize) -> Result<Option<Tensor>> {
    if !bias.track_op() {
        return Ok(None);
    }
    with_values(dy, |dy| {
        let d = Dims {
            n,
            c,
            l: dy.len() / (n * c).max(1),
        };
        tensor(norm::channel_sums(d, dy), c).map(Some)
    })
}

/// `Conv2d(x, w) + bias` (`w` `[out, in, k, k]`) or, when `transposed`,
/// `ConvTranspose2d(x, w) + bias` (`w` `[in, out, k, k]`, no output padding). A transposed
/// convolution is the adjoint of the convolution from its output shape to its input shape with
/// the same weight, so the one [`Geometry`] and its kernels serve both.
pub struct Convolution {
    pub stride: usize,
    pub pad: usize,
    pub transposed: bool,
}

impl Convolution {
    fn geometry(&self, x: [usize; 4], w: [usize; 4]) -> Result<Geometry> {
        let [n, c, h, wi] = x;
        let k = w[2];
        if w[2] != w[3] || c != if self.transposed { w[0] } else { w[1] } {
            bail!("convolution: input {x:?} does not fit weight {w:?}");
        }
        if !self.transposed {
            return Geometry::conv(x, w[0], k, self.stride, self.pad).ok_or_else(|| {
                candle_core::Error::Msg(format!("conv2d: kernel larger than input {x:?}"))
            });
        }
        let out = |s: usize| ((s - 1) * self.stride + k).checked_sub(2 * self.pad);
        let (Some(ho), Some(wo)) = (out(h), out(wi)) else {
            bail!("conv_transpose2d: padding {} too large for {x:?}", self.pad);
        };
        match Geometry::conv([n, w[1], ho, wo], c, k, self.stride, self.pad) {
            Some(g) if (g.hb, g.wb) == (h, wi) => Ok(g),
            _ => bail!("conv_transpose2d: no output shape maps back to {x:?}"),
        }
    }

    /// Channels of the output (where the bias is added).
    fn out_channels(&self, g: &Geometry) -> usize {
        if self.transposed { g.ca } else { g.cb }
    }
}

impl CustomOp3 for Convolution {
    fn name(&self) -> &'static str {
        if self.transposed {
            "fast-conv-transpose2d"
        } else {
            "fast-conv2d"
        }
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = self.geometry(dims4(xl)?, dims4(wl)?)?;
        let (x, w) = (slice(xs, xl)?, slice(ws, wl)?);
        let (mut y, shape) = if self.transposed {
            let mut y = zeroed(g.a_len());
            conv::backward_data(&g, x, w, &mut y);
            (y, (g.n, g.ca, g.ha, g.wa))
        } else {
            let mut y = zeroed(g.b_len());
            conv::forward(&g, x, w, &mut y);
            (y, (g.n, g.cb, g.hb, g.wb))
        };
        add_bias(&mut y, g.n, self.out_channels(&g), slice(bs, bl)?);
        Ok((CpuStorage::F32(y), Shape::from(shape)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let xd: [usize; 4] = x.dims4()?.into();
        let wd: [usize; 4] = w.dims4()?.into();
        let g = self.geometry(xd, wd)?;
        let mut dx = x.track_op().then(|| zeroed(x.elem_count()));
        let mut dw = w.track_op().then(|| zeroed(g.w_len()));
        with_values(dy, |dyv| {
            with_values(w, |wv| {
                with_values(x, |xv| {
                    if self.transposed {
                        // The output gradient is the convolution's input: one im2col serves
                        // both gradients.
                        conv::forward_and_filter(
                            &g,
                            dyv,
                            dx.as_deref_mut().map(|dx| (wv, dx)),
                            dw.as_deref_mut().map(|dw| (xv, dw)),
                        );
                    } else {
                        if let Some(dx) = dx.as_deref_mut() {
                            conv::backward_data(&g, dyv, wv, dx);
                        }
                        if let Some(dw) = dw.as_deref_mut() {
                            conv::backward_filter(&g, xv, dyv, dw);
                        }
                    }
                    Ok(())
                })
            })
        })?;
        Ok((
            dx.map(|v| tensor(v, xd.to_vec())).transpose()?,
            dw.map(|v| tensor(v, wd.to_vec())).transpose()?,
            bias_grad(bias, dy, g.n, self.out_channels(&g))?,
        ))
    }
}

/// `x · wᵀ + bias` for `x` `[n, in]` and `w` `[out, in]`: the product and the bias in one pass,
/// and in the backward pass two products (the input gradient only when something needs it) and
/// the bias sums, with no transposed copies or broadcast tensors.
pub struct Linear;

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "fast-linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (&[n, inputs], &[outputs, w_inputs]) = (xl.dims(), wl.dims()) else {
            bail!(
                "linear: expected [n, in] and [out, in], got {:?} and {:?}",
                xl.dims(),
                wl.dims()
            );
        };
        if inputs != w_inputs {
            bail!(
                "linear: input {:?} does not fit weight {:?}",
                xl.dims(),
                wl.dims()
            );
        }
        let (x, w, bias) = (slice(xs, xl)?, slice(ws, wl)?, slice(bs, bl)?);
        let mut y = zeroed(n * outputs);
        super::profile::timed("linear", || {
            matmul(
                Mat::new(x, n, inputs),
                Mat::t(w, outputs, inputs),
                &mut y,
                false,
                true,
            );
        });
        if bias.iter().any(|&b| b != 0.0) {
            for row in y.chunks_exact_mut(outputs) {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((n, outputs))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let ((n, inputs), outputs) = (x.dims2()?, w.dim(0)?);
        let (dx, dw) = with_values(dy, |dyv| {
            super::profile::timed("linear_backward", || {
                let dx = x.track_op().then(|| {
                    with_values(w, |wv| {
                        let mut dx = zeroed(n * inputs);
                        let (dy, w) = (Mat::new(dyv, n, outputs), Mat::new(wv, outputs, inputs));
                        matmul(dy, w, &mut dx, false, true);
                        tensor(dx, (n, inputs))
                    })
                });
                let dw = w.track_op().then(|| {
                    with_values(x, |xv| {
                        let mut dw = zeroed(outputs * inputs);
                        let (dy_t, x) = (Mat::t(dyv, n, outputs), Mat::new(xv, n, inputs));
                        matmul(dy_t, x, &mut dw, false, true);
                        tensor(dw, (outputs, inputs))
                    })
                });
                Ok((dx.transpose()?, dw.transpose()?))
            })
        })?;
        let db = if bias.track_op() {
            let column_sums = with_values(dy, |dyv| {
                let mut sums = vec![0f32; outputs];
                for row in dyv.chunks_exact(outputs) {
                    sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                }
                Ok(sums)
            })?;
            Some(tensor(column_sums, outputs)?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

/// Training-mode BatchNorm over N, H, W followed by `z ↦ z > 0 ? z : slope·z` (ReLU: 0,
/// LeakyReLU: its slope, none: 1), on `(x, γ, β)`. The batch statistics are shared with the
/// caller (running averages) and kept for the backward pass.
pub struct BatchNormAct {
    pub eps: f64,
    pub slope: f32,
    pub stats: Arc<Mutex<BatchStats>>,
}

fn nchw(layout: &Layout) -> Result<Dims> {
    let d = layout.dims();
    if d.len() < 2 {
        bail!("batch norm needs [N, C, ...], got {d:?}");
    }
    Ok(Dims {
        n: d[0],
        c: d[1],
        l: d[2..].iter().product(),
    })
}

impl CustomOp3 for BatchNormAct {
    fn name(&self) -> &'static str {
        "fast-batch-norm-act"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = nchw(xl)?;
        let mut y = zeroed(d.n * d.c * d.l);
        let (x, gamma, beta) = (slice(xs, xl)?, slice(gs, gl)?, slice(bs, bl)?);
        let stats = super::profile::timed("batch_norm", || {
            norm::forward(d, x, gamma, beta, self.eps, self.slope, &mut y)
        });
        *self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = stats;
        Ok((CpuStorage::F32(y), xl.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c) = (x.dim(0)?, x.dim(1)?);
        let d = Dims {
            n,
            c,
            l: x.elem_count() / (n * c).max(1),
        };
        let stats = self
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        with_values(x, |xv| {
            with_values(y, |yv| {
                with_values(dy, |dyv| {
                    with_values(gamma, |gv| {
                        let mut dx = zeroed(xv.len());
                        let (dgamma, dbeta) = super::profile::timed("batch_norm_backward", || {
                            norm::backward(d, xv, yv, dyv, gv, &stats, self.slope, &mut dx)
                        });
                        Ok((
                            Some(tensor(dx, x.dims())?),
                            Some(tensor(dgamma, c)?),
                            Some(tensor(dbeta, c)?),
                        ))
                    })
                })
            })
        })
    }
}

/// `x ↦ x > 0 ? x : slope·x` (ReLU when `slope` is 0).
pub struct Activation {
    pub slope: f32,
}

impl CustomOp1 for Activation {
    fn name(&self) -> &'static str {
        "fast-activation"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(xs, xl)?;
        let mut y = zeroed(x.len());
        norm::activate(x, self.slope, &mut y);
        Ok((CpuStorage::F32(y), xl.shape().clone()))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        with_values(y, |yv| {
            with_values(dy, |dyv| {
                let mut dx = zeroed(yv.len());
                norm::activate_backward(yv, dyv, self.slope, &mut dx);
                tensor(dx, y.dims()).map(Some)
            })
        })
    }
}

/// Nearest-neighbour upsampling of an `[n, c, h, w]` tensor by `factor` (see `upsample.rs`).
pub struct Upsample {
    pub factor: usize,
}

impl CustomOp1 for Upsample {
    fn name(&self) -> &'static str {
        "fast-upsample"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(xs, xl)?;
        let (n, c, h, w) = xl.shape().dims4()?;
        let f = self.factor;
        let mut y = zeroed(x.len() * f * f);
        upsample::forward(x, (h, w), f, &mut y);
        Ok((CpuStorage::F32(y), Shape::from((n, c, h * f, w * f))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = x.dims4()?;
        with_values(dy, |g| {
            let mut dx = zeroed(x.elem_count());
            upsample::backward(g, (h, w), self.factor, &mut dx);
            tensor(dx, x.dims()).map(Some)
        })
    }
}
