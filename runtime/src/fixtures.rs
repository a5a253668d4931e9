//! Test models for the crates built on the runtime (feature `fixtures`): a tiny generator in
//! the exporter's conventions, small enough to write by hand, so that the C ABI and the browser
//! binding test themselves without training anything.

use gan_contract::{metadata, tensor};
use prost::Message;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TypeProto, ValueInfoProto, type_proto,
};

/// Class names of the conditional tiny generator, as its `gan.classes` metadata lists them.
pub const TINY_CLASSES: [&str; 3] = ["cat", "dog", "fox"];
/// The tiny generator's latent size.
pub const TINY_LATENT: usize = 4;
/// The tiny generator's image: `[C, H, W]`.
pub const TINY_IMAGE: [usize; 3] = [3, 4, 5];

/// A tiny generator in our exporter's conventions, as ONNX bytes: `z [batch, 4]` → Gemm → Tanh
/// → Reshape → `image [batch, 3, 4, 5]`, with `gan.*` metadata. Conditional: a `label` int64
/// `[batch]` input whose embedding (Gather, 3 classes × 4) is added to `z` first, and
/// `gan.conditional`/`gan.classes` metadata.
pub fn tiny_generator(conditional: bool) -> Vec<u8> {
    let (nz, [c, h, w]) = (TINY_LATENT, TINY_IMAGE);
    let mut graph = dense_graph();
    if conditional {
        graph.node[0].input[0] = "z_and_class".into();
        graph.node.splice(
            0..0,
            [
                node(
                    "Gather",
                    &["embedding", tensor::LABEL],
                    "class_row",
                    vec![int("axis", 0)],
                ),
                node("Add", &[tensor::LATENT, "class_row"], "z_and_class", vec![]),
            ],
        );
        graph.input.push(value(tensor::LABEL, DataType::Int64, &[]));
        let embedding: Vec<f32> = (0..TINY_CLASSES.len() * nz)
            .map(|i| (i as f32 - 5.0) * 0.7)
            .collect();
        let dims = [TINY_CLASSES.len() as i64, nz as i64];
        graph
            .initializer
            .insert(0, floats("embedding", &dims, &embedding));
    }
    let mut meta = vec![
        (metadata::ROLE, metadata::role::GENERATOR.to_string()),
        (metadata::NZ, nz.to_string()),
        (metadata::CHANNELS, c.to_string()),
        (metadata::HEIGHT, h.to_string()),
        (metadata::WIDTH, w.to_string()),
        (metadata::RANGE, "-1,1".to_string()),
    ];
    if conditional {
        let classes = format!("{TINY_CLASSES:?}").replace(' ', "");
        meta.extend([
            (metadata::CONDITIONAL, "true".to_string()),
            (metadata::CLASSES, classes),
        ]);
    }
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(graph),
        metadata_props: meta
            .into_iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.to_string(),
                value,
            })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The unconditional graph: `z` → Gemm → Tanh → Reshape → `image`, with fixed weights.
fn dense_graph() -> GraphProto {
    let (nz, [c, h, w]) = (TINY_LATENT, TINY_IMAGE);
    let out = c * h * w;
    let weight: Vec<f32> = (0..out * nz)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 6.0)
        .collect();
    let bias: Vec<f32> = (0..out).map(|i| (i % 5) as f32 * 0.1 - 0.2).collect();
    let shape: Vec<u8> = [0, c as i64, h as i64, w as i64]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    GraphProto {
        name: "tiny".into(),
        node: vec![
            node(
                "Gemm",
                &[tensor::LATENT, "w", "b"],
                "dense",
                vec![int("transB", 1)],
            ),
            node("Tanh", &["dense"], "squashed", vec![]),
            node("Reshape", &["squashed", "shape"], tensor::IMAGE, vec![]),
        ],
        initializer: vec![
            floats("w", &[out as i64, nz as i64], &weight),
            floats("b", &[out as i64], &bias),
            TensorProto {
                name: "shape".into(),
                dims: vec![4],
                data_type: DataType::Int64 as i32,
                raw_data: shape,
                ..Default::default()
            },
        ],
        input: vec![value(tensor::LATENT, DataType::Float, &[nz as i64])],
        output: vec![value(
            tensor::IMAGE,
            DataType::Float,
            &[c as i64, h as i64, w as i64],
        )],
        ..Default::default()
    }
}

/// A float32 initializer.
fn floats(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        raw_data: values.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A node named after its one output.
fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| (*s).to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

/// An integer attribute.
fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

/// A graph input or output: a symbolic batch, then `dims`.
fn value(name: &str, elem_type: DataType, dims: &[i64]) -> ValueInfoProto {
    let batch = dimension::Value::DimParam("batch".into());
    let dim = std::iter::once(batch)
        .chain(dims.iter().map(|&d| dimension::Value::DimValue(d)))
        .map(|value| Dimension {
            value: Some(value),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem_type as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
