//! The graph builder: an ONNX graph under construction (nodes in order, initialisers, fresh value
//! names) and the small constructors for attributes and typed graph inputs/outputs. Lowering
//! (`lower.rs`) and every pass (`passes/`) write through it.

use crate::onnx::{
    AttributeProto, Dimension, DimensionValue, GraphProto, NodeProto, TensorProto,
    TensorShapeProto, TypeProtoTensor, ValueInfoProto, attribute_type, data_type,
    tensor_value_type,
};

/// The batch axis of graph inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// A symbolic dimension named `batch`.
    Dynamic,
    /// The same size for every run.
    Fixed(usize),
}

/// An ONNX graph under construction: nodes in order, initializers, and fresh value names.
#[derive(Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next_value: usize,
}

impl GraphBuilder {
    pub fn fresh(&mut self, hint: &str) -> String {
        self.next_value += 1;
        format!("{hint}_{}", self.next_value)
    }

    pub fn constant_f32(&mut self, name: &str, shape: &[usize], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, shape, data_type::FLOAT, raw)
    }

    pub fn constant_i64(&mut self, name: &str, values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, &[values.len()], data_type::INT64, raw)
    }

    fn push_initializer(
        &mut self,
        name: &str,
        shape: &[usize],
        data_type: i32,
        raw_data: Vec<u8>,
    ) -> String {
        self.initializers.push(TensorProto {
            dims: shape.iter().map(|&d| d as i64).collect(),
            data_type,
            name: name.to_string(),
            raw_data,
            ..Default::default()
        });
        name.to_string()
    }

    /// Append a node computing `output` from `inputs`.
    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        output: &str,
        attributes: Vec<AttributeProto>,
    ) {
        self.node_with_outputs(op, name, inputs, &[output], attributes);
    }

    /// Append a node computing several `outputs` (a `Split`) from `inputs`.
    pub fn node_with_outputs(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attributes: Vec<AttributeProto>,
    ) {
        let strings = |values: &[&str]| values.iter().map(|v| (*v).to_string()).collect();
        self.nodes.push(NodeProto {
            input: strings(inputs),
            output: strings(outputs),
            name: name.to_string(),
            op_type: op.to_string(),
            attribute: attributes,
            ..Default::default()
        });
    }

    pub fn finish(
        self,
        name: &str,
        inputs: Vec<ValueInfoProto>,
        outputs: Vec<ValueInfoProto>,
    ) -> GraphProto {
        GraphProto {
            node: self.nodes,
            name: name.to_string(),
            initializer: self.initializers,
            input: inputs,
            output: outputs,
            ..Default::default()
        }
    }
}

/// An attribute of type `kind`, filled by `set`.
fn attribute(name: &str, kind: i32, set: impl FnOnce(&mut AttributeProto)) -> AttributeProto {
    let mut attribute = AttributeProto {
        name: name.into(),
        r#type: kind,
        ..Default::default()
    };
    set(&mut attribute);
    attribute
}

pub fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    attribute(name, attribute_type::INTS, |a| a.ints = ints.to_vec())
}

pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    attribute(name, attribute_type::INT, |a| a.i = i)
}

pub fn attr_string(name: &str, s: &str) -> AttributeProto {
    attribute(name, attribute_type::STRING, |a| {
        a.s = s.as_bytes().to_vec();
    })
}

pub fn attr_float(name: &str, f: f32) -> AttributeProto {
    attribute(name, attribute_type::FLOAT, |a| a.f = f)
}

/// A graph input or output: `elem_type` with the batch axis first, then `dims`.
pub fn value_info(name: &str, elem_type: i32, batch: Batch, dims: &[usize]) -> ValueInfoProto {
    let batch_dim = match batch {
        Batch::Dynamic => DimensionValue::DimParam("batch".into()),
        Batch::Fixed(n) => DimensionValue::DimValue(n as i64),
    };
    let dim = std::iter::once(batch_dim)
        .chain(dims.iter().map(|&d| DimensionValue::DimValue(d as i64)))
        .map(|v| Dimension {
            value: Some(v),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(tensor_value_type(TypeProtoTensor {
            elem_type,
            shape: Some(TensorShapeProto { dim }),
        })),
        ..Default::default()
    }
}
