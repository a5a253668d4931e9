//! A decoded ONNX file's [`Signature`]: its inputs (initialisers excluded), outputs and metadata.

use std::collections::HashSet;

use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::pb::{ModelProto, ValueInfoProto};

use crate::signature::{Signature, ValueSig};

/// ONNX `TensorProto.DataType.FLOAT` and `INT64`.
const FLOAT: i32 = 1;
const INT64: i32 = 7;

pub fn signature_of(proto: &ModelProto) -> Signature {
    let Some(graph) = proto.graph.as_ref() else {
        return Signature::default();
    };
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    Signature {
        inputs: graph
            .input
            .iter()
            .filter(|v| !initializers.contains(v.name.as_str()))
            .map(value_sig)
            .collect(),
        outputs: graph
            .output
            .iter()
            .map(|o| ValueSig {
                producer: graph
                    .node
                    .iter()
                    .rev()
                    .find(|n| n.output.contains(&o.name))
                    .map(|n| n.op_type.clone()),
                ..value_sig(o)
            })
            .collect(),
        metadata: proto
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect(),
    }
}

/// Name, dims (a dimension is known when it is a non-negative `dim_value`; validation has
/// refused negative ones) and whether it is float32.
fn value_sig(v: &ValueInfoProto) -> ValueSig {
    let tensor = v
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .map(|TypeValue::TensorType(t)| t);
    let dims = tensor
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(DimValue::DimValue(n)) => usize::try_from(n).ok(),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    ValueSig {
        name: v.name.clone(),
        dims,
        is_f32: tensor.is_some_and(|t| t.elem_type == FLOAT),
        is_i64: tensor.is_some_and(|t| t.elem_type == INT64),
        producer: None,
    }
}
