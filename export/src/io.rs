//! What an exported graph takes and gives, typed: the closed set of outputs this exporter
//! writes, and each graph value's name, element type and per-sample shape. The self-check, the
//! graph's doc string and the Triton configuration all read it.

use gan_contract::tensor;

use crate::onnx::data_type;

/// Element types of graph inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    Float,
    Uint8,
    /// Class labels.
    Int64,
}

impl ElemType {
    /// The ONNX `TensorProto.DataType` code.
    pub fn onnx(self) -> i32 {
        match self {
            ElemType::Float => data_type::FLOAT,
            ElemType::Uint8 => data_type::UINT8,
            ElemType::Int64 => data_type::INT64,
        }
    }

    /// Triton's name for it.
    pub fn triton(self) -> &'static str {
        match self {
            ElemType::Float => "TYPE_FP32",
            ElemType::Uint8 => "TYPE_UINT8",
            ElemType::Int64 => "TYPE_INT64",
        }
    }
}

/// Every output an exported graph can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Generator: the image (or points).
    Image,
    /// Generator, with `--pixels`: RGBA8.
    Pixels,
    /// Discriminator: raw score and its sigmoid.
    Logit,
    Prob,
    /// Classifier: class scores and the FID features.
    Logits,
    Features,
}

impl Output {
    pub fn name(self) -> &'static str {
        match self {
            Output::Image => tensor::IMAGE,
            Output::Pixels => tensor::PIXELS,
            Output::Logit => tensor::LOGIT,
            Output::Prob => tensor::PROB,
            Output::Logits => tensor::LOGITS,
            Output::Features => tensor::FEATURES,
        }
    }
}

/// A graph input or output: the batch axis comes first, then `dims`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphValue {
    pub name: &'static str,
    pub elem: ElemType,
    /// Per-sample dims (without the batch axis).
    pub dims: Vec<usize>,
}

impl GraphValue {
    pub fn float(name: &'static str, dims: Vec<usize>) -> Self {
        GraphValue {
            name,
            elem: ElemType::Float,
            dims,
        }
    }

    /// A conditional model's `label` input: one int64 class per sample.
    pub fn label() -> Self {
        GraphValue {
            name: tensor::LABEL,
            elem: ElemType::Int64,
            dims: Vec::new(),
        }
    }
}
