//! Rewrites applied while lowering, one per file as tract keeps its optimisations: each computes
//! the same function as the layers it replaces, which the export self-check proves. Each pass
//! owns its matcher (`applies`); this module holds their order and asks them about each layer
//! ([`plan`]), so the lowering only carries out the plan.
//!
//! The order, for a layer at `i`: fold_spectral_norm (always; its weight becomes W/σ), then
//! fold_bn (when on and layer `i + 1` is a BatchNorm it can absorb: both are consumed), then
//! subpixel (when on, the layer is lowered as four convolutions instead of one node).

pub mod fold_bn;
pub mod fold_spectral_norm;
pub mod subpixel;

use gan_models::Layer;

/// Which optional passes run (fold_spectral_norm always does).
#[derive(Debug, Clone, Copy)]
pub struct Passes {
    pub fold_bn: bool,
    pub subpixel: bool,
}

/// What the passes do with layer `i` of `layers`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerPlan {
    /// The BatchNorm after it folds in, with this ε (it consumes layer `i + 1`).
    pub fold_bn: Option<f64>,
    /// It is lowered in sub-pixel form.
    pub subpixel: bool,
}

impl LayerPlan {
    /// Layers this plan consumes.
    pub fn consumed(&self) -> usize {
        if self.fold_bn.is_some() { 2 } else { 1 }
    }
}

/// Ask each pass, in order, about layer `i`.
pub fn plan(layers: &[Layer], i: usize, passes: Passes) -> LayerPlan {
    let layer = &layers[i];
    LayerPlan {
        fold_bn: passes
            .fold_bn
            .then(|| fold_bn::applies(layer, layers.get(i + 1)))
            .flatten(),
        subpixel: passes.subpixel && subpixel::applies_to(layer),
    }
}

/// A checkpoint tensor for the passes' tests.
#[cfg(test)]
fn tensor(shape: &[usize], values: &[f32]) -> gan_models::weights::Tensor {
    gan_models::weights::Tensor {
        shape: shape.to_vec(),
        values: values.to_vec(),
    }
}
