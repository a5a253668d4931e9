use std::path::{Path, PathBuf};

/// Everything that can stop training. Messages name the file, tensor, step or configuration
/// field involved (fields as in [`crate::TrainConfig`]; the CLI maps them to its flags).
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
    /// An image of the data set cannot be decoded (and `skip_bad` is off).
    #[error("{path}: {reason} (set skip_bad to skip unreadable images)")]
    UnreadableImage { path: PathBuf, reason: String },
    /// A configuration value is out of range.
    #[error("{field}: {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// The training device cannot be used.
    #[error("cannot train on {device}: {reason}")]
    DeviceUnavailable { device: String, reason: String },
    /// A new run was asked for in a folder that already holds one.
    #[error("{path}: already holds a run (config.json)")]
    RunExists { path: PathBuf },
    #[error("training diverged at step {step}: loss_d = {loss_d}, loss_g = {loss_g}; {}",
        last_checkpoint.as_ref().map_or_else(
            || "no checkpoint was written before it".to_string(),
            |p| format!("the last good checkpoint is {}", p.display())))]
    NonFiniteLoss {
        step: u64,
        loss_d: f32,
        loss_g: f32,
        last_checkpoint: Option<PathBuf>,
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

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        TrainError::InvalidConfig {
            field,
            reason: reason.into(),
        }
    }

    /// A divergence error that names the run's last good checkpoint.
    #[must_use]
    pub fn with_last_checkpoint(self, checkpoint: Option<&Path>) -> Self {
        match self {
            TrainError::NonFiniteLoss {
                step,
                loss_d,
                loss_g,
                ..
            } => TrainError::NonFiniteLoss {
                step,
                loss_d,
                loss_g,
                last_checkpoint: checkpoint.map(Path::to_path_buf),
            },
            other => other,
        }
    }
}

/// Write `bytes` to `path` atomically (`gan_models::atomic`), naming the file in an error.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    gan_models::atomic::write_file(path, bytes).map_err(|e| TrainError::io(path, e))
}
