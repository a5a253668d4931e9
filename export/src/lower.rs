//! Lowering a `gan_models::Network` with its weights to ONNX nodes: one node (or a few) per
//! layer, walking the same layer list training runs, carrying out for each layer what
//! `passes::plan` decided (the passes own when they apply and their order).

use std::collections::HashMap;

use gan_models::weights::{Tensor, Weights};
use gan_models::{Activation, Conv, LabelSite, Layer, Network, ParamRole, ParamSite};

use crate::ExportError;
use crate::builder::{GraphBuilder, attr_float, attr_int, attr_ints};
use crate::onnx::AttributeProto;
use crate::passes::{self, Passes, fold_bn, fold_spectral_norm};
use crate::{composite, label};

/// A network's parameters: per layer and role, and a conditional network's label embedding.
type Params = (Vec<HashMap<ParamRole, Tensor>>, Option<Tensor>);

/// Every parameter of `net` read from `weights` (all checked up front, so a missing or
/// misshapen tensor fails before anything is written).
fn read_params(net: &Network, weights: &mut Weights) -> Result<Params, ExportError> {
    let mut per_layer: Vec<HashMap<ParamRole, Tensor>> =
        net.layers.iter().map(|_| HashMap::new()).collect();
    let mut embedding = None;
    // A discriminator's decoders train it and are not part of the graph.
    let exported = net
        .params()
        .into_iter()
        .filter(|e| !matches!(e.site, ParamSite::Decoder { .. }));
    for entry in exported {
        let tensor = weights.take(&entry.name, &entry.spec.shape)?;
        match entry.site {
            ParamSite::Layer(i) => {
                per_layer[i].insert(entry.spec.role, tensor);
            }
            ParamSite::LabelEmbedding => embedding = Some(tensor),
            ParamSite::Decoder { .. } => unreachable!("decoder tensors are not read"),
        }
    }
    Ok((per_layer, embedding))
}

/// How a network is lowered.
pub struct Lowering<'a> {
    pub fold_bn: bool,
    pub subpixel: bool,
    /// A layer whose output also becomes a graph output, under this name.
    pub tap: Option<(usize, &'a str)>,
    pub input: &'a str,
    /// The class label input of a conditional network.
    pub label: Option<&'a str>,
    pub output: &'a str,
}

/// Append the nodes of `net` to `graph`, reading from value `input` (and a conditional
/// network's `label`) and writing the network's output to value `output`. With `fold_bn`, each
/// BatchNorm2d that follows a (transposed) convolution is folded into that convolution's
/// weights and bias.
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
        label: label_input,
        output,
    } = *lowering;
    let passes = Passes { fold_bn, subpixel };
    let (mut params, embedding) = read_params(net, weights)?;
    let embedded = match (net.label, &embedding, label_input) {
        (None, None, None) => None,
        (Some(_), Some(table), Some(label)) => Some(label::embed(graph, table, label)),
        _ => {
            return Err(ExportError::Invalid(
                "a conditional network needs its label input and embedding".into(),
            ));
        }
    };
    let site = net.label.map(|l| l.site);
    let mut current = match (&embedded, site) {
        (Some(e), Some(LabelSite::Joined)) => label::join(graph, input, e),
        _ => input.to_string(),
    };
    // A projection discriminator's last layer writes the plain logit, and the projection term
    // is added to it.
    let mut projection = None;
    let last_output = match site {
        Some(LabelSite::Projection { .. }) => graph.fresh("unprojected_logit"),
        _ => output.to_string(),
    };
    let shapes = net.shapes()?;
    // The value each layer's output is (a layer a pass consumed has none of its own).
    let mut values: Vec<Option<String>> = vec![None; net.layers.len()];
    let mut i = 0;
    while i < net.layers.len() {
        if let (Some(e), Some(LabelSite::Projection { head })) = (&embedded, site)
            && head == i
        {
            projection = Some(label::project(graph, &current, e));
        }
        let layer = &net.layers[i];
        let plan = passes::plan(&net.layers, i, passes);
        let consumed = plan.consumed();
        let is_last = i + consumed == net.layers.len();
        let last_layer = i + consumed - 1;
        let out = match tap {
            _ if is_last => last_output.clone(),
            // A tapped value is a graph output under its own name.
            Some((layer, name)) if layer == last_layer => name.to_string(),
            _ => graph.fresh(&format!("layers.{last_layer}")),
        };
        let name = format!("layers.{i}");
        let mut own = std::mem::take(&mut params[i]);
        fold_spectral_norm::fold_spectral_norm(layer, &mut own)?;
        if let Some(eps) = plan.fold_bn {
            let transposed = matches!(layer, Layer::Conv(c) if c.transposed);
            fold_bn::fold_batch_norm(transposed, &mut own, &params[i + 1], eps)?;
        }
        if plan.subpixel {
            let weight = &own[&ParamRole::Weight];
            let bias = own.get(&ParamRole::Bias);
            passes::subpixel::lower(graph, &name, weight, bias, &current, &out);
        } else if let Layer::Upsample { factor } = *layer {
            composite::upsample(graph, &name, factor, &current, &out);
        } else if let Layer::Glu = layer {
            composite::glu(graph, &name, shapes[i][0], &current, &out);
        } else if let Layer::Excite(excite) = layer {
            let source = values[excite.from].as_deref().ok_or_else(|| {
                ExportError::Invalid(format!(
                    "layer {i} is gated by layer {}, whose output a pass removed",
                    excite.from
                ))
            })?;
            let side = shapes[excite.from + 1][1];
            let gate = composite::Gate {
                excite,
                source,
                side,
            };
            gate.lower(graph, &name, &own, &current, &out)?;
        } else {
            lower_layer(graph, layer, &name, &own, &current, &out);
        }
        values[last_layer] = Some(out.clone());
        current = out;
        i += consumed;
    }
    if let Some(term) = projection {
        graph.node("Add", "add_projection", &[&current, &term], output, vec![]);
    }
    Ok(())
}

