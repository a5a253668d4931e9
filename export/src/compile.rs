//! Compiling one network of a run into an ONNX model: lower its layers, add the outputs its role
//! has, and describe the file (`metadata_props` from `gan-contract`, a doc string for people).

use std::path::{Path, PathBuf};

use gan_contract::metadata::{self as meta, LATENT_NORMAL, LAYOUT_NCHW, LAYOUT_POINTS};
use gan_contract::pixels::OutputRange;
use gan_contract::tensor;
use gan_models::run_layout::{self, RunManifest};
use gan_models::weights::Weights;
use gan_models::{ArchConfig, CLASSIFIER_FEATURES, Network, RunModel};
use prost::Message;

use crate::builder::{Batch, GraphBuilder, value_info};
use crate::io::{ElemType, GraphValue, Output};
use crate::lower::{Lowering, lower_network};
use crate::onnx::{ModelProto, OperatorSetIdProto, StringStringEntryProto, ir_version_for_opset};
use crate::{ExportError, ExportOptions, Role, pixels};

/// What a compiled graph takes and gives, for the self-check and serving configs.
pub(crate) struct GraphPlan {
    pub role: Role,
    /// The layer whose output is the `features` output, if any.
    pub features_layer: Option<usize>,
    pub batch: Batch,
    pub channels: usize,
    /// The main input, then a conditional network's `label`.
    pub inputs: Vec<GraphValue>,
    /// A conditional network's class count (0: unconditional).
    pub classes: usize,
    pub outputs: Vec<(Output, GraphValue)>,
    /// The checkpoint tensor file the graph's weights come from.
    pub weights: PathBuf,
}

impl GraphPlan {
    /// The input and the outputs, as Triton and `value_info` list them.
    pub fn values(&self) -> (Vec<&GraphValue>, Vec<&GraphValue>) {
        (
            self.inputs.iter().collect(),
            self.outputs.iter().map(|(_, v)| v).collect(),
        )
    }
}

/// The encoded model of `role` from the checkpoint folder `checkpoint`, and its plan.
pub(crate) fn compile(
    manifest: &RunManifest,
    checkpoint: &Path,
    role: Role,
    options: &ExportOptions,
) -> Result<(Vec<u8>, GraphPlan), ExportError> {
    let arch = &manifest.model;
    let net = arch.network(role)?;
    let weights_file = weights_file(checkpoint, role, options.ema);
    let mut weights = Weights::read(&weights_file)?;
    let steps = weights
        .metadata
        .get(meta::STEP)
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let mut graph = GraphBuilder::default();
    let mut plan = lower_role(&mut graph, arch, &net, role, &mut weights, options)?;
    plan.weights = weights_file;
    let (inputs, outputs) = plan.values();
    let io = |list: Vec<&GraphValue>| {
        list.into_iter()
            .map(|v| value_info(v.name, v.elem.onnx(), options.batch, &v.dims))
            .collect()
    };
    let graph = graph.finish(
        &format!("{}_{}", arch.name(), role.name()),
        io(inputs),
        io(outputs),
    );
    let ir_version = ir_version_for_opset(options.opset).ok_or_else(|| {
        ExportError::Invalid(format!("opset {} has no IR version", options.opset))
    })?;
    let model = ModelProto {
        ir_version,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: options.opset,
        }],
        producer_name: "gan-export".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        domain: String::new(),
        model_version: 1,
        doc_string: doc_string(arch, role, &net, &plan),
        graph: Some(graph),
        metadata_props: metadata(arch, role, &steps, &manifest.data)
            .into_iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.to_string(),
                value,
            })
            .collect(),
        ..Default::default()
    };
    Ok((model.encode_to_vec(), plan))
}

