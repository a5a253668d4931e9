//! The Fréchet distance between two Gaussians fitted to feature vectors (FID when the features
//! are Inception's pool3 activations):
//! d² = ‖μ₁ − μ₂‖² + Tr Σ₁ + Tr Σ₂ − 2 Tr (Σ₁^½ Σ₂ Σ₁^½)^½.
//! Both square roots come from symmetric eigendecompositions (negative rounding noise in the
//! eigenvalues is clipped to 0), which is stable where the Newton/Schur iterations of
//! `scipy.linalg.sqrtm` can return complex noise. Statistics are f64; the covariance uses the
//! N − 1 denominator, as `numpy.cov` does.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::{EvalError, Result};

/// Eigenvalues below this fraction of the largest count as zero when judging rank.
const RANK_TOLERANCE: f64 = 1e-10;

/// Mean and covariance of `n` feature vectors of size `dim`.
#[derive(Debug, Clone)]
pub struct FeatureStats {
    pub n: usize,
    pub mean: DVector<f64>,
    pub cov: DMatrix<f64>,
}

impl FeatureStats {
    /// Statistics of `rows` (`n` × `dim`, row-major). Needs at least two rows.
    pub fn from_rows(rows: &[f32], dim: usize) -> Result<Self> {
        if dim == 0 || !rows.len().is_multiple_of(dim) {
            return Err(EvalError::Invalid(format!(
                "{} values are not whole feature vectors of size {dim}",
                rows.len()
            )));
        }
        let n = rows.len() / dim;
        if n < 2 {
            return Err(EvalError::Invalid(format!(
                "{n} feature vector(s): a covariance needs at least 2"
            )));
        }
        let x = DMatrix::from_fn(n, dim, |i, j| rows[i * dim + j] as f64);
        let mean = DVector::from_fn(dim, |j, _| x.column(j).sum() / n as f64);
        let centred = DMatrix::from_fn(n, dim, |i, j| x[(i, j)] - mean[j]);
        let cov = (centred.transpose() * &centred) / (n - 1) as f64;
        Ok(FeatureStats { n, mean, cov })
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Numerical rank of the covariance.
    pub fn rank(&self) -> usize {
        let eig = SymmetricEigen::new(self.cov.clone()).eigenvalues;
        let largest = eig.iter().fold(0f64, |m, &v| m.max(v));
        eig.iter()
            .filter(|&&v| v > largest * RANK_TOLERANCE)
            .count()
    }
}

#[derive(Debug, Clone)]
pub struct FrechetDistance {
    pub value: f64,
    /// Why the number may be unreliable (singular covariances), for the user.
    pub warnings: Vec<String>,
}

/// The Fréchet distance between `real` and `generated`.
pub fn frechet_distance(real: &FeatureStats, generated: &FeatureStats) -> Result<FrechetDistance> {
    if real.dim() != generated.dim() {
        return Err(EvalError::Invalid(format!(
            "feature sizes differ: {} for the real images, {} for the generated ones (were they computed with the same classifier output?)",
            real.dim(),
            generated.dim()
        )));
    }
    let mut warnings = Vec::new();
    for (name, stats) in [("real", real), ("generated", generated)] {
        let rank = stats.rank();
        if rank < stats.dim() {
            warnings.push(format!(
                "the covariance of the {name} features is singular (rank {rank} of {}, from {} samples{}): the distance is still defined but unstable; use more samples than features",
                stats.dim(),
                stats.n,
                if stats.n <= stats.dim() { ", no more than the feature size" } else { "; some features are constant" }
            ));
        }
    }
    let sqrt_real = psd_sqrt(&real.cov);
    let product = &sqrt_real * &generated.cov * &sqrt_real;
    let product = (&product + product.transpose()) * 0.5;
    let trace_sqrt: f64 = SymmetricEigen::new(product)
        .eigenvalues
        .iter()
        .map(|&v| v.max(0.0).sqrt())
        .sum();
    let diff = &real.mean - &generated.mean;
    let value = diff.dot(&diff) + real.cov.trace() + generated.cov.trace() - 2.0 * trace_sqrt;
    Ok(FrechetDistance {
        value: value.max(0.0),
        warnings,
    })
}

/// The square root of a symmetric positive semi-definite matrix.
fn psd_sqrt(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eig = SymmetricEigen::new(m.clone());
    let roots = eig.eigenvalues.map(|v| v.max(0.0).sqrt());
    &eig.eigenvectors * DMatrix::from_diagonal(&roots) * eig.eigenvectors.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n * dim)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn a_set_against_itself_is_zero() {
        let stats = FeatureStats::from_rows(&rows(300, 16, 1), 16).unwrap();
        let fid = frechet_distance(&stats, &stats).unwrap();
        assert!(fid.value.abs() < 1e-6, "{}", fid.value);
        assert!(fid.warnings.is_empty());
    }

    #[test]
    fn shifted_gaussians_with_equal_covariance_differ_by_the_mean() {
        let a = rows(400, 8, 2);
        let b: Vec<f32> = a.iter().map(|v| v + 0.5).collect();
        let (sa, sb) = (
            FeatureStats::from_rows(&a, 8).unwrap(),
            FeatureStats::from_rows(&b, 8).unwrap(),
        );
        let fid = frechet_distance(&sa, &sb).unwrap();
        // Σ equal ⇒ the trace terms cancel: d² = 8 · 0.5².
        assert!((fid.value - 2.0).abs() < 1e-6, "{}", fid.value);
    }

    #[test]
    fn diagonal_covariances_have_a_closed_form() {
        // Σ₁ = diag(a²), Σ₂ = diag(b²) ⇒ d² = Σ (a − b)² (plus the means, zero here).
        let mut real = FeatureStats::from_rows(&rows(10, 3, 3), 3).unwrap();
        let mut generated = real.clone();
        real.mean.fill(0.0);
        generated.mean.fill(0.0);
        real.cov = DMatrix::from_diagonal(&DVector::from_vec(vec![4.0, 1.0, 9.0]));
        generated.cov = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 1.0, 16.0]));
        let fid = frechet_distance(&real, &generated).unwrap();
        assert!(
            (fid.value - (1.0 + 0.0 + 1.0)).abs() < 1e-12,
            "{}",
            fid.value
        );
    }

    #[test]
    fn singular_covariances_are_reported_and_mismatched_sizes_refused() {
        let few = FeatureStats::from_rows(&rows(5, 16, 4), 16).unwrap();
        let fid = frechet_distance(&few, &few).unwrap();
        assert!(
            fid.warnings
                .iter()
                .any(|w| w.contains("singular") && w.contains("rank 4 of 16")),
            "{:?}",
            fid.warnings
        );
        let other = FeatureStats::from_rows(&rows(40, 8, 5), 8).unwrap();
        let err = frechet_distance(&few, &other).unwrap_err().to_string();
        assert!(
            err.contains("feature sizes differ: 16") && err.contains("8"),
            "{err}"
        );
        assert!(FeatureStats::from_rows(&rows(1, 4, 6), 4).is_err());
    }
}
