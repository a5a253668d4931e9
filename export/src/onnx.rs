//! The ONNX schema the exporter writes: gan-runtime's (tract's prost types of `onnx.proto`), the
//! workspace's one copy, under the short names the builder and the tests use, with the enum
//! values it writes as constants and the IR version that goes with an opset.

pub use gan_runtime::onnx_schema::tensor_shape_proto::Dimension;
pub use gan_runtime::onnx_schema::tensor_shape_proto::dimension::Value as DimensionValue;
pub use gan_runtime::onnx_schema::type_proto::Tensor as TypeProtoTensor;
pub use gan_runtime::onnx_schema::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
/// Re-exported so callers can decode and encode these messages without naming prost.
pub use prost::Message;

use gan_runtime::onnx_schema::attribute_proto::AttributeType;
use gan_runtime::onnx_schema::tensor_proto::DataType;
use gan_runtime::onnx_schema::type_proto;

/// `AttributeProto.AttributeType` values, as the `type` field holds them.
#[allow(missing_docs)]
pub mod attribute_type {
    use super::AttributeType;
    pub const FLOAT: i32 = AttributeType::Float as i32;
    pub const INT: i32 = AttributeType::Int as i32;
    pub const STRING: i32 = AttributeType::String as i32;
    pub const TENSOR: i32 = AttributeType::Tensor as i32;
    pub const INTS: i32 = AttributeType::Ints as i32;
}

/// `TensorProto.DataType` values, as the `data_type` and `elem_type` fields hold them.
#[allow(missing_docs)]
pub mod data_type {
    use super::DataType;
    pub const FLOAT: i32 = DataType::Float as i32;
    pub const UINT8: i32 = DataType::Uint8 as i32;
    pub const INT64: i32 = DataType::Int64 as i32;
}

/// A value's tensor type, if it has one.
pub fn tensor_type(value: &ValueInfoProto) -> Option<&TypeProtoTensor> {
    let type_proto::Value::TensorType(t) = value.r#type.as_ref()?.value.as_ref()?;
    Some(t)
}

/// A value's tensor type, to edit.
pub fn tensor_type_mut(value: &mut ValueInfoProto) -> Option<&mut TypeProtoTensor> {
    let type_proto::Value::TensorType(t) = value.r#type.as_mut()?.value.as_mut()?;
    Some(t)
}

/// The type of a tensor value.
pub fn tensor_value_type(tensor: TypeProtoTensor) -> TypeProto {
    TypeProto {
        value: Some(type_proto::Value::TensorType(tensor)),
        ..Default::default()
    }
}

/// The IR version that goes with a default-domain opset (ONNX's versioning table).
pub fn ir_version_for_opset(opset: i64) -> Option<i64> {
    match opset {
        7..=8 => Some(3),
        9 => Some(4),
        10 => Some(5),
        11 => Some(6),
        12..=14 => Some(7),
        15..=18 => Some(8),
        19..=20 => Some(9),
        21 => Some(10),
        _ => None,
    }
}
