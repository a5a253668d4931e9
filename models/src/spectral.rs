//! Spectral normalisation (Miyato et al. 2018): a layer's weight is used divided by its largest
//! singular value σ, estimated by power iteration, which bounds the layer's Lipschitz constant
//! and keeps a discriminator from sharpening without limit.
//!
//! The description here is what training and export agree on. A normalised layer has one more
//! tensor, `layers.{i}.weight_u` ([`crate::ParamRole::SpectralU`]): the power iteration's left
//! singular vector, as long as the layer has output channels. With `u` held fixed,
//! σ = ‖Wᵀu‖ (the largest singular value once `u` has converged); training uses W/σ in every
//! forward pass and advances `u` once per step, and the exporter folds W/σ into the weight, so an
//! exported graph has no trace of it.

use serde::{Deserialize, Serialize};

use crate::{Layer, Role};

/// Which networks of a GAN are spectrally normalised (`--spectral-norm d|g|both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum SpectralNorm {
    /// Neither network.
    #[default]
    Off,
    /// The discriminator, whose BatchNorm layers it replaces (as in SNGAN).
    D,
    /// The generator.
    G,
    /// Both networks.
    Both,
}

impl SpectralNorm {
    pub fn is_off(&self) -> bool {
        *self == SpectralNorm::Off
    }

    /// Whether the network playing `role` is normalised.
    pub fn applies_to(self, role: Role) -> bool {
        matches!(
            (self, role),
            (SpectralNorm::D | SpectralNorm::Both, Role::Discriminator)
                | (SpectralNorm::G | SpectralNorm::Both, Role::Generator)
        )
    }
}

/// A weight seen as `[outer, rows, inner]` with `rows` its output channels: the matrix whose
/// singular value is taken has `rows` rows and `outer · inner` columns (PyTorch's choice: output
/// channels are axis 0 of Linear and Conv2d weights, axis 1 of a ConvTranspose2d's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixView {
    pub outer: usize,
    pub rows: usize,
    pub inner: usize,
}

impl Layer {
    /// How this layer's weight is seen by spectral normalisation; `None` for a layer without a
    /// weight matrix.
    pub fn matrix_view(&self) -> Option<MatrixView> {
        match *self {
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => Some(MatrixView {
                outer: 1,
                rows: out_features,
                inner: in_features,
            }),
            Layer::Conv(conv) if conv.transposed => Some(MatrixView {
                outer: conv.in_channels,
                rows: conv.out_channels,
                inner: conv.kernel * conv.kernel,
            }),
            Layer::Conv(conv) => Some(MatrixView {
                outer: 1,
                rows: conv.out_channels,
                inner: conv.in_channels * conv.kernel * conv.kernel,
            }),
            // The excitation gate's convolutions are never normalised (FastGAN's generator
            // has no spectral normalisation here).
            Layer::BatchNorm2d { .. }
            | Layer::Activation(_)
            | Layer::Reshape { .. }
            | Layer::Upsample { .. }
            | Layer::Glu
            | Layer::Excite(_) => None,
        }
    }
}

/// σ = ‖Wᵀu‖ for a weight laid out as `view` (in f64, for the exporter's fold).
pub fn sigma(weight: &[f32], view: MatrixView, u: &[f32]) -> f64 {
    let MatrixView { outer, rows, inner } = view;
    assert!(weight.len() == outer * rows * inner && u.len() == rows);
    let mut column = vec![0f64; inner];
    let mut sum_sq = 0.0;
    for block in weight.chunks_exact(rows * inner) {
        column.fill(0.0);
        for (row, &ur) in block.chunks_exact(inner).zip(u) {
            for (c, &w) in column.iter_mut().zip(row) {
                *c += f64::from(ur) * f64::from(w);
            }
        }
        sum_sq += column.iter().map(|c| c * c).sum::<f64>();
    }
    sum_sq.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_of_a_diagonal_matrix_along_its_top_direction_is_its_top_value() {
        // W = diag(3, 1) as a Linear weight [2, 2]; u = e₁ gives ‖Wᵀu‖ = 3.
        let view = Layer::Linear {
            in_features: 2,
            out_features: 2,
            bias: false,
        }
        .matrix_view()
        .unwrap();
        assert_eq!(sigma(&[3.0, 0.0, 0.0, 1.0], view, &[1.0, 0.0]), 3.0);
        assert_eq!(sigma(&[3.0, 0.0, 0.0, 1.0], view, &[0.0, 1.0]), 1.0);
    }

    #[test]
    fn a_transposed_convolution_is_seen_with_its_output_channels_as_rows() {
        let layer = Layer::Conv(crate::Conv {
            in_channels: 2,
            out_channels: 3,
            kernel: 4,
            stride: 2,
            padding: 1,
            bias: false,
            transposed: true,
        });
        let view = layer.matrix_view().unwrap();
        assert_eq!((view.outer, view.rows, view.inner), (2, 3, 16));
        // Only output channel 1 is non-zero (value 2 everywhere): σ = 2·√(2·16).
        let mut weight = vec![0f32; 2 * 3 * 16];
        for i in 0..2 {
            weight[i * 48 + 16..i * 48 + 32].fill(2.0);
        }
        let s = sigma(&weight, view, &[0.0, 1.0, 0.0]);
        assert!((s - 2.0 * 32f64.sqrt()).abs() < 1e-12, "{s}");
    }

    #[test]
    fn the_setting_names_its_networks() {
        assert!(SpectralNorm::D.applies_to(Role::Discriminator));
        assert!(!SpectralNorm::D.applies_to(Role::Generator));
        assert!(SpectralNorm::Both.applies_to(Role::Generator));
        assert!(!SpectralNorm::Off.applies_to(Role::Discriminator));
        let json = serde_json::to_string(&SpectralNorm::Both).unwrap();
        assert_eq!(json, r#""both""#);
    }
}