pub(crate) fn lower_layer(
    graph: &mut GraphBuilder,
    layer: &Layer,
    name: &str,
    params: &HashMap<ParamRole, Tensor>,
    input: &str,
    output: &str,
) {
    let (op, roles, attributes) = operator(layer);
    let mut inputs = vec![input.to_string()];
    // Each parameter the layer has, in the operator's input order, as an initialiser.
    for role in roles {
        if let Some(t) = params.get(role) {
            inputs.push(graph.constant_f32(
                &format!("{name}.{}", role.suffix()),
                &t.shape,
                &t.values,
            ));
        }
    }
    if let Layer::Reshape { shape } = layer {
        // 0 copies the batch dimension from the input.
        let dims: Vec<i64> = std::iter::once(0)
            .chain(shape.iter().map(|&d| d as i64))
            .collect();
        inputs.push(graph.constant_i64(&format!("{name}.shape"), &dims));
    }
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    graph.node(op, name, &refs, output, attributes);
}

/// The ONNX operator of a layer: its type, the parameters it takes after the input (in order),
/// and its attributes.
fn operator(layer: &Layer) -> (&'static str, &'static [ParamRole], Vec<AttributeProto>) {
    const WEIGHT_BIAS: &[ParamRole] = &[ParamRole::Weight, ParamRole::Bias];
    match *layer {
        Layer::Linear { .. } => ("Gemm", WEIGHT_BIAS, vec![attr_int("transB", 1)]),
        Layer::Conv(ref conv) => {
            let op = if conv.transposed {
                "ConvTranspose"
            } else {
                "Conv"
            };
            (op, WEIGHT_BIAS, conv_attributes(conv))
        }
        Layer::BatchNorm2d { eps, momentum, .. } => (
            "BatchNormalization",
            &[
                ParamRole::Scale,
                ParamRole::Shift,
                ParamRole::RunningMean,
                ParamRole::RunningVar,
            ],
            // ONNX's momentum weighs the old running value: PyTorch's 0.1 is ONNX's 0.9.
            vec![
                attr_float("epsilon", eps as f32),
                attr_float("momentum", (1.0 - momentum) as f32),
            ],
        ),
        Layer::Activation(Activation::Relu) => ("Relu", &[], vec![]),
        Layer::Activation(Activation::LeakyRelu { slope }) => {
            ("LeakyRelu", &[], vec![attr_float("alpha", slope as f32)])
        }
        Layer::Activation(Activation::Tanh) => ("Tanh", &[], vec![]),
        Layer::Activation(Activation::Sigmoid) => ("Sigmoid", &[], vec![]),
        Layer::Reshape { .. } => ("Reshape", &[], vec![]),
        Layer::Upsample { .. } | Layer::Glu | Layer::Excite(_) => {
            unreachable!("lowered to several nodes by lower_network")
        }
    }
}

/// A convolution's attributes: square kernel, equal strides and pads, no dilation, one group.
fn conv_attributes(conv: &Conv) -> Vec<AttributeProto> {
    let (k, s, p) = (conv.kernel as i64, conv.stride as i64, conv.padding as i64);
    vec![
        attr_ints("kernel_shape", &[k, k]),
        attr_ints("strides", &[s, s]),
        attr_ints("pads", &[p, p, p, p]),
        attr_ints("dilations", &[1, 1]),
        attr_int("group", 1),
    ]
}
