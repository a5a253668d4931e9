use gan_models::{TOY2D_A, TOY2D_B};

use super::Dataset;
use crate::rng::{SeededRng, Stream};

/// `n` points `X = Z·A + b`, `Z ~ N(0, I₂)` (row vector times matrix).
pub fn toy2d_points(n: usize, seed: u64) -> Dataset {
    let z = SeededRng::new(seed, Stream::Toy2dData).normal(2 * n, 0.0, 1.0);
    let values = z
        .chunks_exact(2)
        .flat_map(|z| {
            let (z0, z1) = (z[0] as f64, z[1] as f64);
            [0, 1].map(|j| (z0 * TOY2D_A[0][j] + z1 * TOY2D_A[1][j] + TOY2D_B[j]) as f32)
        })
        .collect();
    Dataset::new(vec![2], values)
}
