use std::path::PathBuf;

/// Everything that can go wrong loading or running a generator. Never a panic.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a generator this runtime can run.
    #[error("{}: not a usable ONNX generator: {reason}", path.display())]
    BadModel {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file does not say something the caller must then give as an option.
    #[error("{}: {what} is not in the model's metadata; pass it as option {option}", path.display())]
    MissingOption {
        /// The model file.
        path: PathBuf,
        /// What is missing.
        what: &'static str,
        /// The option that supplies it.
        option: &'static str,
    },
    /// The inference engine failed or is not available.
    #[error("backend {backend}: {reason}")]
    Backend {
        /// `tract` or `ort`.
        backend: &'static str,
        /// What it said.
        reason: String,
    },
    /// A caller's argument is out of range.
    #[error("{0}")]
    InvalidArgument(String),
}

/// This crate's results.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
