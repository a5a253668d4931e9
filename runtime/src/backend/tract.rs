//! The tract backend: the generator runs through [`OnnxModel`], the workspace's one tract
//! boundary.

use super::Engine;
use crate::error::Result;
use crate::onnx_model::OnnxModel;
use crate::signature::Signature;

impl Engine for OnnxModel {
    fn signature(&self) -> &Signature {
        OnnxModel::signature(self)
    }

    fn runs_on(&self) -> String {
        format!("tract on the CPU, {} threads", self.threads())
    }

    fn run(
        &self,
        z: &[f32],
        batch: usize,
        input_dims: &[usize],
        output_index: usize,
    ) -> Result<Vec<f32>> {
        let shape: Vec<usize> = std::iter::once(batch)
            .chain(input_dims.iter().copied())
            .collect();
        let mut outputs = OnnxModel::run(self, z, &shape, &[output_index])?;
        Ok(outputs.pop().map(|o| o.values).unwrap_or_default())
    }
}
