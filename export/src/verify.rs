//! The self-check: run an exported file through `gan-runtime` and compare it with a reference
//! forward pass.

use std::path::Path;

use gan_runtime::OnnxModel;

use gan_contract::pixels::{OutputRange, chw_to_rgba};

use crate::builder::Batch;
use crate::compile::GraphPlan;
use crate::io::Output;
use crate::{ExportError, Role};

/// Largest accepted self-check difference, relative to the output scale.
pub const TOLERANCE: f32 = 1e-4;

/// The reference implementation the export is checked against: given a role, where to stop
/// (`None`: the whole network, giving its main output `image`, `logit` or `logits`;
/// `Some(i)`: the output of layer `i`, a tapped value such as `features`), the checkpoint tensor
/// file the graph was compiled from
/// and a batch of inputs (`batch` × per-sample size, row-major), the values computed in eval mode.
pub type Reference<'a> =
    dyn Fn(Role, Option<usize>, &Path, &[f32], usize) -> Result<Vec<f32>, String> + 'a;

/// Run the ONNX file at `path` through `gan-runtime` (as every consumer will) on one f32 input
/// of `shape` (batch first). Returns the outputs in graph order (u8 outputs widened to f32).
pub fn run_onnx(path: &Path, input: &[f32], shape: &[usize]) -> Result<Vec<Vec<f32>>, ExportError> {
    let fail = |e: gan_runtime::RuntimeError| ExportError::Check {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let model = OnnxModel::open(path, None).map_err(fail)?;
    let all: Vec<usize> = (0..model.signature().outputs.len()).collect();
    let outputs = model.run(input, shape, &all).map_err(fail)?;
    Ok(outputs.into_iter().map(|o| o.values).collect())
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

/// Run the file at `file` on [`check_input`] and compare every output with the reference.
/// Returns the largest relative difference.
pub(crate) fn self_check(
    file: &Path,
    plan: &GraphPlan,
    reference: &Reference,
) -> Result<f32, ExportError> {
    let fail = |reason: String| ExportError::Check {
        path: file.to_path_buf(),
        reason,
    };
    let batch = match plan.batch {
        Batch::Dynamic => 3,
        Batch::Fixed(n) => n,
    };
    let per_sample = &plan.input.dims;
    let input = check_input(plan.role, batch * per_sample.iter().product::<usize>());
    let shape: Vec<usize> = std::iter::once(batch)
        .chain(per_sample.iter().copied())
        .collect();
    let outputs = run_onnx(file, &input, &shape)?;
    if outputs.len() != plan.outputs.len() {
        return Err(fail(format!(
            "{} outputs, expected {}",
            outputs.len(),
            plan.outputs.len()
        )));
    }
    let reference_of = |stop: Option<usize>| {
        reference(plan.role, stop, &plan.weights, &input, batch)
            .map_err(|reason| fail(format!("reference forward pass failed: {reason}")))
    };
    let expected = reference_of(None)?;
    let mut worst = 0f32;
    for ((output, _), values) in plan.outputs.iter().zip(&outputs) {
        let diff = match output {
            Output::Image | Output::Logit | Output::Logits => {
                max_relative_difference(values, &expected)
            }
            Output::Features => {
                max_relative_difference(values, &reference_of(plan.features_layer)?)
            }
            Output::Prob => {
                let probs: Vec<f32> = expected.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect();
                max_relative_difference(values, &probs)
            }
            Output::Pixels => {
                let sample_len = plan
                    .outputs
                    .iter()
                    .find(|(o, _)| *o == Output::Image)
                    .map_or(0, |(_, v)| v.dims.iter().product());
                pixels_difference(values, &expected, plan.channels, sample_len)
            }
        };
        if diff.is_nan() || diff > TOLERANCE {
            return Err(fail(format!(
                "output {} differs from the reference by {diff:.3e} (tolerance {TOLERANCE:.0e}); the file was not written",
                output.name()
            )));
        }
        worst = worst.max(diff);
    }
    Ok(worst)
}

/// 0 when the `pixels` output is the pixel rule applied to the reference image, up to one
/// level (a value near a rounding boundary may round the other way by float noise); else ∞.
fn pixels_difference(actual: &[f32], image: &[f32], channels: usize, sample_len: usize) -> f32 {
    // Row-major RGBA per sample is exactly the NHWC layout of `pixels`.
    let want: Vec<u8> = image
        .chunks_exact(sample_len.max(1))
        .flat_map(|sample| chw_to_rgba(sample, channels, OutputRange::MinusOneToOne))
        .collect();
    let off = actual
        .iter()
        .zip(&want)
        .map(|(&a, &b)| (a - f32::from(b)).abs())
        .fold(0f32, f32::max);
    if actual.len() == want.len() && off <= 1.0 {
        0.0
    } else {
        f32::INFINITY
    }
}
