//! The sub-pixel form of a stride-2 transposed convolution, an optional optimisation pass.
//!
//! `ConvTranspose(k=4, s=2, p=1)` writes output pixel `(2m + a, 2n + b)` from a 2×2
//! neighbourhood of input pixels that depends only on the phase `(a, b)`:
//! rows `m − 1, m` with kernel rows `3, 1` when `a = 0`, rows `m, m + 1` with kernel rows
//! `2, 0` when `a = 1` (likewise for columns). So it equals four ordinary 2×2 convolutions, one
//! per phase, padded `[1 − a, 1 − b, a, b]`, concatenated phase-major and interleaved by
//! `DepthToSpace(blocksize 2, DCR)` — the same multiply-adds, but as matrix products that every
//! runtime parallelises well instead of tract's single-threaded scatter. The exporter's
//! self-check and the onnxruntime tests prove the rewrite computes the same function.

use gan_models::weights::Tensor;
use gan_models::{Conv, Layer};

use crate::builder::{GraphBuilder, attr_int, attr_ints, attr_string};
use crate::onnx::AttributeProto;

/// Whether [`lower`] applies to this convolution: a transposed one with k = 4, s = 2, p = 1.
pub fn applies(conv: &Conv) -> bool {
    conv.transposed && (conv.kernel, conv.stride, conv.padding) == (4, 2, 1)
}

/// Whether [`lower`] applies to this layer.
pub fn applies_to(layer: &Layer) -> bool {
    matches!(layer, Layer::Conv(conv) if applies(conv))
}

/// Kernel row (or column) of the transposed convolution used by phase `a` at tap `u`.
fn tap(a: usize, u: usize) -> usize {
    3 - 2 * u - a
}

/// The 2×2 convolution weight `[out, in, 2, 2]` of phase `(a, b)` from a transposed
/// convolution weight `[in, out, 4, 4]`.
fn phase_weight(weight: &Tensor, a: usize, b: usize) -> Vec<f32> {
    let (cin, cout) = (weight.shape[0], weight.shape[1]);
    let mut k = vec![0f32; cout * cin * 4];
    for o in 0..cout {
        for c in 0..cin {
            for u in 0..2 {
                for v in 0..2 {
                    k[((o * cin + c) * 2 + u) * 2 + v] =
                        weight.values[((c * cout + o) * 4 + tap(a, u)) * 4 + tap(b, v)];
                }
            }
        }
    }
    k
}

/// Emit the sub-pixel form of `ConvTranspose(weight [in, out, 4, 4], bias, k4 s2 p1)`.
pub fn lower(
    graph: &mut GraphBuilder,
    name: &str,
    weight: &Tensor,
    bias: Option<&Tensor>,
    input: &str,
    output: &str,
) {
    let (cin, cout) = (weight.shape[0], weight.shape[1]);
    let bias_name = bias.map(|b| graph.constant_f32(&format!("{name}.bias"), &b.shape, &b.values));
    let mut phases = Vec::with_capacity(4);
    for a in 0..2 {
        for b in 0..2 {
            let k = phase_weight(weight, a, b);
            let phase = format!("{name}.phase{a}{b}");
            let w = graph.constant_f32(&format!("{phase}.weight"), &[cout, cin, 2, 2], &k);
            let out = graph.fresh(&phase);
            let mut inputs = vec![input, w.as_str()];
            if let Some(b) = &bias_name {
                inputs.push(b);
            }
            let pads = [1 - a, 1 - b, a, b].map(|p| p as i64);
            let attrs: Vec<AttributeProto> = vec![
                attr_ints("kernel_shape", &[2, 2]),
                attr_ints("strides", &[1, 1]),
                attr_ints("pads", &pads),
                attr_ints("dilations", &[1, 1]),
                attr_int("group", 1),
            ];
            graph.node("Conv", &phase, &inputs, &out, attrs);
            phases.push(out);
        }
    }
    let stacked = graph.fresh(&format!("{name}.phases"));
    let refs: Vec<&str> = phases.iter().map(String::as_str).collect();
    graph.node(
        "Concat",
        &format!("{name}.concat"),
        &refs,
        &stacked,
        vec![attr_int("axis", 1)],
    );
    graph.node(
        "DepthToSpace",
        &format!("{name}.interleave"),
        &[&stacked],
        output,
        vec![attr_int("blocksize", 2), attr_string("mode", "DCR")],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ConvTranspose(k4, s2, p1) of a 1-channel input computed by its definition: every input
    /// pixel scatters `x · w` onto output `(2i − 1 + ky, 2j − 1 + kx)`.
    fn conv_transpose(x: &[f32], n: usize, w: &[f32]) -> Vec<f32> {
        let m = 2 * n;
        let mut out = vec![0f32; m * m];
        for i in 0..n {
            for j in 0..n {
                for ky in 0..4 {
                    for kx in 0..4 {
                        let (y, z) = ((2 * i + ky) as isize - 1, (2 * j + kx) as isize - 1);
                        if (0..m as isize).contains(&y) && (0..m as isize).contains(&z) {
                            out[y as usize * m + z as usize] += x[i * n + j] * w[ky * 4 + kx];
                        }
                    }
                }
            }
        }
        out
    }

    /// The phase `(a, b)` 2×2 convolution, padded `[1 − a, 1 − b, a, b]`, at input pixel (i, j).
    fn phase_conv(x: &[f32], n: usize, k: &[f32], a: usize, b: usize, i: usize, j: usize) -> f32 {
        let mut sum = 0.0;
        for u in 0..2 {
            for v in 0..2 {
                let (y, z) = (
                    (i + u) as isize - (1 - a) as isize,
                    (j + v) as isize - (1 - b) as isize,
                );
                if (0..n as isize).contains(&y) && (0..n as isize).contains(&z) {
                    sum += x[y as usize * n + z as usize] * k[u * 2 + v];
                }
            }
        }
        sum
    }

    #[test]
    fn four_phase_convolutions_equal_the_transposed_convolution() {
        let n = 3;
        let x: Vec<f32> = (0..n * n).map(|v| v as f32 * 0.5 - 1.0).collect();
        let w = Tensor {
            shape: vec![1, 1, 4, 4],
            values: (0..16).map(|v| (v as f32 - 7.0) * 0.25).collect(),
        };
        let want = conv_transpose(&x, n, &w.values);
        for a in 0..2 {
            for b in 0..2 {
                let k = phase_weight(&w, a, b);
                for i in 0..n {
                    for j in 0..n {
                        let got = phase_conv(&x, n, &k, a, b, i, j);
                        let expected = want[(2 * i + a) * 2 * n + 2 * j + b];
                        assert!(
                            (got - expected).abs() < 1e-5,
                            "phase ({a}, {b}) at ({i}, {j}): {got} vs {expected}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn only_the_transposed_k4_s2_p1_form_is_rewritten() {
        let conv = |kernel, stride, padding, transposed| Conv {
            in_channels: 8,
            out_channels: 4,
            kernel,
            stride,
            padding,
            bias: false,
            transposed,
        };
        assert!(applies(&conv(4, 2, 1, true)));
        assert!(!applies(&conv(4, 1, 0, true)));
        assert!(!applies(&conv(3, 2, 1, true)));
        assert!(!applies(&conv(4, 2, 1, false)));
    }
}
