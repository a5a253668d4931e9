//! Exporting a run: one ONNX model per network, compiled (`compile.rs`), checked
//! (`verify.rs`), then published atomically.

use std::path::{Path, PathBuf};

use gan_models::atomic;
use gan_models::{RunModel, run_layout};

use crate::builder::Batch;
use crate::compile::{GraphPlan, compile};
use crate::verify::{self, Reference};
use crate::{ExportError, Role, triton};

/// Opsets whose operators this exporter's graphs are valid in.
pub const OPSETS: std::ops::RangeInclusive<i64> = 13..=21;

/// Which networks of a GAN run to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Only the generator.
    Generator,
    /// Only the discriminator.
    Discriminator,
    /// Every network of the run.
    Both,
}

/// How to export a run.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Which networks.
    pub which: Which,
    /// A checkpoint folder (or a file in one); default: the run's newest.
    pub checkpoint: Option<PathBuf>,
    /// ONNX opset ([`OPSETS`]).
    pub opset: i64,
    /// Fold eval-mode BatchNorm into the convolution before it.
    pub fold_bn: bool,
    /// Rewrite stride-2 transposed convolutions into their sub-pixel form (faster in tract).
    pub subpixel: bool,
    /// The batch axis of inputs and outputs.
    pub batch: Batch,
    /// Export the EMA generator when the run keeps one (the default); `false` exports the raw
    /// generator weights.
    pub ema: bool,
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
            ema: true,
            pixels: false,
            triton_repo: None,
        }
    }
}

/// One written model.
#[derive(Debug, Clone)]
pub struct Exported {
    /// Which network.
    pub role: Role,
    /// The published file.
    pub path: PathBuf,
    /// Its size.
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
        return Err(ExportError::InvalidOption {
            field: "opset",
            reason: format!(
                "{} is not supported; use {} to {}",
                options.opset,
                OPSETS.start(),
                OPSETS.end()
            ),
        });
    }
    if options.batch == Batch::Fixed(0) {
        return Err(ExportError::InvalidOption {
            field: "batch",
            reason: "must be at least 1".into(),
        });
    }
    let manifest = run_layout::read_manifest(run_dir)?;
    let arch = &manifest.model;
    if options.pixels && !arch.is_image() {
        return Err(ExportError::InvalidOption {
            field: "pixels",
            reason: format!("needs an image model; {} makes points", arch.name()),
        });
    }
    if options.triton_repo.is_some() && options.batch != Batch::Dynamic {
        return Err(ExportError::InvalidOption {
            field: "triton_repo",
            reason: "needs a dynamic batch (Triton batches requests itself)".into(),
        });
    }
    let checkpoint = checkpoint_dir(run_dir, options.checkpoint.as_deref())?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| ExportError::file(out_dir, format!("cannot create the output folder: {e}")))?;
    let roles: Vec<Role> = match (options.which, arch) {
        (Which::Both, _) => arch.roles().to_vec(),
        (Which::Generator, RunModel::Gan(_)) => vec![Role::Generator],
        (Which::Discriminator, RunModel::Gan(_)) => vec![Role::Discriminator],
        (_, RunModel::Classifier(_)) => {
            return Err(ExportError::InvalidOption {
                field: "which",
                reason: format!(
                    "{} is a classifier run: it has no generator or discriminator (export both)",
                    run_dir.display()
                ),
            });
        }
    };
    let mut exported = Vec::new();
    for role in roles {
        let path = out_dir.join(format!("{}.onnx", role.name()));
        let (bytes, plan) = compile(&manifest, &checkpoint, role, options)?;
        let max_difference = publish_checked(&path, &bytes, &plan, reference)?;
        if let Some(repo) = &options.triton_repo {
            triton::write_model(
                repo,
                &format!("{}_{}", arch.name(), role.name()),
                &bytes,
                &plan,
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

/// Write `bytes` to a temporary file beside `path`, check it against the reference, and only
/// then rename it to `path`. Returns the largest relative difference.
fn publish_checked(
    path: &Path,
    bytes: &[u8],
    plan: &GraphPlan,
    reference: &Reference,
) -> Result<f32, ExportError> {
    let tmp = atomic::temporary_path(path);
    let result = atomic::write_file(&tmp, bytes)
        .map_err(|e| ExportError::file(path, format!("cannot write: {e}")))
        .and_then(|()| verify::self_check(&tmp, plan, reference))
        .and_then(|diff| {
            std::fs::rename(&tmp, path)
                .map(|()| diff)
                .map_err(|e| ExportError::file(path, format!("cannot write: {e}")))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    // The check ran on the temporary file; report the file the user asked for.
    result.map_err(|e| match e {
        ExportError::Check { reason, .. } => ExportError::Check {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    })
}
