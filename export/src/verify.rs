//! The self-check: run an exported file with tract and compare it with a reference forward pass.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::{ExportError, Role};

/// The reference implementation the export is checked against: given a role, where to stop
/// (`None`: the whole network, giving its main output `image`, `logit` or `logits`;
/// `Some(i)`: the output of layer `i`, a tapped value such as `features`), the checkpoint folder
/// and a batch of inputs (`batch` × per-sample size, row-major), the values computed in eval mode.
pub type Reference<'a> =
    dyn Fn(Role, Option<usize>, &Path, &[f32], usize) -> Result<Vec<f32>, String> + 'a;

/// Run the ONNX file at `path` with tract on one f32 input of `shape` (batch first). Returns the
/// outputs in graph order (u8 outputs widened to f32).
pub fn run_with_tract(
    path: &Path,
    input: &[f32],
    shape: &[usize],
) -> Result<Vec<Vec<f32>>, ExportError> {
    let fail = |e: TractError| ExportError::Check {
        path: path.to_path_buf(),
        reason: format!("tract: {e:#}"),
    };
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(fail)?;
    let input =
        tract_ndarray::ArrayD::from_shape_vec(shape, input.to_vec()).map_err(|e| fail(e.into()))?;
    let outputs = model.run(tvec!(Tensor::from(input).into())).map_err(fail)?;
    outputs
        .iter()
        .map(|t| {
            let values = match t.datum_type() {
                DatumType::U8 => t
                    .to_plain_array_view::<u8>()
                    .map(|a| a.iter().map(|&v| v as f32).collect()),
                _ => t.cast_to::<f32>().and_then(|c| {
                    c.to_plain_array_view::<f32>()
                        .map(|a| a.iter().copied().collect())
                }),
            };
            values.map_err(fail)
        })
        .collect()
}

/// `max |a − b|` divided by the output scale `max(1, max |b|)`.
pub fn max_relative_difference(actual: &[f32], expected: &[f32]) -> f32 {
    let scale = expected.iter().fold(1f32, |m, v| m.max(v.abs()));
    let diff = actual
        .iter()
        .zip(expected)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    if actual.len() != expected.len() || diff.is_nan() {
        f32::INFINITY
    } else {
        diff / scale
    }
}

/// Deterministic inputs for the check: normal-ish latents for a generator, values in [-1, 1]
/// for a discriminator (a small LCG; nothing else depends on these numbers).
pub fn check_input(role: Role, len: usize) -> Vec<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    };
    (0..len)
        .map(|_| match role {
            // Sum of four uniforms, centred and scaled to unit variance.
            Role::Generator => ((0..4).map(|_| uniform()).sum::<f32>() - 2.0) * 3f32.sqrt(),
            Role::Discriminator | Role::Classifier => 2.0 * uniform() - 1.0,
        })
        .collect()
}
