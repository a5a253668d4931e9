//! Seeded randomness. candle's CPU device cannot be seeded, so every random number the trainer
//! uses (initial weights, noise, shuffling, flips) comes from here: ChaCha8 streams derived from
//! the run's seed, one stream per purpose, so changing one use never shifts another.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The purpose of a random stream; its number is part of the run's reproducibility contract.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    /// Initial weights.
    Init,
    /// The fixed noise batch that sample grids are drawn from.
    FixedNoise,
    /// The toy 2-D data set.
    Toy2dData,
    /// The built-in `shapes` image data set.
    ShapesData,
    /// Training noise: latents, flips, instance noise. Its position is saved in checkpoints.
    Training,
    /// The shuffle of one epoch.
    Shuffle(u64),
    /// The classifier's split into training and validation samples.
    ValidationSplit,
}

impl Stream {
    fn id(self) -> u64 {
        match self {
            Stream::Init => 0,
            Stream::FixedNoise => 1,
            Stream::Toy2dData => 2,
            Stream::Training => 3,
            Stream::ShapesData => 4,
            Stream::ValidationSplit => 5,
            Stream::Shuffle(epoch) => 1_000 + epoch,
        }
    }
}

/// A reproducible random source whose position can be saved and restored.
#[derive(Debug, Clone)]
pub struct SeededRng(ChaCha8Rng);

impl SeededRng {
    pub fn new(seed: u64, stream: Stream) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream.id());
        SeededRng(rng)
    }

    /// Position in the stream (in 32-bit words), for checkpoints.
    pub fn position(&self) -> u128 {
        self.0.get_word_pos()
    }

    pub fn seek(&mut self, position: u128) {
        self.0.set_word_pos(position);
    }

    /// `n` draws from `N(mean, std²)`.
    pub fn normal(&mut self, n: usize, mean: f64, std: f64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let x: f64 = self.0.sample(StandardNormal);
                (mean + std * x) as f32
            })
            .collect()
    }

    /// `n` draws uniform in [0, 1).
    pub fn uniform(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.0.random::<f32>()).collect()
    }

    pub fn coin(&mut self) -> bool {
        self.0.random::<bool>()
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, self.0.random_range(0..=i));
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restoring_the_position_replays_the_stream() {
        let mut a = SeededRng::new(7, Stream::Training);
        a.normal(13, 0.0, 1.0);
        let pos = a.position();
        let next = a.normal(5, 0.0, 1.0);
        let mut b = SeededRng::new(7, Stream::Training);
        b.seek(pos);
        assert_eq!(b.normal(5, 0.0, 1.0), next);
    }

    #[test]
    fn streams_are_independent() {
        let a = SeededRng::new(7, Stream::Init).normal(4, 0.0, 1.0);
        let b = SeededRng::new(7, Stream::Training).normal(4, 0.0, 1.0);
        assert_ne!(a, b);
        let p = SeededRng::new(7, Stream::Shuffle(3)).permutation(50);
        let mut sorted = p.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    }
}
