//! Limits on what a model file may be, whichever backend opens it.

use std::path::Path;

use crate::error::{Result, RuntimeError};

pub use gan_contract::limits::MAX_MODEL_BYTES;

/// Fail early on a file larger than any model, before reading it.
pub(crate) fn check_file_size(path: &Path) -> Result<()> {
    let size = std::fs::metadata(path)
        .map_err(|source| RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    check_model_size(path, size)
}

/// Refuse `size` bytes of model named `path` if larger than any model.
pub(crate) fn check_model_size(path: &Path, size: u64) -> Result<()> {
    if size > MAX_MODEL_BYTES {
        return Err(RuntimeError::BadModel {
            path: path.to_path_buf(),
            reason: format!("{size} bytes is larger than any model this runtime accepts"),
        });
    }
    Ok(())
}
