//! Convolutions lowered to one matrix product plus tensor reshuffles (padding, strided views,
//! stacking), every step a candle op: they run, and autograd differentiates them, on any candle
//! device. On CUDA this puts the arithmetic in cuBLAS, where candle's own direct
//! `conv_transpose2d` kernel (also the input gradient of its `conv2d`) is slow.
//!
//! Both see an axis in cells of `stride` positions, and a `k`-tap kernel as `⌈k / stride⌉` slabs
//! of `stride` taps (the last one padded with zero taps). A convolution then gathers its column
//! matrix from a handful of strided views of the padded, channels-last input and multiplies it by
//! the weight; a transposed convolution multiplies first (`[n·h·w, c_in]` by
//! `[c_in, c_out·k·k]`) and adds each slab of the product into the output at its cell offset.
//! A handful of large ops, not one per tap: on a GPU their number sets the time.

use candle_core::{Result, Tensor};

/// `conv2d(x, w) + bias` for `x` `[n, c, h, w]` and `w` `[c_out, c, k, k]` (square kernel).
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    pad: usize,
) -> Result<Tensor> {
    let (n, c, h, width) = x.dims4()?;
    let (c_out, _, k, _) = w.dims4()?;
    let out = |size: usize| match (size + 2 * pad).checked_sub(k) {
        Some(room) => Ok(room / stride + 1),
        None => candle_core::bail!("conv2d: a {k}×{k} kernel does not fit a {h}×{width} input"),
    };
    let (h_out, w_out) = (out(h)?, out(width)?);
    let weight = w.reshape((c_out, c * k * k))?.t()?;
    if (h, width, h_out, w_out, pad) == (k, k, 1, 1, 0) {
        // The kernel covers the whole input (DCGAN's last layer): one dense layer.
        let y = x.reshape((n, c * k * k))?.matmul(&weight)?;
        return with_bias(&y.reshape((n, c_out, 1, 1))?, bias);
    }
    let slabs = k.div_ceil(stride);
    let (cells_h, cells_w) = (h_out + slabs - 1, w_out + slabs - 1);
    let xp = x.permute((0, 2, 3, 1))?;
    let xp = span(&xp, 1, pad as isize, stride * cells_h)?;
    let xp = span(&xp, 2, pad as isize, stride * cells_w)?.contiguous()?;
    let grid = xp.reshape((n, cells_h, stride, cells_w, stride, c))?;
    let mut views = Vec::with_capacity(slabs * slabs);
    for sh in 0..slabs {
        for sw in 0..slabs {
            views.push(grid.narrow(1, sh, h_out)?.narrow(3, sw, w_out)?);
        }
    }
    // [sh, sw, n, i, r, j, t, c] → [n, i, j, c, sh, r, sw, t]: tap (s·sh + r, s·sw + t) of
    // channel c, the weight's own order.
    let span_k = slabs * stride;
    let columns = Tensor::stack(&views, 0)?
        .reshape(vec![slabs, slabs, n, h_out, stride, w_out, stride, c])?
        .permute(vec![2, 3, 5, 7, 0, 4, 1, 6])?
        .contiguous()?
        .reshape((n * h_out * w_out, c, span_k, span_k))?
        .narrow(2, 0, k)?
        .narrow(3, 0, k)?
        .reshape((n * h_out * w_out, c * k * k))?;
    let y = columns.matmul(&weight)?.reshape((n, h_out, w_out, c_out))?;
    with_bias(&y.permute((0, 3, 1, 2))?.contiguous()?, bias)
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
    let (n, c_in, h, width) = x.dims4()?;
    let (_, c_out, k, _) = w.dims4()?;
    let out = |size: usize| match ((size - 1) * stride + k).checked_sub(2 * pad) {
        Some(o) if o > 0 => Ok(o),
        _ => candle_core::bail!("conv_transpose2d: padding {pad} leaves no output"),
    };
    let (h_out, w_out) = (out(h)?, out(width)?);
    if (h, width, pad) == (1, 1, 0) {
        // One input position (DCGAN's first layer): one dense layer.
        let y = x
            .reshape((n, c_in))?
            .matmul(&w.reshape((c_in, c_out * k * k))?)?;
        return with_bias(&y.reshape((n, c_out, k, k))?, bias);
    }
    let slabs = k.div_ceil(stride);
    let span_k = slabs * stride;
    let w = w
        .pad_with_zeros(2, 0, span_k - k)?
        .pad_with_zeros(3, 0, span_k - k)?;
    let rows = x.permute((0, 2, 3, 1))?.reshape((n * h * width, c_in))?;
    let columns = rows
        .matmul(&w.reshape((c_in, c_out * span_k * span_k))?)?
        .reshape(vec![n, h, width, c_out, slabs, stride, slabs, stride])?;
    // Input cell i, tap (s·sh + r) lands in uncropped output cell i + sh at phase r.
    let (cells_h, cells_w) = (h + slabs - 1, width + slabs - 1);
    let mut sum: Option<Tensor> = None;
    for sh in 0..slabs {
        for sw in 0..slabs {
            let slab = columns
                .narrow(4, sh, 1)?
                .narrow(6, sw, 1)?
                .reshape((n, h, width, c_out, stride, stride))?;
            let placed = span(
                &span(&slab, 1, sh as isize, cells_h)?,
                2,
                sw as isize,
                cells_w,
            )?;
            sum = Some(match sum {
                Some(s) => (s + placed)?,
                None => placed,
            });
        }
    }
    let Some(sum) = sum else {
        candle_core::bail!("conv_transpose2d: an empty kernel")
    };
    // [n, I, J, c, r, t] → [n, c, I, r, J, t] = [n, c, s·I + r, s·J + t], then crop the padding.
    let y = sum
        .permute(vec![0, 3, 1, 4, 2, 5])?
        .contiguous()?
        .reshape((n, c_out, cells_h * stride, cells_w * stride))?
        .narrow(2, pad, h_out)?
        .narrow(3, pad, w_out)?
        .contiguous()?;
    with_bias(&y, bias)
}

/// `t` along `dim` moved by `offset` and cut to `len`: `out[q] = t[q − offset]`, zero where that
/// index is outside `t`.
fn span(t: &Tensor, dim: usize, offset: isize, len: usize) -> Result<Tensor> {
    let t = if offset >= 0 {
        t.pad_with_zeros(dim, offset as usize, 0)?
    } else {
        let skip = offset.unsigned_abs().min(t.dim(dim)?);
        t.narrow(dim, skip, t.dim(dim)? - skip)?
    };
    let have = t.dim(dim)?;
    if have >= len {
        t.narrow(dim, 0, len)
    } else {
        t.pad_with_zeros(dim, 0, len - have)
    }
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
