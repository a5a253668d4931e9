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

use crate::graph::{GraphBuilder, attr_int, attr_ints};
use crate::onnx::AttributeProto;

/// Whether [`lower`] applies to a transposed convolution with these hyper-parameters.
pub fn applies(kernel: usize, stride: usize, padding: usize) -> bool {
    (kernel, stride, padding) == (4, 2, 1)
}

/// Kernel row (or column) of the transposed convolution used by phase `a` at tap `u`.
fn tap(a: usize, u: usize) -> usize {
    3 - 2 * u - a
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
            // Conv weight [out, in, 2, 2] for this phase.
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
    let mode = AttributeProto {
        name: "mode".into(),
        r#type: crate::onnx::attribute_type::STRING,
        s: b"DCR".to_vec(),
        ..Default::default()
    };
    graph.node(
        "DepthToSpace",
        &format!("{name}.interleave"),
        &[&stacked],
        output,
        vec![attr_int("blocksize", 2), mode],
    );
}
