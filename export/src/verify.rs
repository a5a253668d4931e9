//! The self-check: run an exported file through `gan-runtime` and compare it with a reference
//! forward pass.

use std::path::Path;

use gan_runtime::{Feed, OnnxModel};

use gan_contract::pixels::{OutputRange, chw_to_rgba};

use crate::builder::Batch;
use crate::compile::GraphPlan;
use crate::io::Output;
use crate::{ExportError, Role};

/// Largest accepted self-check difference, relative to the output scale.
pub const TOLERANCE: f32 = 1e-4;

/// One batch the reference runs: the main input (`batch` × per-sample size, row-major) and a
/// conditional network's class per sample.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceInput<'a> {
    /// The main input (a latent, an image), row-major.
    pub values: &'a [f32],
    /// The class of each sample, for a conditional network.
    pub labels: Option<&'a [i64]>,
    /// Samples in the batch.
    pub batch: usize,
}

/// The reference implementation the export is checked against: given a role, where to stop
/// (`None`: the whole network, giving its main output `image`, `logit` or `logits`;
/// `Some(i)`: the output of layer `i`, a tapped value such as `features`), the checkpoint tensor
/// file the graph was compiled from and a batch of inputs, the values computed in eval mode.
pub type Reference<'a> =
    dyn Fn(Role, Option<usize>, &Path, ReferenceInput) -> Result<Vec<f32>, String> + 'a;

/// Run the ONNX file at `path` through `gan-runtime` (as every consumer will) on `feeds` (one
/// per graph input). Returns the outputs in graph order (u8 outputs widened to f32).
pub fn run_onnx(path: &Path, feeds: &[Feed]) -> Result<Vec<Vec<f32>>, ExportError> {
    let fail = |e: gan_runtime::RuntimeError| ExportError::Check {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let model = OnnxModel::open(path, None).map_err(fail)?;
    let all: Vec<usize> = (0..model.signature().outputs.len()).collect();
    let outputs = model.run(feeds, &all).map_err(fail)?;
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
    let per_sample = &plan.inputs[0].dims;
    let input = check_input(plan.role, batch * per_sample.iter().product::<usize>());
    let shape: Vec<usize> = std::iter::once(batch)
        .chain(per_sample.iter().copied())
        .collect();
    // A conditional network is checked on every class in turn (and so on different ones).
    let classes = plan.classes.max(1) as i64;
    let labels: Vec<i64> = (0..batch as i64).map(|i| (i * 7 + 3) % classes).collect();
    let labels = (plan.inputs.len() > 1).then_some(labels.as_slice());
    let label_shape = [batch];
    let mut feeds = vec![Feed::f32(&input, &shape)];
    feeds.extend(labels.map(|values| Feed::I64 {
        values,
        shape: &label_shape,
    }));
    let outputs = run_onnx(file, &feeds)?;
    if outputs.len() != plan.outputs.len() {
        return Err(fail(format!(
            "{} outputs, expected {}",
            outputs.len(),
            plan.outputs.len()
        )));
    }
    let reference_of = |stop: Option<usize>| {
        let batch_input = ReferenceInput {
            values: &input,
            labels,
            batch,
        };
        reference(plan.role, stop, &plan.weights, batch_input)
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
