//! Spectral-norm folding, always on: a spectrally normalised layer computes with W/σ, σ = ‖Wᵀu‖
//! from the checkpoint's `weight_u` (see `gan_models::spectral`), so the exported weight is W/σ
//! and the graph is the plain layer's (the self-check compares it with training's forward pass).

use std::collections::HashMap;

use gan_models::weights::Tensor;
use gan_models::{Layer, ParamRole};

use crate::ExportError;

/// Divide the layer's weight by its σ and drop its `u`; a layer without `u` is left as it is.
pub fn fold_spectral_norm(
    layer: &Layer,
    params: &mut HashMap<ParamRole, Tensor>,
) -> Result<(), ExportError> {
    let Some(u) = params.remove(&ParamRole::SpectralU) else {
        return Ok(());
    };
    let (Some(view), Some(weight)) = (layer.matrix_view(), params.get_mut(&ParamRole::Weight))
    else {
        return Err(ExportError::Invalid(format!(
            "{} has a spectral-norm vector but no weight matrix",
            layer.name()
        )));
    };
    let sigma = gan_models::spectral::sigma(&weight.values, view, &u.values);
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(ExportError::Invalid(format!(
            "{}: the spectral norm of the weight is {sigma} (a zero or non-finite weight)",
            layer.name()
        )));
    }
    for w in &mut weight.values {
        *w = (f64::from(*w) / sigma) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passes::tensor;

    #[test]
    fn the_weight_is_divided_by_sigma_and_u_dropped() {
        let layer = Layer::Linear {
            in_features: 2,
            out_features: 2,
            bias: true,
        };
        let mut params = HashMap::from([
            (ParamRole::Weight, tensor(&[2, 2], &[3.0, 0.0, 0.0, 1.0])),
            (ParamRole::Bias, tensor(&[2], &[5.0, 6.0])),
            (ParamRole::SpectralU, tensor(&[2], &[1.0, 0.0])),
        ]);
        fold_spectral_norm(&layer, &mut params).unwrap();
        assert_eq!(
            params[&ParamRole::Weight].values,
            [1.0, 0.0, 0.0, 1.0 / 3.0]
        );
        assert_eq!(
            params[&ParamRole::Bias].values,
            [5.0, 6.0],
            "the bias is not scaled"
        );
        assert!(!params.contains_key(&ParamRole::SpectralU));
    }

    #[test]
    fn a_zero_weight_is_an_error_not_a_division_by_zero() {
        let layer = Layer::Linear {
            in_features: 1,
            out_features: 1,
            bias: false,
        };
        let mut params = HashMap::from([
            (ParamRole::Weight, tensor(&[1, 1], &[0.0])),
            (ParamRole::SpectralU, tensor(&[1], &[1.0])),
        ]);
        let err = fold_spectral_norm(&layer, &mut params).unwrap_err();
        assert!(err.to_string().contains("spectral norm"), "{err}");
    }
}