/// Lower the network and the outputs its role adds.
fn lower_role(
    graph: &mut GraphBuilder,
    arch: &RunModel,
    net: &Network,
    role: Role,
    weights: &mut Weights,
    options: &ExportOptions,
) -> Result<GraphPlan, ExportError> {
    let sample = arch.sample_shape();
    let (input, main) = io_names(role);
    let main_output = match role {
        Role::Generator => Output::Image,
        Role::Discriminator => Output::Logit,
        Role::Classifier => Output::Logits,
    };
    let lowering = Lowering {
        fold_bn: options.fold_bn,
        subpixel: options.subpixel,
        tap: features_layer(arch).map(|layer| (layer, tensor::FEATURES)),
        input,
        label: net.label.map(|_| tensor::LABEL),
        output: main,
    };
    lower_network(graph, net, weights, &lowering)?;
    let mut outputs = vec![(main_output, GraphValue::float(main, net.output_shape()?))];
    outputs.extend(lower_extra_output(graph, role, &sample, options));
    Ok(GraphPlan {
        role,
        features_layer: features_layer(arch),
        batch: options.batch,
        channels: sample[0],
        inputs: std::iter::once(GraphValue::float(input, net.input_shape.clone()))
            .chain(net.label.map(|_| GraphValue::label()))
            .collect(),
        classes: net.label.map_or(0, |l| l.classes),
        outputs,
        weights: PathBuf::new(),
    })
}

/// The output a role has beside its main one, its nodes appended to `graph`: a generator's
/// RGBA `pixels` (when asked for), a discriminator's `prob`, a classifier's `features` (tapped
/// during lowering, so no node here).
fn lower_extra_output(
    graph: &mut GraphBuilder,
    role: Role,
    sample: &[usize],
    options: &ExportOptions,
) -> Option<(Output, GraphValue)> {
    match role {
        Role::Generator if options.pixels => {
            pixels::lower_pixels(graph, tensor::IMAGE, sample[0], tensor::PIXELS);
            Some((
                Output::Pixels,
                GraphValue {
                    name: tensor::PIXELS,
                    elem: ElemType::Uint8,
                    dims: vec![sample[1], sample[2], 4],
                },
            ))
        }
        Role::Generator => None,
        Role::Discriminator => {
            graph.node(
                "Sigmoid",
                tensor::PROB,
                &[tensor::LOGIT],
                tensor::PROB,
                vec![],
            );
            Some((Output::Prob, GraphValue::float(tensor::PROB, vec![1])))
        }
        Role::Classifier => Some((
            Output::Features,
            GraphValue::float(tensor::FEATURES, vec![CLASSIFIER_FEATURES]),
        )),
    }
}

/// The tensor file of `role` in `checkpoint`: the EMA generator's when the run keeps one and
/// `ema` asks for it, else the network's own.
fn weights_file(checkpoint: &Path, role: Role, ema: bool) -> PathBuf {
    let ema_file = checkpoint.join(run_layout::GENERATOR_EMA_FILE);
    if role == Role::Generator && ema && ema_file.is_file() {
        ema_file
    } else {
        checkpoint.join(role.checkpoint_file())
    }
}

/// The layer tapped as the `features` output: the classifier's.
fn features_layer(model: &RunModel) -> Option<usize> {
    match model {
        RunModel::Classifier(arch) => Some(arch.features_layer()),
        RunModel::Gan(_) => None,
    }
}

/// Input and main output names of each role's graph.
pub(crate) fn io_names(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Generator => (tensor::LATENT, tensor::IMAGE),
        Role::Discriminator => (tensor::IMAGE, tensor::LOGIT),
        Role::Classifier => (tensor::IMAGE, tensor::LOGITS),
    }
}

/// The `metadata_props` of a model, keys from `gan_contract::metadata`.
fn metadata(model: &RunModel, role: Role, steps: &str, data: &str) -> Vec<(&'static str, String)> {
    let sample = model.sample_shape();
    let mut props = vec![
        (meta::ROLE, role.name().to_string()),
        (meta::ARCH, model.name().to_string()),
    ];
    match model {
        RunModel::Classifier(arch) => props.extend([
            (
                meta::CLASSES,
                class_list((0..arch.classes).map(|c| c.to_string())),
            ),
            (meta::CHANNELS, sample[0].to_string()),
            (meta::HEIGHT, sample[1].to_string()),
            (meta::WIDTH, sample[2].to_string()),
            (meta::NORMALIZE, meta::NORMALIZE_MINUS1_1.to_string()),
            (meta::LOGITS_OUTPUT, tensor::LOGITS.to_string()),
            (meta::FEATURES_OUTPUT, tensor::FEATURES.to_string()),
        ]),
        RunModel::Gan(arch) => props.extend(gan_metadata(arch)),
    }
    props.extend([
        (meta::TRAIN_STEPS, steps.to_string()),
        (meta::DATASET, data.to_string()),
    ]);
    props
}

