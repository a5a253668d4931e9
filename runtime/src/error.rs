use std::path::PathBuf;

/// Everything that can go wrong loading or running a generator. Never a panic.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a usable ONNX generator: {reason}", path.display())]
    BadModel { path: PathBuf, reason: String },
    #[error("{}: {what} is not in the model's metadata; pass it as an option ({option})", path.display())]
    MissingOption {
        path: PathBuf,
        what: &'static str,
        option: &'static str,
    },
    #[error("backend {backend}: {reason}")]
    Backend {
        backend: &'static str,
        reason: String,
    },
    #[error("{0}")]
    InvalidArgument(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
