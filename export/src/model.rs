//! Exporting a run: one ONNX model per network, checked, then published atomically.

use std::path::{Path, PathBuf};

use gan_models::run_layout::{self, RunManifest};
use gan_models::weights::Weights;
use gan_models::{ArchConfig, CLASSIFIER_FEATURES, Network};
use prost::Message;

use crate::graph::{Batch, GraphBuilder, value_info};
use crate::onnx::{
    ModelProto, OperatorSetIdProto, StringStringEntryProto, data_type, ir_version_for_opset,
};
use crate::verify::{Reference, check_input, max_relative_difference, run_with_tract};
use crate::{ExportError, Role, pixel_byte, pixels, triton};

/// Largest accepted self-check difference, relative to the output scale.
pub const TOLERANCE: f32 = 1e-4;
/// The classifier's penultimate activations, the feature vector FID is computed on.
pub const FEATURES_OUTPUT: &str = "features";
/// Opsets whose operators this exporter's graphs are valid in.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Generator,
    Discriminator,
    Both,
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub which: Which,
    /// A checkpoint folder (or a file in one); default: the run's newest.
    pub checkpoint: Option<PathBuf>,
    pub opset: i64,
    pub fold_bn: bool,
    /// Rewrite stride-2 transposed convolutions into their sub-pixel form (faster in tract).
    pub subpixel: bool,
    pub batch: Batch,
    /// Add the RGBA8 `pixels` output to the generator.
    pub pixels: bool,
    /// Also lay out a Triton Inference Server model repository here.
    pub triton_repo: Option<PathBuf>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            which: Which::Both,
            checkpoint: None,
            opset: 17,
            fold_bn: true,
            subpixel: false,
            batch: Batch::Dynamic,
            pixels: false,
            triton_repo: None,
        }
    }
}

/// One written model.
#[derive(Debug, Clone)]
pub struct Exported {
    pub role: Role,
    pub path: PathBuf,
    pub bytes: u64,
    /// The self-check's largest difference from the reference, relative to the output scale.
    pub max_difference: f32,
}

/// Export the networks of the run in `run_dir` to `out_dir/{generator,discriminator}.onnx`.
pub fn export_run(
    run_dir: &Path,
    out_dir: &Path,
    options: &ExportOptions,
    reference: &Reference,
) -> Result<Vec<Exported>, ExportError> {
    if !OPSETS.contains(&options.opset) {
        return Err(ExportError::Invalid(format!(
            "opset {} is not supported; use {} to {}",
            options.opset,
            OPSETS.start(),
            OPSETS.end()
        )));
    }
    if options.batch == Batch::Fixed(0) {
        return Err(ExportError::Invalid("--batch must be at least 1".into()));
    }
    let manifest = run_layout::read_manifest(run_dir)?;
    let arch = &manifest.model;
    if options.pixels && !arch.is_image() {
        return Err(ExportError::Invalid(format!(
            "--pixels needs an image model; {} makes points",
            arch.name()
        )));
    }
    if options.triton_repo.is_some() && options.batch != Batch::Dynamic {
        return Err(ExportError::Invalid(
            "--triton-repo needs --batch dynamic (Triton batches requests itself)".into(),
        ));
    }
    let checkpoint = checkpoint_dir(run_dir, options.checkpoint.as_deref())?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| ExportError::file(out_dir, format!("cannot create the output folder: {e}")))?;
    let roles: Vec<Role> = match (options.which, arch.is_gan()) {
        (Which::Both, _) => arch.roles().to_vec(),
        (Which::Generator, true) => vec![Role::Generator],
        (Which::Discriminator, true) => vec![Role::Discriminator],
        (_, false) => {
            return Err(ExportError::Invalid(format!(
                "{} is a classifier run: it has no generator or discriminator (leave out --which)",
                run_dir.display()
            )));
        }
    };
    let mut exported = Vec::new();
    for role in roles {
        let path = out_dir.join(format!("{}.onnx", role.name()));
        let (bytes, plan) = compile(&manifest, &checkpoint, role, options)?;
        let max_difference = publish_checked(&path, &bytes, &plan, &checkpoint, reference)?;
        if let Some(repo) = &options.triton_repo {
            triton::write_model(
                repo,
                &format!("{}_{}", arch.name(), role.name()),
                &bytes,
                &plan.inputs,
                &plan.outputs,
            )?;
        }
        exported.push(Exported {
            role,
            path,
            bytes: bytes.len() as u64,
            max_difference,
        });
    }
    Ok(exported)
}