/// What a GAN's files say about its latent and samples.
fn gan_metadata(arch: &ArchConfig) -> Vec<(&'static str, String)> {
    let sample = arch.sample_shape();
    let mut props = vec![
        (meta::NZ, arch.latent_dim().to_string()),
        (meta::LATENT, LATENT_NORMAL.to_string()),
    ];
    if !arch.classes().is_empty() {
        props.extend([
            (meta::CONDITIONAL, "true".to_string()),
            (meta::CLASSES, class_list(arch.classes().iter().cloned())),
        ]);
    }
    if arch.is_image() {
        props.extend([
            (meta::CHANNELS, sample[0].to_string()),
            (meta::HEIGHT, sample[1].to_string()),
            (meta::WIDTH, sample[2].to_string()),
            (meta::RANGE, OutputRange::MinusOneToOne.as_str().to_string()),
            (meta::LAYOUT, LAYOUT_NCHW.to_string()),
        ]);
    } else {
        props.extend([
            (meta::DIMS, sample[0].to_string()),
            (meta::RANGE, meta::RANGE_UNBOUNDED.to_string()),
            (meta::LAYOUT, LAYOUT_POINTS.to_string()),
        ]);
    }
    props
}

/// Class names as the JSON list [`meta::CLASSES`] holds.
fn class_list(names: impl Iterator<Item = String>) -> String {
    serde_json::to_string(&names.collect::<Vec<_>>()).expect("strings encode")
}

fn doc_string(arch: &RunModel, role: Role, net: &Network, plan: &GraphPlan) -> String {
    let dims = |d: &[usize]| {
        d.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match role {
        Role::Generator => {
            let mut doc = format!(
                "{} generator. Feed `z`: float32 [batch, {}] drawn from the standard normal N(0, 1). Output `image`: float32 [batch, {}]",
                arch.name(),
                net.input_shape[0],
                dims(&arch.sample_shape())
            );
            if arch.is_image() {
                doc.push_str(
                    " in [-1, 1], NCHW; pixel value = round((x + 1) * 127.5), ties to even.",
                );
            } else {
                doc.push_str(": 2-D points.");
            }
            if let Some(label) = &net.label {
                doc.push_str(&format!(
                    " Feed `label`: int64 [batch], the class of each sample, 0 to {} (names in metadata gan.classes).",
                    label.classes - 1
                ));
            }
            if plan.outputs.iter().any(|(o, _)| *o == Output::Pixels) {
                doc.push_str(
                    " Output `pixels`: uint8 [batch, H, W, 4] RGBA, ready to upload as a texture.",
                );
            }
            doc
        }
        Role::Discriminator => format!(
            "{} discriminator. Feed `image`: float32 [batch, {}] scaled to [-1, 1]{}. Outputs `logit` [batch, 1] and `prob` = sigmoid(logit), the probability that the input is real.",
            arch.name(),
            dims(&arch.sample_shape()),
            if net.label.is_some() {
                ", and `label`: int64 [batch], the class it should be"
            } else {
                ""
            }
        ),
        Role::Classifier => format!(
            "Classifier for `gan eval`. Feed `image`: float32 [batch, {}] scaled to [-1, 1]. Outputs `logits` [batch, {}] (softmax gives class probabilities) and `features` [batch, {CLASSIFIER_FEATURES}], the penultimate activations used for FID.",
            dims(&arch.sample_shape()),
            net.output_shape().map_or(0, |s| s[0])
        ),
    }
}
