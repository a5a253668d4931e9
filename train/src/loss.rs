//! The discriminator's loss on logits.

use candle_core::Tensor;

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
