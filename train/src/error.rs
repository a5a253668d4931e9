use std::path::{Path, PathBuf};

/// Everything that can stop training. Messages name the file, tensor or step involved.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] gan_models::ModelError),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    #[error("{path}: no images found (searched recursively for png, jpg, jpeg, gif, bmp, webp)")]
    EmptyFolder { path: PathBuf },
    #[error("{0}")]
    InvalidConfig(String),
    #[error("training diverged at step {step}: loss_d = {loss_d}, loss_g = {loss_g}{checkpoint}")]
    NonFiniteLoss {
        step: u64,
        loss_d: f32,
        loss_g: f32,
        /// Where the last good checkpoint is, phrased for the message.
        checkpoint: String,
    },
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn bad_file(path: &Path, reason: impl Into<String>) -> Self {
        TrainError::BadFile {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
