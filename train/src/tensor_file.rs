//! candle tensors in and out of the checkpoint format of `gan_models::weights`.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use gan_models::weights::{self, Weights};

use crate::error::{Result, TrainError};

/// Serialise `tensors` (name, tensor) with string `metadata` into safetensors bytes.
pub fn to_bytes(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let plain = tensors
        .iter()
        .map(|(name, t)| {
            let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            Ok((
                name.clone(),
                weights::Tensor {
                    shape: t.dims().to_vec(),
                    values,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(weights::to_safetensors(&plain, metadata))
}

/// A safetensors file whose tensors are taken one by one, each checked for its shape.
pub struct TensorFile {
    weights: Weights,
    device: Device,
}

impl TensorFile {
    pub fn read(path: &Path, device: &Device) -> Result<Self> {
        Ok(TensorFile {
            weights: Weights::read(path)?,
            device: device.clone(),
        })
    }

    /// The tensor `name`, which must have `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.weights.take(name, shape)?;
        Ok(Tensor::from_vec(t.values, t.shape, &self.device)?)
    }
}

impl From<gan_models::FileError> for TrainError {
    fn from(e: gan_models::FileError) -> Self {
        TrainError::BadFile {
            path: e.path,
            reason: e.reason,
        }
    }
}
