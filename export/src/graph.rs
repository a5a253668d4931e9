//! Lowering a `gan_models::Network` with its weights to an ONNX graph.

use std::collections::HashMap;

use gan_models::weights::{Tensor, Weights};
use gan_models::{Activation, Layer, Network, ParamRole};

use crate::ExportError;
use crate::onnx::{
    AttributeProto, Dimension, DimensionValue, GraphProto, NodeProto, TensorProto,
    TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto, attribute_type, data_type,
};

/// The batch axis of graph inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// A symbolic dimension named `batch`.
    Dynamic,
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
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            name: name.to_string(),
            op_type: op.to_string(),
            domain: String::new(),
            attribute: attributes,
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
            doc_string: String::new(),
            input: inputs,
            output: outputs,
        }
    }
}

pub fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INTS,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

pub fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

pub fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::FLOAT,
        f,
        ..Default::default()
    }
}

/// A graph input or output: `elem_type` with the batch axis first, then `dims`.
pub fn value_info(name: &str, elem_type: i32, batch: Batch, dims: &[usize]) -> ValueInfoProto {
    let batch_dim = match batch {
        Batch::Dynamic => DimensionValue::DimParam("batch".into()),
        Batch::Fixed(n) => DimensionValue::DimValue(n as i64),
    };
    let dim = std::iter::once(batch_dim)
        .chain(dims.iter().map(|&d| DimensionValue::DimValue(d as i64)))
        .map(|v| Dimension { value: Some(v) })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        doc_string: String::new(),
    }
}

/// Every parameter of `net` read from `weights`, per layer and role (all checked up front, so a
/// missing or misshapen tensor fails before anything is written).
fn read_params(
    net: &Network,
    weights: &mut Weights,
) -> Result<Vec<HashMap<ParamRole, Tensor>>, ExportError> {
    let mut per_layer: Vec<HashMap<ParamRole, Tensor>> =
        net.layers.iter().map(|_| HashMap::new()).collect();
    for entry in net.params() {
        let tensor = weights.take(&entry.name, &entry.spec.shape)?;
        per_layer[entry.layer_index].insert(entry.spec.role, tensor);
    }
    Ok(per_layer)
}

/// Append the nodes of `net` to `graph`, reading from value `input` and writing the network's
/// output to value `output`. With `fold_bn`, each BatchNorm2d that follows a (transposed)
/// convolution is folded into that convolution's weights and bias.
/// How a network is lowered.
pub struct Lowering<'a> {
    pub fold_bn: bool,
    pub subpixel: bool,
    /// A layer whose output also becomes a graph output, under this name.
    pub tap: Option<(usize, &'a str)>,
    pub input: &'a str,
    pub output: &'a str,
}

pub fn lower_network(
    graph: &mut GraphBuilder,
    net: &Network,
    weights: &mut Weights,
    lowering: &Lowering,
) -> Result<(), ExportError> {
    let Lowering {
        fold_bn,
        subpixel,
        tap,
        input,
        output,
    } = *lowering;
    let mut params = read_params(net, weights)?;
    let mut current = input.to_string();
    let mut i = 0;
    while i < net.layers.len() {
        let layer = &net.layers[i];
        let folds = fold_bn
            && matches!(layer, Layer::Conv2d { .. } | Layer::ConvTranspose2d { .. })
            && matches!(net.layers.get(i + 1), Some(Layer::BatchNorm2d { .. }));
        let consumed = if folds { 2 } else { 1 };
        let is_last = i + consumed == net.layers.len();
        let last_layer = i + consumed - 1;
        let out = match tap {
            _ if is_last => output.to_string(),
            // A tapped value is a graph output under its own name.
            Some((layer, name)) if layer == last_layer => name.to_string(),
            _ => graph.fresh(&format!("layers.{last_layer}")),
        };
        let name = format!("layers.{i}");
        let mut own = std::mem::take(&mut params[i]);
        if folds {
            let Layer::BatchNorm2d { eps, .. } = net.layers[i + 1] else {
                unreachable!("checked above")
            };
            fold_batch_norm(layer, &mut own, &mut params[i + 1], eps);
        }
        match *layer {
            Layer::ConvTranspose2d {
                kernel,
                stride,
                padding,
                ..
            } if subpixel && crate::subpixel::applies(kernel, stride, padding) => {
                let weight = &own[&ParamRole::Weight];
                crate::subpixel::lower(
                    graph,
                    &name,
                    weight,
                    own.get(&ParamRole::Bias),
                    &current,
                    &out,
                );
            }
            _ => lower_layer(graph, layer, &name, &own, &current, &out),
        }
        current = out;
        i += consumed;
    }
    Ok(())
}

