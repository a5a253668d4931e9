//! The EMA generator (`ema_decay`): a running average of the generator's weights, updated after
//! every generator step. Adversarial training makes the raw weights oscillate; their average
//! samples better, so sample grids and `gan export` use it when a run has one.

use candle_core::Tensor;

use crate::error::Result;
use crate::net::Net;

/// `decay · shadow + (1 − decay) · current`.
pub fn blend(shadow: &Tensor, current: &Tensor, decay: f64) -> candle_core::Result<Tensor> {
    (shadow * decay)? + (current * (1.0 - decay))?
}

/// The decay for the generator's `update`-th update (1-based): the configured decay, but never
/// above `(1 + t) / (10 + t)`. A fixed 0.999 from step 1 keeps most of the random initial weights
/// for thousands of steps (seen as flat grey sample grids at 25 epochs on 1,548 sprites); the
/// warm-up lets the average follow the generator early and reach the full decay later
/// (TensorFlow's `ExponentialMovingAverage(num_updates=…)` rule).
pub fn warmed_decay(decay: f64, update: u64) -> f64 {
    let t = update as f64;
    decay.min((1.0 + t) / (10.0 + t))
}

/// Move `shadow` one step towards `generator`: trainable weights are averaged, BatchNorm's
/// running statistics are copied (they are statistics of the data, not weights to smooth).
pub fn update(shadow: &Net, generator: &Net, decay: f64) -> Result<()> {
    for (s, g) in shadow.params().zip(generator.params()) {
        let current = g.var.as_tensor();
        if g.role.trainable() {
            s.var.set(&blend(s.var.as_tensor(), current, decay)?)?;
        } else {
            s.var.set(current)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_decay_warms_up_to_the_configured_one() {
        assert!((warmed_decay(0.999, 1) - 2.0 / 11.0).abs() < 1e-12);
        assert!((warmed_decay(0.999, 90) - 91.0 / 100.0).abs() < 1e-12);
        assert_eq!(warmed_decay(0.999, 100_000), 0.999);
        // Monotone: the average never forgets faster later than earlier.
        let decays: Vec<f64> = (1..20_000).map(|t| warmed_decay(0.999, t)).collect();
        assert!(decays.windows(2).all(|w| w[0] <= w[1]));
    }

    /// From s₀ towards a constant w, k steps give s_k = w + dᵏ (s₀ − w).
    #[test]
    fn k_steps_towards_a_constant_follow_the_closed_form() {
        let device = Device::Cpu;
        let (s0, w, decay) = (2.0f32, -1.0f32, 0.9);
        let target = Tensor::new(&[w, w], &device).unwrap();
        let mut shadow = Tensor::new(&[s0, s0], &device).unwrap();
        for _ in 0..7 {
            shadow = blend(&shadow, &target, decay).unwrap();
        }
        let want = w + 0.9f32.powi(7) * (s0 - w);
        for v in shadow.to_vec1::<f32>().unwrap() {
            assert!((v - want).abs() < 1e-5, "{v} vs {want}");
        }
    }
}
