//! Named f32 tensors in safetensors files, written atomically and read with every shape checked.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::error::{Result, TrainError};

/// Serialise `tensors` (name, tensor) with string `metadata` into safetensors bytes.
pub fn to_bytes(
    tensors: &[(String, Tensor)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let values = tensor
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        raw.push((name.clone(), tensor.dims().to_vec(), bytes));
    }
    let views = raw
        .iter()
        .map(|(name, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                .expect("shape matches byte count");
            (name.clone(), view)
        })
        .collect::<Vec<_>>();
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| TrainError::InvalidConfig(format!("cannot serialise tensors: {e}")))
}

/// The tensors of a safetensors file, each checked to be f32 and loaded on `device`.
pub struct TensorFile {
    path: std::path::PathBuf,
    tensors: HashMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

impl TensorFile {
    pub fn read(path: &Path, device: &Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        let parsed = SafeTensors::deserialize(&bytes).map_err(|e| {
            TrainError::bad_file(path, format!("not a valid safetensors file ({e})"))
        })?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| {
            TrainError::bad_file(path, format!("not a valid safetensors file ({e})"))
        })?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let mut tensors = HashMap::new();
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(TrainError::bad_file(
                    path,
                    format!("tensor {name} is {:?}, expected F32", view.dtype()),
                ));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(name, Tensor::from_vec(values, view.shape(), device)?);
        }
        Ok(TensorFile {
            path: path.to_path_buf(),
            tensors,
            metadata,
        })
    }

    /// The tensor `name`, which must have `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let tensor = self
            .tensors
            .remove(name)
            .ok_or_else(|| TrainError::bad_file(&self.path, format!("tensor {name} is missing")))?;
        if tensor.dims() != shape {
            return Err(TrainError::bad_file(
                &self.path,
                format!(
                    "tensor {name} has shape {:?}, expected {shape:?}",
                    tensor.dims()
                ),
            ));
        }
        Ok(tensor)
    }
}
