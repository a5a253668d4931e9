//! Latent vectors as a portable function of a seed, so seed 42 gives the same picture on every
//! backend, platform and binding (the C ABI and any port included).
//!
//! The definition, complete enough to reimplement:
//! 1. A SplitMix64 generator whose state starts at the seed; each draw adds
//!    `0x9E3779B97F4A7C15` to the state and mixes it (Vigna's finaliser: xor-shift 30, multiply
//!    `0xBF58476D1CE4E5B9`, xor-shift 27, multiply `0x94D049BB133111EB`, xor-shift 31).
//! 2. Each draw `x` becomes a uniform `u = ((x >> 11) + 1) · 2⁻⁵³` in (0, 1].
//! 3. Box–Muller on consecutive pairs `(u1, u2)`: `r = √(−2 ln u1)`, `θ = 2π u2`, giving
//!    `r cos θ` then `r sin θ`, computed in f64 (with the pure-Rust `libm`, identical on every
//!    platform) and rounded to f32. An odd-sized latent drops the last sine.

/// SplitMix64 (Vigna), the generator behind [`latent_for_seed`].
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose state starts at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64-bit draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn next_unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The standard-normal latent vector of `dim` values for `seed`.
pub fn latent_for_seed(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(dim + 1);
    while out.len() < dim {
        let (u1, u2) = (rng.next_unit(), rng.next_unit());
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let theta = 2.0 * std::f64::consts::PI * u2;
        out.push((r * libm::cos(theta)) as f32);
        out.push((r * libm::sin(theta)) as f32);
    }
    out.truncate(dim);
    out
}

/// The point at `t` ∈ [0, 1] on the great circle from `a` to `b` (spherical interpolation,
/// which keeps Gaussian latents at a typical norm). Nearly parallel ends fall back to a straight
/// line.
pub fn slerp_point(a: &[f32], b: &[f32], t: f64) -> Vec<f32> {
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let cos = (dot / (norm(a) * norm(b)).max(f64::MIN_POSITIVE)).clamp(-1.0, 1.0);
    let omega = libm::acos(cos);
    let (wa, wb) = if libm::sin(omega).abs() < 1e-6 {
        (1.0 - t, t)
    } else {
        let s = libm::sin(omega);
        (libm::sin((1.0 - t) * omega) / s, libm::sin(t * omega) / s)
    };
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (wa * f64::from(x) + wb * f64::from(y)) as f32)
        .collect()
}

/// `steps` latents evenly spaced on the great circle from `a` to `b` ([`slerp_point`]), both
/// ends included.
pub fn slerp(a: &[f32], b: &[f32], steps: usize) -> Vec<Vec<f32>> {
    (0..steps)
        .map(|i| {
            let t = if steps == 1 {
                0.0
            } else {
                i as f64 / (steps - 1) as f64
            };
            slerp_point(a, b, t)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_42_is_pinned() {
        // These values are the cross-platform contract: never change them.
        assert_eq!(
            latent_for_seed(42, 5),
            [0.41471976, 0.65268123, -0.89188623, 1.3268336, 1.729593]
        );
        assert_eq!(
            SplitMix64::new(0).next_u64(),
            0xE220_A839_7B1D_CDAF,
            "SplitMix64 reference value"
        );
    }

    #[test]
    fn latents_look_standard_normal() {
        let z = latent_for_seed(7, 100_001);
        assert_eq!(z.len(), 100_001);
        let mean = z.iter().map(|&x| x as f64).sum::<f64>() / z.len() as f64;
        let var = z.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / z.len() as f64;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "mean {mean} var {var}"
        );
        assert_eq!(
            &latent_for_seed(7, 3)[..],
            &z[..3],
            "a prefix does not depend on the size"
        );
    }

    #[test]
    fn slerp_hits_both_ends_and_keeps_the_norm() {
        let (a, b) = (latent_for_seed(1, 64), latent_for_seed(2, 64));
        let path = slerp(&a, &b, 5);
        assert_eq!(path.len(), 5);
        let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5);
        assert!(close(&path[0], &a) && close(&path[4], &b));
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let (na, nb, nm) = (norm(&a), norm(&b), norm(&path[2]));
        assert!(nm > 0.9 * na.min(nb), "midpoint norm {nm} vs {na}, {nb}");
        assert_eq!(slerp(&a, &a, 3)[1], a, "parallel ends");
    }
}
