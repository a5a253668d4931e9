//! BatchNorm folding, on by default: an eval-mode `BatchNorm2d` after a (transposed) convolution
//! is an affine map per output channel, so it folds into that convolution's weights and bias and
//! the exported graph has no BatchNormalization nodes (faster in every runtime, and the same
//! function: the self-check proves it on every export).

use std::collections::HashMap;

use gan_models::weights::Tensor;
use gan_models::{Layer, ParamRole};

use crate::ExportError;

/// The ε of the BatchNorm2d `next` when it follows the convolution `layer` and so folds into it.
pub fn applies(layer: &Layer, next: Option<&Layer>) -> Option<f64> {
    match (layer, next) {
        (Layer::Conv(_), Some(Layer::BatchNorm2d { eps, .. })) => Some(*eps),
        _ => None,
    }
}

/// Scale the convolution's output channels by γ/√(σ²+ε) and give it the bias β − μ·γ/√(σ²+ε)
/// (plus its own bias, scaled).
/// `transposed`: the convolution is a ConvTranspose2d, whose weight is `[in, out, k, k]`.
pub fn fold_batch_norm(
    transposed: bool,
    conv_params: &mut HashMap<ParamRole, Tensor>,
    bn: &HashMap<ParamRole, Tensor>,
    eps: f64,
) -> Result<(), ExportError> {
    let get = |role: ParamRole| {
        bn.get(&role).map(|t| t.values.as_slice()).ok_or_else(|| {
            ExportError::Invalid(format!("BatchNorm2d lacks its {} tensor", role.suffix()))
        })
    };
    let (gamma, beta, mean, var) = (
        get(ParamRole::Scale)?,
        get(ParamRole::Shift)?,
        get(ParamRole::RunningMean)?,
        get(ParamRole::RunningVar)?,
    );
    let scale: Vec<f64> = gamma
        .iter()
        .zip(var)
        .map(|(&g, &v)| f64::from(g) / (f64::from(v) + eps).sqrt())
        .collect();
    let weight = conv_params
        .get_mut(&ParamRole::Weight)
        .ok_or_else(|| ExportError::Invalid("a convolution lacks its weight".into()))?;
    let shape = weight.shape.clone();
    // Output channels are axis 0 of a Conv weight [out, in, k, k] and axis 1 of a
    // ConvTranspose weight [in, out, k, k].
    let (channels, inner) = if transposed {
        (shape[1], shape[2] * shape[3])
    } else {
        (shape[0], shape[1] * shape[2] * shape[3])
    };
    if scale.len() != channels {
        return Err(ExportError::Invalid(format!(
            "BatchNorm2d has {} channels; the convolution before it has {channels}",
            scale.len()
        )));
    }
    // The weight is `outer` blocks of `channels` runs of `inner` values each.
    for (run, values) in weight.values.chunks_exact_mut(inner).enumerate() {
        let factor = scale[run % channels];
        for w in values {
            *w = (f64::from(*w) * factor) as f32;
        }
    }
    let old_bias = conv_params
        .get(&ParamRole::Bias)
        .map_or_else(|| vec![0.0; channels], |b| b.values.clone());
    let bias = (0..channels)
        .map(|c| {
            ((f64::from(old_bias[c]) - f64::from(mean[c])) * scale[c] + f64::from(beta[c])) as f32
        })
        .collect();
    conv_params.insert(
        ParamRole::Bias,
        Tensor {
            shape: vec![channels],
            values: bias,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::tensor;

    fn batch_norm(
        gamma: &[f32],
        beta: &[f32],
        mean: &[f32],
        var: &[f32],
    ) -> HashMap<ParamRole, Tensor> {
        let n = gamma.len();
        HashMap::from([
            (ParamRole::Scale, tensor(&[n], gamma)),
            (ParamRole::Shift, tensor(&[n], beta)),
            (ParamRole::RunningMean, tensor(&[n], mean)),
            (ParamRole::RunningVar, tensor(&[n], var)),
        ])
    }

    /// A 1×1 convolution with 2 output channels and 1 input channel: y_c = w_c·x (+ b_c), then
    /// BN: (y − μ)·γ/√(σ²+ε) + β. Folded, it must give the same y for any x.
    #[test]
    fn folded_convolution_computes_conv_then_batch_norm() {
        let (w, b) = ([2.0f32, -1.0], [0.5f32, 0.25]);
        let (gamma, beta, mean, var) = (
            [1.5f32, 0.5],
            [0.1f32, -0.2],
            [0.3f32, -0.4],
            [4.0f32, 0.25],
        );
        let eps = 1e-5;
        let mut params = HashMap::from([
            (ParamRole::Weight, tensor(&[2, 1, 1, 1], &w)),
            (ParamRole::Bias, tensor(&[2], &b)),
        ]);
        fold_batch_norm(
            false,
            &mut params,
            &batch_norm(&gamma, &beta, &mean, &var),
            eps,
        )
        .unwrap();
        for x in [-2.0f32, 0.0, 3.0] {
            for c in 0..2 {
                let y = w[c] * x + b[c];
                let want = (y - mean[c]) * gamma[c] / (var[c] + eps as f32).sqrt() + beta[c];
                let got =
                    params[&ParamRole::Weight].values[c] * x + params[&ParamRole::Bias].values[c];
                assert!(
                    (got - want).abs() < 1e-5,
                    "x {x} channel {c}: {got} vs {want}"
                );
            }
        }
    }

    /// A transposed convolution's output channels are axis 1 of its weight `[in, out, k, k]`.
    #[test]
    fn transposed_convolution_scales_axis_one_and_gains_a_bias() {
        // weight[in][out]: [[1, 1], [1, 1]]
        let mut params = HashMap::from([(ParamRole::Weight, tensor(&[2, 2, 1, 1], &[1.0; 4]))]);
        let bn = batch_norm(&[2.0, 3.0], &[1.0, -1.0], &[0.0, 1.0], &[1.0, 1.0]);
        fold_batch_norm(true, &mut params, &bn, 0.0).unwrap();
        assert_eq!(params[&ParamRole::Weight].values, [2.0, 3.0, 2.0, 3.0]);
        assert_eq!(params[&ParamRole::Bias].values, [1.0, -4.0]);
    }

    #[test]
    fn mismatched_channels_are_an_error() {
        let mut params = HashMap::from([(ParamRole::Weight, tensor(&[2, 1, 1, 1], &[1.0, 1.0]))]);
        let bn = batch_norm(&[1.0; 3], &[0.0; 3], &[0.0; 3], &[1.0; 3]);
        assert!(fold_batch_norm(false, &mut params, &bn, 1e-5).is_err());
    }
}