/// What a compiled graph takes and gives, for checks and serving configs.
pub(crate) struct GraphPlan {
    pub role: Role,
    /// The layer whose output is the `features` output, if any.
    pub features_layer: Option<usize>,
    pub batch: Batch,
    pub channels: usize,
    /// (name, ONNX elem type, per-sample dims).
    pub inputs: Vec<(String, i32, Vec<usize>)>,
    pub outputs: Vec<(String, i32, Vec<usize>)>,
}

fn compile(
    manifest: &RunManifest,
    checkpoint: &Path,
    role: Role,
    options: &ExportOptions,
) -> Result<(Vec<u8>, GraphPlan), ExportError> {
    let arch = &manifest.model;
    // The network's own output: `image` for a generator, `logit` for a discriminator, `logits`
    // for a classifier.
    let net = arch.network(role)?;
    let (input_name, output_name) = io_names(role);
    let mut weights = Weights::read(&checkpoint.join(role.checkpoint_file()))?;
    let steps = weights
        .metadata
        .get("gan.step")
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    let mut graph = GraphBuilder::default();
    let sample = arch.sample_shape();
    let float = data_type::FLOAT;
    let mut plan = GraphPlan {
        role,
        features_layer: arch.features_layer(),
        batch: options.batch,
        channels: sample[0],
        inputs: vec![(input_name.into(), float, net.input_shape.clone())],
        outputs: Vec::new(),
    };
    let tap = arch.features_layer().map(|layer| (layer, FEATURES_OUTPUT));
    let lowering = crate::graph::Lowering {
        fold_bn: options.fold_bn,
        subpixel: options.subpixel,
        tap,
        input: input_name,
        output: output_name,
    };
    crate::graph::lower_network(&mut graph, &net, &mut weights, &lowering)?;
    plan.outputs
        .push((output_name.into(), float, net.output_shape()?));
    match role {
        Role::Generator => {
            if options.pixels {
                pixels::lower_pixels(&mut graph, "image", sample[0], "pixels");
                plan.outputs.push((
                    "pixels".into(),
                    data_type::UINT8,
                    vec![sample[1], sample[2], 4],
                ));
            }
        }
        Role::Discriminator => {
            graph.node("Sigmoid", "prob", &["logit"], "prob", vec![]);
            plan.outputs.push(("prob".into(), float, vec![1]));
        }
        Role::Classifier => {
            plan.outputs
                .push((FEATURES_OUTPUT.into(), float, vec![CLASSIFIER_FEATURES]));
        }
    }
    let io = |list: &[(String, i32, Vec<usize>)]| {
        list.iter()
            .map(|(n, t, d)| value_info(n, *t, options.batch, d))
            .collect()
    };
    let graph = graph.finish(
        &format!("{}_{}", arch.name(), role.name()),
        io(&plan.inputs),
        io(&plan.outputs),
    );
    let model = ModelProto {
        ir_version: ir_version_for_opset(options.opset).expect("opset range checked"),
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
            .map(|(key, value)| StringStringEntryProto { key, value })
            .collect(),
    };
    Ok((model.encode_to_vec(), plan))
}

