//! The adversarial losses on logits — [`Loss`] names each and knows the terms D and G minimise
//! — and the generator's mode-seeking term.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// The adversarial loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Loss {
    /// Non-saturating binary cross-entropy (the classic GAN loss).
    #[default]
    Bce,
    /// Hinge loss as in SAGAN/BigGAN: D minimises E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))],
    /// G minimises −E[D(G(z))].
    Hinge,
}

impl Loss {
    /// What D minimises, from its logits on real and on generated images. `label_smoothing`
    /// (one-sided: real targets become 1 − s) applies to BCE only.
    pub fn discriminator(
        self,
        real: &Tensor,
        fake: &Tensor,
        label_smoothing: f64,
    ) -> candle_core::Result<Tensor> {
        match self {
            Loss::Bce => {
                bce_with_logits(real, 1.0 - label_smoothing)? + bce_with_logits(fake, 0.0)?
            }
            Loss::Hinge => hinge_d(real, fake),
        }
    }

    /// What G minimises, from D's logits on its images.
    pub fn generator(self, fake: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Loss::Bce => bce_with_logits(fake, 1.0),
            Loss::Hinge => hinge_g(fake),
        }
    }
}

/// Mean binary cross-entropy of `logits` against the constant `target`, in the numerically
/// stable form `max(x, 0) − x·t + log(1 + e^(−|x|))`. candle-nn's version takes the sigmoid
/// first and returns NaN once logits reach about ±30.
pub fn bce_with_logits(logits: &Tensor, target: f64) -> candle_core::Result<Tensor> {
    let softplus_neg_abs = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    (logits.relu()? - (logits * target)?)?
        .add(&softplus_neg_abs)?
        .mean_all()
}

/// The discriminator's hinge loss: mean(max(0, 1 − real)) + mean(max(0, 1 + fake)).
pub fn hinge_d(real: &Tensor, fake: &Tensor) -> candle_core::Result<Tensor> {
    let real = (real.neg()? + 1.0)?.relu()?.mean_all()?;
    let fake = (fake + 1.0)?.relu()?.mean_all()?;
    real + fake
}

/// The generator's hinge loss: −mean(fake logits).
pub fn hinge_g(fake: &Tensor) -> candle_core::Result<Tensor> {
    fake.mean_all()?.neg()
}

/// The mode-seeking term of MSGAN (Mao et al. 2019): for the two halves of a batch of images
/// `fake` made from the latents `z` (the halves with the same classes), `1 / (ε + ratio)` where
/// ratio = mean|G(z₁) − G(z₂)| / mean|z₁ − z₂|. Minimising it makes different latents give
/// different images, against a generator that ignores `z`.
pub fn mode_seeking(fake: &Tensor, z: &Tensor) -> candle_core::Result<Tensor> {
    let half = fake.dim(0)? / 2;
    let spread = |t: &Tensor| -> candle_core::Result<Tensor> {
        (t.narrow(0, 0, half)? - t.narrow(0, half, half)?)?
            .abs()?
            .mean_all()
    };
    ((spread(fake)? / spread(z)?)? + 1e-5)?.recip()
}

/// Mean of sigmoid(logits): the discriminator's average probability of "real".
pub fn mean_probability(logits: &Tensor) -> candle_core::Result<f32> {
    candle_nn::ops::sigmoid(logits)?
        .mean_all()?
        .to_scalar::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn hinge_losses_on_hand_computed_logits() {
        let real = Tensor::new(&[2f32, 0.5, -1.0], &Device::Cpu).unwrap();
        let fake = Tensor::new(&[-3f32, 0.0, 1.5], &Device::Cpu).unwrap();
        let value = |t: Tensor| t.to_scalar::<f32>().unwrap();
        // real: max(0, 1 − x) = 0, 0.5, 2 → mean 5/6; fake: max(0, 1 + x) = 0, 1, 2.5 → 7/6.
        let d = value(hinge_d(&real, &fake).unwrap());
        assert!((d - 2.0).abs() < 1e-6, "{d}");
        // G: −mean(−3, 0, 1.5) = 0.5.
        let g = value(hinge_g(&fake).unwrap());
        assert!((g - 0.5).abs() < 1e-6, "{g}");
    }

    #[test]
    fn mode_seeking_is_the_inverse_ratio_of_image_to_latent_spread() {
        // Halves: images [1, 3] vs [0, 0] → mean |Δ| 2; latents [0] vs [4]... per row
        // |Δz| = 4 → ratio 0.5, term 1 / (0.5 + 1e-5).
        let fake = Tensor::new(&[[1f32, 3.0], [0.0, 0.0]], &Device::Cpu).unwrap();
        let z = Tensor::new(&[[0f32], [4.0]], &Device::Cpu).unwrap();
        let term = mode_seeking(&fake, &z).unwrap().to_scalar::<f32>().unwrap();
        assert!((term - 1.0 / (0.5 + 1e-5)).abs() < 1e-3, "{term}");
        // A generator that ignores z: no spread, the term is at its largest.
        let same = Tensor::new(&[[1f32, 3.0], [1.0, 3.0]], &Device::Cpu).unwrap();
        let collapsed = mode_seeking(&same, &z).unwrap().to_scalar::<f32>().unwrap();
        assert!(collapsed > 1e4, "{collapsed}");
    }

    #[test]
    fn stable_at_extreme_logits_and_exact_in_the_middle() {
        let logits = Tensor::new(&[-100f32, -30.0, 0.0, 30.0, 100.0], &Device::Cpu).unwrap();
        let loss = bce_with_logits(&logits, 1.0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // -log σ(x) summed: 100 + 30 + ln 2 + ~0 + ~0, averaged over 5.
        let expected = (100.0 + 30.0 + std::f32::consts::LN_2) / 5.0;
        assert!(loss.is_finite());
        assert!((loss - expected).abs() < 1e-4, "{loss} vs {expected}");
        let zero = Tensor::new(&[0f32], &Device::Cpu).unwrap();
        let half = bce_with_logits(&zero, 0.5)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((half - std::f32::consts::LN_2).abs() < 1e-6);
    }
}
