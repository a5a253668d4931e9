//! The Inception Score, IS = exp(E_x KL(p(y|x) ‖ p(y))), as the original TensorFlow code and
//! torch-fidelity compute it: probabilities in f64, rows shuffled with a fixed seed, split into
//! `splits` consecutive parts (part i is rows `i·N/splits .. (i+1)·N/splits`), one score per
//! part, reported as the mean and the (population) standard deviation over the parts.

use gan_runtime::latent::SplitMix64;

use crate::{EvalError, Result};

/// Seed of the fixed shuffle before splitting.
pub const SHUFFLE_SEED: u64 = 0;

#[derive(Debug, Clone, PartialEq)]
pub struct InceptionScore {
    pub mean: f64,
    pub std: f64,
    /// The score of each split.
    pub per_split: Vec<f64>,
}

/// Class probabilities in f64 from `n` rows of `k` classifier outputs: a softmax of each row,
/// unless every row already is a distribution (non-negative, summing to 1 within 1e-3).
pub fn probabilities(rows: &[f32], k: usize) -> Vec<f64> {
    let is_distribution = rows.chunks_exact(k).all(|row| {
        row.iter().all(|&p| p >= 0.0)
            && (row.iter().map(|&p| p as f64).sum::<f64>() - 1.0).abs() < 1e-3
    });
    if is_distribution {
        return rows.iter().map(|&p| p as f64).collect();
    }
    rows.chunks_exact(k)
        .flat_map(|row| {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
            let exps: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            exps.into_iter().map(move |e| e / sum)
        })
        .collect()
}

/// The fixed permutation of `n` rows applied before splitting (Fisher–Yates driven by
/// `gan-runtime`'s SplitMix64 from [`SHUFFLE_SEED`]).
pub fn shuffle_order(n: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(SHUFFLE_SEED);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order
}

/// `n` rows of `k` values (`n · k` in all) in the fixed split order of [`shuffle_order`].
pub fn in_split_order(rows: &[f32], k: usize) -> Vec<f32> {
    let n = rows.len() / k.max(1);
    shuffle_order(n)
        .iter()
        .flat_map(|&i| rows[i * k..(i + 1) * k].iter().copied())
        .collect()
}

/// The Inception Score of `probs` (`n` rows of `k` probabilities, already in split order).
/// Needs at least 10 rows per split.
pub fn inception_score(probs: &[f64], k: usize, splits: usize) -> Result<InceptionScore> {
    let n = probs.len() / k.max(1);
    if k == 0 || splits == 0 {
        return Err(EvalError::Invalid(
            "need at least one class and one split".into(),
        ));
    }
    if n < 10 * splits {
        return Err(EvalError::Invalid(format!(
            "{n} samples is too few for {splits} splits: the Inception Score needs at least 10 per split ({}); use more samples or fewer splits",
            10 * splits
        )));
    }
    let per_split: Vec<f64> = (0..splits)
        .map(|i| split_score(&probs[(i * n / splits) * k..((i + 1) * n / splits) * k], k))
        .collect();
    let mean = per_split.iter().sum::<f64>() / splits as f64;
    let var = per_split.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / splits as f64;
    Ok(InceptionScore {
        mean,
        std: var.sqrt(),
        per_split,
    })
}

fn split_score(part: &[f64], k: usize) -> f64 {
    let rows = part.len() / k;
    let mut marginal = vec![0f64; k];
    for row in part.chunks_exact(k) {
        for (m, p) in marginal.iter_mut().zip(row) {
            *m += p;
        }
    }
    marginal.iter_mut().for_each(|m| *m /= rows as f64);
    let kl: f64 = part
        .chunks_exact(k)
        .map(|row| {
            row.iter()
                .zip(&marginal)
                .filter(|(p, _)| **p > 0.0)
                .map(|(p, m)| p * (p.ln() - m.ln()))
                .sum::<f64>()
        })
        .sum();
    (kl / rows as f64).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_classifier_scores_one() {
        let logits = vec![0.25f32; 200 * 7];
        let probs = probabilities(&logits, 7);
        assert!((probs[3] - 1.0 / 7.0).abs() < 1e-15);
        let score = inception_score(&probs, 7, 10).unwrap();
        assert!((score.mean - 1.0).abs() < 1e-12, "{score:?}");
        assert!(score.std < 1e-12);
    }

    #[test]
    fn even_one_hot_predictions_over_k_classes_score_k() {
        let k = 5;
        // 10 splits of 50 rows, each split holding 10 rows of every class.
        let probs: Vec<f64> = (0..500)
            .flat_map(|i| (0..k).map(move |c| if i % k == c { 1.0 } else { 0.0 }))
            .collect();
        let score = inception_score(&probs, k, 10).unwrap();
        assert!((score.mean - k as f64).abs() < 1e-12, "{score:?}");
        // Already distributions: no softmax.
        let as_f32: Vec<f32> = probs.iter().map(|&p| p as f32).collect();
        assert_eq!(probabilities(&as_f32, k), probs);
    }

    #[test]
    fn softmax_is_stable_for_large_logits() {
        let probs = probabilities(&[1000.0, 0.0, -1000.0], 3);
        assert_eq!(probs, vec![1.0, 0.0, 0.0]);
    }

    #[test]
    fn too_few_samples_per_split_is_an_error() {
        let probs = vec![0.5; 2 * 99];
        let err = inception_score(&probs, 2, 10).unwrap_err().to_string();
        assert!(
            err.contains("99 samples") && err.contains("10 splits"),
            "{err}"
        );
    }

    #[test]
    fn shuffle_is_a_fixed_permutation() {
        let order = shuffle_order(1000);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(order, sorted);
        assert_eq!(order, shuffle_order(1000));
    }
}
