//! Scores for generators, computed the way the reference implementations (the original
//! TensorFlow code, torch-fidelity, pytorch-fid) compute them, with any ONNX classifier.
//!
//! [`Scorer`] is the entry point: it opens a classifier once, resolves its outputs, and turns
//! pictures into [`Scores`] (Inception Score, FID, KID, class accuracy) — for `gan eval`, the
//! scores taken while training and the bindings alike. The modules below are its parts.
//!
//! [`Classifier`] runs an ONNX image classifier with tract (the project's own digit classifier,
//! or an Inception v3 the user supplies) and finds its input size, outputs and normalisation.
//! [`pictures`] loads the images to score (an image folder, MNIST IDX files, or samples drawn
//! from an ONNX generator through `gan-runtime`) and turns them into the classifier's input:
//! channels matched, bilinear resize, normalisation. [`inception`] computes the Inception Score
//! from class probabilities (f64 softmax, fixed-seed shuffle, splits); [`frechet`] computes the
//! Fréchet distance between feature statistics through symmetric eigendecompositions;
//! [`kernel`] the Kernel Inception Distance (unbiased polynomial-kernel MMD² over subsets), which
//! stays fair at small sample counts; [`accuracy`] how often a conditional generator's samples
//! are classified as the class asked for.
//!
//! It never sees candle: everything here works on exported files, opened through
//! `gan-runtime`'s one ONNX boundary (validated, panic-guarded).
//!
//! ```
//! // Two classes, each image certain of its class, both classes equally common: IS = 2.
//! let probs: Vec<f64> = (0..20)
//!     .flat_map(|i| if i % 2 == 0 { [1.0, 0.0] } else { [0.0, 1.0] })
//!     .collect();
//! let score = gan_eval::inception_score(&probs, 2, 2)?;
//! assert!((score.mean - 2.0).abs() < 1e-12 && score.std < 1e-12);
//! # Ok::<(), gan_eval::EvalError>(())
//! ```

pub mod accuracy;
mod classifier;
pub mod frechet;
pub mod inception;
pub mod kernel;
pub mod pictures;
mod scorer;

use std::path::PathBuf;

pub use accuracy::{ClassAccuracy, class_accuracy, match_classes};
pub use classifier::{Classifier, Rows};
pub use frechet::{FeatureStats, FrechetDistance, frechet_distance};
pub use inception::{InceptionScore, inception_score, probabilities};
pub use kernel::{KernelDistance, kernel_distance};
pub use pictures::{Normalize, Picture, Preprocess};
pub use scorer::{Reference, Request, Scorer, ScorerOptions, Scores};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error(transparent)]
    Runtime(#[from] gan_runtime::RuntimeError),
    #[error("{0}")]
    Invalid(String),
    /// The file does not say what a score needs, or says something unusable: the caller's
    /// option `option` (a [`ScorerOptions`] field) can supply it.
    #[error("{}: {reason} (option `{option}`)", path.display())]
    NeedsOption {
        path: PathBuf,
        reason: String,
        option: &'static str,
    },
}

impl From<gan_models::FileError> for EvalError {
    fn from(e: gan_models::FileError) -> Self {
        EvalError::File {
            path: e.path,
            reason: e.reason,
        }
    }
}

impl EvalError {
    fn file(path: &std::path::Path, reason: impl Into<String>) -> Self {
        EvalError::File {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
