//! Convolutions lowered to one matrix product and one data movement each, both single ops on
//! any candle device: a convolution gathers its column matrix ([`Im2Col`]) and multiplies it by
//! the weight; a transposed convolution multiplies first (`[n·h·w, c_in]` by `[c_in, c_out·k·k]`)
//! and sums the product back into the image ([`Col2Im`]). On CUDA this puts the arithmetic in
//! cuBLAS and the movement in one kernel launch each, where candle's own direct
//! `conv_transpose2d` kernel (also the input gradient of its `conv2d`) is slow. The values are
//! computed outside autograd and joined to the graph by one custom op per layer ([`Gradients`]),
//! whose backward pass is the same two lowerings (each direction's input gradient is the other
//! direction) and one more product for the weight.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp3, Layout, Result, Shape, Tensor, bail};

use super::columns::{Col2Im, Im2Col, Window};

/// `conv2d(x, w) + bias` for `x` `[n, c, h, w]` and `w` `[c_out, c, k, k]` (square kernel).
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let y = conv2d_values(&x.detach(), &w.detach(), stride, pad)?;
    let op = Gradients {
        stride,
        pad,
        transposed: false,
    };
    with_bias(&x.apply_op3(w, &y, op)?, bias)
}

/// `conv_transpose2d(x, w) + bias` for `x` `[n, c_in, h, w]` and `w` `[c_in, c_out, k, k]`, no
/// output padding.
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let y = conv_transpose2d_values(&x.detach(), &w.detach(), stride, pad, None)?;
    let op = Gradients {
        stride,
        pad,
        transposed: true,
    };
    with_bias(&x.apply_op3(w, &y, op)?, bias)
}

/// Joins a convolution's output, computed without a graph, to its input and weight for autograd:
/// the forward pass hands the precomputed output through, the backward pass forms both gradients
/// with the same lowered products. One graph node per layer instead of one per reshuffle, which
/// spares candle's backward pass a zero-filled gradient and an addition for every intermediate.
struct Gradients {
    stride: usize,
    pad: usize,
    transposed: bool,
}

/// The precomputed output, as a fresh contiguous tensor.
fn pass_through<S: BackendStorage>(y: &S, layout: &Layout) -> Result<(S, Shape)> {
    if !layout.is_contiguous() || layout.start_offset() != 0 {
        bail!("lowered convolution: the output must be a fresh contiguous tensor");
    }
    Ok((y.try_clone(layout)?, layout.shape().clone()))
}

impl CustomOp3 for Gradients {
    fn name(&self) -> &'static str {
        "lowered-convolution"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        y: &CpuStorage,
        layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        pass_through(y, layout)
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
        y: &CudaStorage,
        layout: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        pass_through(y, layout)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _: &Tensor,
        _: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (s, p) = (self.stride, self.pad);
        let (x, w, dy) = (x.detach(), w.detach(), dy.detach());
        let (_, _, h, width) = x.dims4()?;
        let (_, _, k, _) = w.dims4()?;
        if self.transposed {
            // The input gradient is the convolution of dy; the weight gradient pairs each input
            // position with dy's patch around its image: xᵀ · columns(dy).
            let (c_in, c_out) = (w.dim(0)?, w.dim(1)?);
            let dx = conv2d_values(&dy, &w, s, p)?;
            let rows = channels_last_rows(&x)?;
            let dw = rows.t()?.matmul(&columns(&dy, k, s, p, h, width)?)?;
            Ok((Some(dx), Some(dw.reshape((c_in, c_out, k, k))?), None))
        } else {
            // The input gradient is the transposed convolution of dy (rows and columns no window
            // reached get zero); the weight gradient is dyᵀ · columns(x).
            let (c_out, c_in) = (w.dim(0)?, w.dim(1)?);
            let (h_out, w_out) = (dy.dim(2)?, dy.dim(3)?);
            let dx = conv_transpose2d_values(&dy, &w, s, p, Some((h, width)))?;
            let dw = channels_last_rows(&dy)?
                .t()?
                .matmul(&columns(&x, k, s, p, h_out, w_out)?)?;
            Ok((Some(dx), Some(dw.reshape((c_out, c_in, k, k))?), None))
        }
    }
}

/// `[n, c, h, w]` as the matrix `[n·h·w, c]`.
fn channels_last_rows(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    x.permute((0, 2, 3, 1))?.reshape((n * h * w, c))
}

/// The output side of a convolution: `(size + 2·pad − k) / stride + 1`.
fn conv_out(size: usize, k: usize, stride: usize, pad: usize) -> Result<usize> {
    match (size + 2 * pad).checked_sub(k) {
        Some(room) => Ok(room / stride + 1),
        None => bail!("conv2d: a {k}×{k} kernel does not fit an input side of {size}"),
    }
}

/// The column matrix of a convolution over `x` `[n, c, h, w]`: `[n·h_out·w_out, c·k·k]`, row
/// (image, output position), column `c·k·k + kh·k + kw` (the weight's own order).
fn columns(
    x: &Tensor,
    k: usize,
    stride: usize,
    pad: usize,
    h_out: usize,
    w_out: usize,
) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let window = Window {
        n,
        c,
        h,
        w,
        k,
        stride,
        pad,
        h_out,
        w_out,
    };
    x.contiguous()?.apply_op1_no_bwd(&Im2Col(window))
}

