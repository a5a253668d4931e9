//! Convolutions lowered to one matrix product and one data movement each, both single ops on
//! any candle device: a convolution gathers its column matrix ([`im2col`]) and multiplies it by
//! the weight; a transposed convolution multiplies first (`[n·h·w, c_in]` by `[c_in, c_out·k·k]`)
//! and sums the product back into the image ([`col2im`]). On CUDA this puts the arithmetic in
//! cuBLAS and the movement in one kernel launch each, where candle's own direct
//! `conv_transpose2d` kernel (also the input gradient of its `conv2d`) is slow. The values are
//! computed outside autograd and joined to the graph as one node per layer (`joined.rs`),
//! whose backward pass is the same two lowerings (each direction's input gradient is the other
//! direction) and one more product for the weight.

use candle_core::{Result, Tensor, bail};
use gan_models::Conv;

use super::columns::{Geometry, col2im, im2col};
use super::joined::{self, ClosedForm, Grads};

/// `conv2d(x, w) + bias` (`w` `[c_out, c_in, k, k]`) or, when `spec.transposed`,
/// `conv_transpose2d(x, w) + bias` (`w` `[c_in, c_out, k, k]`, no output padding); `bias` is
/// `[c_out]` (zeros for a layer without one: a constant gets no gradient).
pub fn convolution(x: &Tensor, w: &Tensor, bias: &Tensor, spec: &Conv) -> Result<Tensor> {
    let (xd, wd) = (x.detach(), w.detach());
    let y = if spec.transposed {
        conv_transpose2d_values(&xd, &wd, spec, None)?
    } else {
        conv2d_values(&xd, &wd, spec)?
    };
    let channels = bias.dim(0)?;
    let y = y.broadcast_add(&bias.detach().reshape((1, channels, 1, 1))?)?;
    joined::join(x, w, bias, Lowered { y, spec: *spec })
}

/// A lowered convolution's value and the closed form of its gradients: each direction's input
/// gradient is the other direction with the same weight, the weight gradient one more product.
struct Lowered {
    y: Tensor,
    spec: Conv,
}

impl ClosedForm for Lowered {
    fn name(&self) -> &'static str {
        "lowered-convolution"
    }

    fn value(&self) -> &Tensor {
        &self.y
    }

    fn gradients(&self, [x, w, _]: [&Tensor; 3], needed: [bool; 3], dy: &Tensor) -> Result<Grads> {
        let spec = &self.spec;
        let (_, _, h, width) = x.dims4()?;
        let k = w.dim(2)?;
        let dx = match needed[0] {
            false => None,
            true if spec.transposed => Some(conv2d_values(dy, w, spec)?),
            // Rows and columns that no window reached get zero.
            true => Some(conv_transpose2d_values(dy, w, spec, Some((h, width)))?),
        };
        let dw = match needed[1] {
            false => None,
            // Each input position against dy's patch around its image: xᵀ · columns(dy).
            true if spec.transposed => Some(
                channels_last_rows(x)?
                    .t()?
                    .matmul(&im2col(dy, geometry(dy, w.dim(0)?, k, spec)?)?)?
                    .reshape(w.dims())?,
            ),
            // dyᵀ · columns(x).
            true => Some(
                channels_last_rows(dy)?
                    .t()?
                    .matmul(&im2col(x, geometry(x, w.dim(0)?, k, spec)?)?)?
                    .reshape(w.dims())?,
            ),
        };
        let db = match needed[2] {
            false => None,
            true => Some(dy.sum((0, 2, 3))?),
        };
        Ok((dx, dw, db))
    }
}

/// `[n, c, h, w]` as the matrix `[n·h·w, c]`.
fn channels_last_rows(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    x.permute((0, 2, 3, 1))?.reshape((n * h * w, c))
}

/// The geometry of a convolution with `c_out` `k × k` kernels over the images `x`.
fn geometry(x: &Tensor, c_out: usize, k: usize, spec: &Conv) -> Result<Geometry> {
    let dims: [usize; 4] = x.dims4()?.into();
    match Geometry::conv(dims, c_out, k, spec.stride, spec.padding) {
        Some(g) => Ok(g),
        None => bail!("conv2d: a {k}×{k} kernel does not fit an input of {dims:?}"),
    }
}

/// The convolution's output `[n, c_out, h_out, w_out]`, without bias.
fn conv2d_values(x: &Tensor, w: &Tensor, spec: &Conv) -> Result<Tensor> {
    let (c_out, c, k, _) = w.dims4()?;
    let g = geometry(x, c_out, k, spec)?;
    let weight = w.reshape((c_out, c * k * k))?.t()?;
    if (g.ha, g.wa, g.hb, g.wb, g.pad) == (k, k, 1, 1, 0) {
        // The kernel covers the whole input (DCGAN's last layer): one dense layer.
        let y = x.reshape((g.n, c * k * k))?.matmul(&weight)?;
        return y.reshape((g.n, c_out, 1, 1));
    }
    let y = im2col(x, g)?.matmul(&weight)?;
    y.reshape((g.n, g.hb, g.wb, c_out))?
        .permute((0, 3, 1, 2))?
        .contiguous()
}

/// The transposed convolution's output `[n, c_out, h_out, w_out]`, without bias. The output
/// side is `(h − 1)·stride + k − 2·pad` unless `size` asks for more (output padding: the input
/// gradient of a convolution whose windows left the last rows unread).
fn conv_transpose2d_values(
    x: &Tensor,
    w: &Tensor,
    spec: &Conv,
    size: Option<(usize, usize)>,
) -> Result<Tensor> {
    let Conv {
        stride,
        padding: pad,
        ..
    } = *spec;
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
    // The convolution this one is the adjoint of: from the output images back to x's positions.
    let g = Geometry {
        n,
        ca: c_out,
        ha: h_out,
        wa: w_out,
        cb: c_in,
        hb: h,
        wb: width,
        k,
        stride,
        pad,
    };
    col2im(&columns, g)
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
                let spec = Conv {
                    in_channels: c_in,
                    out_channels: c_out,
                    kernel: k,
                    stride,
                    padding: pad,
                    bias: true,
                    transposed,
                };
                let ours = convolution(&x, &w, &b, &spec).unwrap();
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
                // A constant input (a data batch) gets no gradient, and none is computed.
                let data = x.as_detached_tensor();
                let y = convolution(&data, &w, &b, &spec).unwrap();
                let grads = y.sum_all().unwrap().backward().unwrap();
                assert!(
                    grads.get(&data).is_none() && grads.get(&w).is_some(),
                    "{case}"
                );
            }
        }
    }
}