/// Input and main output names of each role's graph.
pub(crate) fn io_names(role: Role) -> (&'static str, &'static str) {
    match role {
        Role::Generator => ("z", "image"),
        Role::Discriminator => ("image", "logit"),
        Role::Classifier => ("image", "logits"),
    }
}

fn metadata(arch: &ArchConfig, role: Role, steps: &str, data: &str) -> Vec<(String, String)> {
    let sample = arch.sample_shape();
    if let ArchConfig::Classifier { classes, .. } = *arch {
        return [
            ("gan.role", role.name().to_string()),
            ("gan.arch", arch.name().to_string()),
            ("gan.classes", classes.to_string()),
            ("gan.channels", sample[0].to_string()),
            ("gan.height", sample[1].to_string()),
            ("gan.width", sample[2].to_string()),
            ("gan.normalize", "minus1_1".to_string()),
            ("gan.logits_output", "logits".to_string()),
            ("gan.features_output", FEATURES_OUTPUT.to_string()),
            ("gan.train_steps", steps.to_string()),
            ("gan.dataset", data.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    }
    let mut props = vec![
        ("gan.role", role.name().to_string()),
        ("gan.arch", arch.name().to_string()),
        ("gan.nz", arch.latent_dim().to_string()),
        ("gan.latent", "normal(0,1)".to_string()),
        ("gan.train_steps", steps.to_string()),
        ("gan.dataset", data.to_string()),
    ];
    if arch.is_image() {
        props.extend([
            ("gan.channels", sample[0].to_string()),
            ("gan.height", sample[1].to_string()),
            ("gan.width", sample[2].to_string()),
            ("gan.range", "-1,1".to_string()),
            ("gan.layout", "NCHW".to_string()),
        ]);
    } else {
        props.extend([
            ("gan.dims", sample[0].to_string()),
            ("gan.range", "unbounded".to_string()),
            ("gan.layout", "points".to_string()),
        ]);
    }
    props.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn doc_string(arch: &ArchConfig, role: Role, net: &Network, plan: &GraphPlan) -> String {
    let dims = |d: &[usize]| {
        d.iter()
            .map(|x| x.to_string())
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
                doc.push_str(" in [-1, 1], NCHW; pixel value = round((x + 1) * 127.5).");
            } else {
                doc.push_str(": 2-D points.");
            }
            if plan.outputs.iter().any(|(n, ..)| n == "pixels") {
                doc.push_str(
                    " Output `pixels`: uint8 [batch, H, W, 4] RGBA, ready to upload as a texture.",
                );
            }
            doc
        }
        Role::Discriminator => format!(
            "{} discriminator. Feed `image`: float32 [batch, {}] scaled to [-1, 1]. Outputs `logit` [batch, 1] and `prob` = sigmoid(logit), the probability that the input is real.",
            arch.name(),
            dims(&arch.sample_shape())
        ),
        Role::Classifier => format!(
            "Classifier for `gan eval`. Feed `image`: float32 [batch, {}] scaled to [-1, 1]. Outputs `logits` [batch, {}] (softmax gives class probabilities) and `features` [batch, {CLASSIFIER_FEATURES}], the penultimate activations used for FID.",
            dims(&arch.sample_shape()),
            net.output_shape().map(|s| s[0]).unwrap_or(0)
        ),
    }
}

fn checkpoint_dir(run_dir: &Path, given: Option<&Path>) -> Result<PathBuf, ExportError> {
    match given {
        Some(p) if p.is_dir() => Ok(p.to_path_buf()),
        Some(p) if p.is_file() => Ok(p.parent().unwrap_or(Path::new(".")).to_path_buf()),
        Some(p) => Err(ExportError::file(p, "checkpoint not found")),
        None => run_layout::latest_checkpoint(run_dir)
            .map_err(|e| ExportError::file(run_dir, e))?
            .map(|(_, dir)| dir)
            .ok_or_else(|| {
                ExportError::file(
                    &run_dir.join(run_layout::CHECKPOINTS_DIR),
                    "no complete checkpoint in this run",
                )
            }),
    }
}

/// Write `bytes` to a temporary file beside `path`, check it with tract against the reference,
/// and only then rename it to `path`. Returns the largest relative difference.
fn publish_checked(
    path: &Path,
    bytes: &[u8],
    plan: &GraphPlan,
    checkpoint: &Path,
    reference: &Reference,
) -> Result<f32, ExportError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, bytes)
        .map_err(|e| ExportError::file(path, format!("cannot write: {e}")))
        .and_then(|_| self_check(&tmp, plan, checkpoint, reference))
        .and_then(|diff| {
            std::fs::rename(&tmp, path)
                .map(|_| diff)
                .map_err(|e| ExportError::file(path, format!("cannot write: {e}")))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| match e {
        ExportError::Check { reason, .. } => ExportError::Check {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })
}

fn self_check(
    file: &Path,
    plan: &GraphPlan,
    checkpoint: &Path,
    reference: &Reference,
) -> Result<f32, ExportError> {
    let batch = match plan.batch {
        Batch::Dynamic => 3,
        Batch::Fixed(n) => n,
    };
    let per_sample = &plan.inputs[0].2;
    let input = check_input(plan.role, batch * per_sample.iter().product::<usize>());
    let shape: Vec<usize> = std::iter::once(batch)
        .chain(per_sample.iter().copied())
        .collect();
    let outputs = run_with_tract(file, &input, &shape)?;
    let reference_of = |stop: Option<usize>| {
        reference(plan.role, stop, checkpoint, &input, batch).map_err(|reason| ExportError::Check {
            path: file.to_path_buf(),
            reason: format!("reference forward pass failed: {reason}"),
        })
    };
    let expected = reference_of(None)?;
    let mut worst = 0f32;
    if outputs.len() != plan.outputs.len() {
        return Err(ExportError::Check {
            path: file.to_path_buf(),
            reason: format!("{} outputs, expected {}", outputs.len(), plan.outputs.len()),
        });
    }
    for ((name, ..), values) in plan.outputs.iter().zip(&outputs) {
        let diff = match name.as_str() {
            "image" | "logit" | "logits" => max_relative_difference(values, &expected),
            FEATURES_OUTPUT => max_relative_difference(values, &reference_of(plan.features_layer)?),
            "prob" => max_relative_difference(
                values,
                &expected
                    .iter()
                    .map(|&x| 1.0 / (1.0 + (-x).exp()))
                    .collect::<Vec<_>>(),
            ),
            // A pixel may round the other way when image differs by float noise: allow one step.
            "pixels" => {
                let want = rgba(&expected, plan.channels, batch);
                let off = values
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                if values.len() != want.len() || off > 1.0 {
                    f32::INFINITY
                } else {
                    0.0
                }
            }
            other => {
                return Err(ExportError::Check {
                    path: file.to_path_buf(),
                    reason: format!("unexpected output {other}"),
                });
            }
        };
        if diff.is_nan() || diff > TOLERANCE {
            return Err(ExportError::Check {
                path: file.to_path_buf(),
                reason: format!(
                    "output {name} differs from the reference by {diff:.3e} (tolerance {TOLERANCE:.0e}); the file was not written"
                ),
            });
        }
        worst = worst.max(diff);
    }
    Ok(worst)
}

/// NCHW images in [-1, 1] to NHWC RGBA bytes (as floats), as the `pixels` output defines them.
fn rgba(image: &[f32], channels: usize, batch: usize) -> Vec<f32> {
    let hw = image.len() / (batch * channels);
    let mut out = Vec::with_capacity(batch * hw * 4);
    for n in 0..batch {
        for p in 0..hw {
            for c in 0..3 {
                let x = image[(n * channels + c.min(channels - 1)) * hw + p];
                out.push(pixel_byte(x) as f32);
            }
            out.push(255.0);
        }
    }
    out
}
