//! The tract backend: the generator runs through [`OnnxModel`], the workspace's one tract
//! boundary.

use super::Engine;
use crate::error::Result;
use crate::feed::Feed;
use crate::onnx_model::OnnxModel;
use crate::signature::Signature;

impl Engine for OnnxModel {
    fn signature(&self) -> &Signature {
        OnnxModel::signature(self)
    }

    fn runs_on(&self) -> String {
        format!("tract on the CPU, {} threads", self.threads())
    }

    fn run(&self, feeds: &[Feed], output: usize) -> Result<Vec<f32>> {
        let mut outputs = OnnxModel::run(self, feeds, &[output])?;
        Ok(outputs.pop().map(|o| o.values).unwrap_or_default())
    }
}