/// The convolution's output `[n, c_out, h_out, w_out]`, without bias.
fn conv2d_values(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> Result<Tensor> {
    let (n, c, h, width) = x.dims4()?;
    let (c_out, _, k, _) = w.dims4()?;
    let (h_out, w_out) = (
        conv_out(h, k, stride, pad)?,
        conv_out(width, k, stride, pad)?,
    );
    let weight = w.reshape((c_out, c * k * k))?.t()?;
    if (h, width, h_out, w_out, pad) == (k, k, 1, 1, 0) {
        // The kernel covers the whole input (DCGAN's last layer): one dense layer.
        let y = x.reshape((n, c * k * k))?.matmul(&weight)?;
        return y.reshape((n, c_out, 1, 1));
    }
    let y = columns(x, k, stride, pad, h_out, w_out)?.matmul(&weight)?;
    y.reshape((n, h_out, w_out, c_out))?
        .permute((0, 3, 1, 2))?
        .contiguous()
}

/// The transposed convolution's output `[n, c_out, h_out, w_out]`, without bias. The output
/// side is `(h − 1)·stride + k − 2·pad` unless `size` asks for more (output padding: the input
/// gradient of a convolution whose windows left the last rows unread).
fn conv_transpose2d_values(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    pad: usize,
    size: Option<(usize, usize)>,
) -> Result<Tensor> {
    let (n, c_in, h, width) = x.dims4()?;
    let (_, c_out, k, _) = w.dims4()?;
    let out = |side: usize| match ((side - 1) * stride + k).checked_sub(2 * pad) {
        Some(o) if o > 0 => Ok(o),
        _ => bail!("conv_transpose2d: padding {pad} leaves no output"),
    };
    let (h_out, w_out) = match size {
        Some(size) => size,
        None => (out(h)?, out(width)?),
    };
    if (h, width, pad, h_out, w_out) == (1, 1, 0, k, k) {
        // One input position (DCGAN's first layer): one dense layer.
        let y = x
            .reshape((n, c_in))?
            .matmul(&w.reshape((c_in, c_out * k * k))?)?;
        return y.reshape((n, c_out, k, k));
    }
    let columns = channels_last_rows(x)?.matmul(&w.reshape((c_in, c_out * k * k))?)?;
    let window = Window {
        n,
        c: c_out,
        h: h_out,
        w: w_out,
        k,
        stride,
        pad,
        h_out: h,
        w_out: width,
    };
    columns.apply_op1_no_bwd(&Col2Im(window))
}

/// `y` `[n, c, h, w]` plus the per-channel bias.
fn with_bias(y: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?),
        None => Ok(y.clone()),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut state = seed;
        let values: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// Forward and all three gradients against candle's own convolutions, for the DCGAN shapes
    /// (4×4 kernels, stride 2 pad 1; stride 1 pad 0 over a whole input) and odd ones (a kernel
    /// that is not a whole number of strides, stride 3, padding larger than a stride).
    #[test]
    fn lowered_convolutions_match_candles_ops_and_gradients() {
        let cases = [
            // (n, c_in, size, c_out, k, stride, pad)
            (2, 3, 8, 4, 4, 2, 1),
            (2, 5, 4, 1, 4, 1, 0),
            (3, 2, 7, 3, 3, 1, 1),
            (2, 2, 9, 3, 3, 3, 2),
            (2, 4, 1, 3, 4, 1, 0),
            (2, 3, 6, 2, 3, 2, 1),
            (1, 2, 5, 2, 5, 1, 2),
        ];
        for (i, &(n, c_in, size, c_out, k, stride, pad)) in cases.iter().enumerate() {
            for transposed in [false, true] {
                if !transposed && size + 2 * pad < k {
                    continue;
                }
                let x = Var::from_tensor(&random(&[n, c_in, size, size], i as u64)).unwrap();
                let w_shape = if transposed {
                    [c_in, c_out, k, k]
                } else {
                    [c_out, c_in, k, k]
                };
                let w = Var::from_tensor(&random(&w_shape, 10 + i as u64)).unwrap();
                let b = Var::from_tensor(&random(&[c_out], 20 + i as u64)).unwrap();
                let ours = if transposed {
                    conv_transpose2d(&x, &w, Some(&b), stride, pad)
                } else {
                    conv2d(&x, &w, Some(&b), stride, pad)
                }
                .unwrap();
                let theirs = if transposed {
                    x.conv_transpose2d(&w, pad, 0, stride, 1)
                } else {
                    x.conv2d(&w, pad, stride, 1, 1)
                }
                .unwrap()
                .broadcast_add(&b.reshape((1, c_out, 1, 1)).unwrap())
                .unwrap();
                let case = format!("case {i}, transposed {transposed}");
                assert!(max_diff(&ours, &theirs) < 1e-5, "{case}: forward");
                // A weighted sum so every output position has its own gradient.
                let weights = random(ours.dims(), 30 + i as u64);
                let g_ours = (&ours * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let g_theirs = (&theirs * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                for (name, v) in [("input", &x), ("weight", &w), ("bias", &b)] {
                    let (a, b) = (g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
                    assert!(max_diff(a, b) < 1e-4, "{case}: {name} gradient");
                }
            }
        }
    }
}
