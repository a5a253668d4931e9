//! Named f32 tensors in safetensors files: the checkpoint format that training writes and the
//! exporter reads. Every read checks names, dtypes and shapes and names the file in its errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::FileError;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// One f32 tensor: its shape and values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The tensors of one safetensors file.
#[derive(Debug)]
pub struct Weights {
    path: PathBuf,
    tensors: HashMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

impl Weights {
    pub fn read(path: &Path) -> Result<Self, FileError> {
        let fail = |reason: String| FileError {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let invalid =
            |e: safetensors::SafeTensorError| fail(format!("not a valid safetensors file ({e})"));
        let parsed = SafeTensors::deserialize(&bytes).map_err(invalid)?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
        let mut tensors = HashMap::new();
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(fail(format!(
                    "tensor {name} is {:?}, expected F32",
                    view.dtype()
                )));
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            tensors.insert(
                name,
                Tensor {
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
        let metadata = header.metadata().clone().unwrap_or_default();
        Ok(Weights {
            path: path.to_path_buf(),
            tensors,
            metadata,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remove and return the tensor `name`, which must have `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Tensor, FileError> {
        let fail = |reason: String| FileError {
            path: self.path.clone(),
            reason,
        };
        let tensor = self
            .tensors
            .remove(name)
            .ok_or_else(|| fail(format!("tensor {name} is missing")))?;
        if tensor.shape != shape {
            return Err(fail(format!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                tensor.shape
            )));
        }
        Ok(tensor)
    }
}

/// Serialise named tensors with string metadata into safetensors bytes.
pub fn to_safetensors(tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> Vec<u8> {
    let raw: Vec<(&str, &[usize], Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            (
                name.as_str(),
                t.shape.as_slice(),
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = raw.iter().map(|(name, shape, bytes)| {
        let view = TensorView::new(Dtype::F32, shape.to_vec(), bytes)
            .expect("shape matches the value count");
        (*name, view)
    });
    safetensors::serialize(views, Some(metadata)).expect("f32 tensors with unique names serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checked_reads() {
        let dir = std::env::temp_dir().join(format!("gan-weights-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.safetensors");
        let t = Tensor {
            shape: vec![2, 3],
            values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let meta = HashMap::from([("gan.step".to_string(), "7".to_string())]);
        std::fs::write(&path, to_safetensors(&[("a".into(), t.clone())], meta)).unwrap();
        let mut w = Weights::read(&path).unwrap();
        assert_eq!(w.metadata["gan.step"], "7");
        let err = w.take("a", &[3, 2]).unwrap_err().to_string();
        assert!(
            err.contains("w.safetensors") && err.contains("shape [2, 3], expected [3, 2]"),
            "{err}"
        );
        let mut w = Weights::read(&path).unwrap();
        assert_eq!(w.take("a", &[2, 3]).unwrap(), t);
        assert!(
            w.take("a", &[2, 3])
                .unwrap_err()
                .to_string()
                .contains("missing")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Truncated and bit-flipped checkpoint files: read (then every take checks shapes) or
    /// refused with the file's name, never a panic.
    #[test]
    fn mutated_safetensors_are_read_or_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let t = Tensor {
            shape: vec![4, 5],
            values: (0..20).map(|v| v as f32).collect(),
        };
        let good = to_safetensors(&[("a".into(), t)], HashMap::new());
        for (case, bytes) in crate::fixtures::mutations(&good, 100, 400)
            .iter()
            .enumerate()
        {
            std::fs::write(&path, bytes).unwrap();
            match Weights::read(&path) {
                Ok(mut w) => {
                    if let Err(e) = w.take("a", &[4, 5]) {
                        assert!(e.to_string().contains("w.safetensors"), "case {case}: {e}");
                    }
                }
                Err(e) => assert!(e.to_string().contains("w.safetensors"), "case {case}: {e}"),
            }
        }
    }
}