/// Scale the convolution's output channels by γ/√(σ²+ε) and give it the bias β − μ·γ/√(σ²+ε)
/// (plus its own bias, scaled).
fn fold_batch_norm(
    conv: &Layer,
    conv_params: &mut HashMap<ParamRole, Tensor>,
    bn: &mut HashMap<ParamRole, Tensor>,
    eps: f64,
) {
    let get = |role| {
        bn.get(&role)
            .map(|t: &Tensor| t.values.clone())
            .expect("BatchNorm2d has four parameters")
    };
    let (gamma, beta, mean, var) = (
        get(ParamRole::Scale),
        get(ParamRole::Shift),
        get(ParamRole::RunningMean),
        get(ParamRole::RunningVar),
    );
    let scale: Vec<f64> = gamma
        .iter()
        .zip(&var)
        .map(|(&g, &v)| g as f64 / (v as f64 + eps).sqrt())
        .collect();
    let weight = conv_params
        .get_mut(&ParamRole::Weight)
        .expect("convolutions have weights");
    let shape = weight.shape.clone();
    // Output channels are axis 0 of a Conv weight [out, in, k, k] and axis 1 of a
    // ConvTranspose weight [in, out, k, k].
    let (channels, inner) = match conv {
        Layer::ConvTranspose2d { .. } => (shape[1], shape[2] * shape[3]),
        _ => (shape[0], shape[1] * shape[2] * shape[3]),
    };
    // The weight is `outer` blocks of `channels` runs of `inner` values each.
    for (run, values) in weight.values.chunks_exact_mut(inner).enumerate() {
        let factor = scale[run % channels];
        values
            .iter_mut()
            .for_each(|w| *w = (*w as f64 * factor) as f32);
    }
    let old_bias = conv_params
        .get(&ParamRole::Bias)
        .map(|b| b.values.clone())
        .unwrap_or_else(|| vec![0.0; channels]);
    let bias = (0..channels)
        .map(|c| ((old_bias[c] as f64 - mean[c] as f64) * scale[c] + beta[c] as f64) as f32)
        .collect();
    conv_params.insert(
        ParamRole::Bias,
        Tensor {
            shape: vec![channels],
            values: bias,
        },
    );
}

fn lower_layer(
    graph: &mut GraphBuilder,
    layer: &Layer,
    name: &str,
    params: &HashMap<ParamRole, Tensor>,
    input: &str,
    output: &str,
) {
    let mut inputs = vec![input.to_string()];
    let mut add_params = |graph: &mut GraphBuilder, roles: &[ParamRole]| {
        for &role in roles {
            if let Some(t) = params.get(&role) {
                inputs.push(graph.constant_f32(
                    &format!("{name}.{}", role.suffix()),
                    &t.shape,
                    &t.values,
                ));
            }
        }
    };
    let conv_attrs = |kernel: usize, stride: usize, padding: usize| {
        let (k, s, p) = (kernel as i64, stride as i64, padding as i64);
        vec![
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("strides", &[s, s]),
            attr_ints("pads", &[p, p, p, p]),
            attr_ints("dilations", &[1, 1]),
            attr_int("group", 1),
        ]
    };
    let (op, attributes) = match *layer {
        Layer::Linear { .. } => {
            add_params(graph, &[ParamRole::Weight, ParamRole::Bias]);
            ("Gemm", vec![attr_int("transB", 1)])
        }
        Layer::Conv2d {
            kernel,
            stride,
            padding,
            ..
        } => {
            add_params(graph, &[ParamRole::Weight, ParamRole::Bias]);
            ("Conv", conv_attrs(kernel, stride, padding))
        }
        Layer::ConvTranspose2d {
            kernel,
            stride,
            padding,
            ..
        } => {
            add_params(graph, &[ParamRole::Weight, ParamRole::Bias]);
            ("ConvTranspose", conv_attrs(kernel, stride, padding))
        }
        Layer::BatchNorm2d { eps, momentum, .. } => {
            add_params(
                graph,
                &[
                    ParamRole::Scale,
                    ParamRole::Shift,
                    ParamRole::RunningMean,
                    ParamRole::RunningVar,
                ],
            );
            // ONNX's momentum weighs the old running value: PyTorch's 0.1 is ONNX's 0.9.
            (
                "BatchNormalization",
                vec![
                    attr_float("epsilon", eps as f32),
                    attr_float("momentum", (1.0 - momentum) as f32),
                ],
            )
        }
        Layer::Activation(Activation::Relu) => ("Relu", vec![]),
        Layer::Activation(Activation::LeakyRelu { slope }) => {
            ("LeakyRelu", vec![attr_float("alpha", slope as f32)])
        }
        Layer::Activation(Activation::Tanh) => ("Tanh", vec![]),
        Layer::Activation(Activation::Sigmoid) => ("Sigmoid", vec![]),
        Layer::Reshape { ref shape } => {
            // 0 copies the batch dimension from the input.
            let dims: Vec<i64> = std::iter::once(0)
                .chain(shape.iter().map(|&d| d as i64))
                .collect();
            inputs.push(graph.constant_i64(&format!("{name}.shape"), &dims));
            ("Reshape", vec![])
        }
    };
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    graph.node(op, name, &refs, output, attributes);
}
