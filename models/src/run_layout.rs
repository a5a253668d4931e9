//! The layout of a training run folder, shared by the trainer that writes it and the exporter
//! that reads it (neither depends on the other).
//!
//! ```text
//! RUN_DIR/config.json                      everything needed to rebuild the models
//! RUN_DIR/metrics.csv                      one row per training step
//! RUN_DIR/losses.png, samples/step_NNNNNN.png
//! RUN_DIR/checkpoints/step_NNNNNN/generator.safetensors      tensors named layers.{i}.{weight,bias,
//! RUN_DIR/checkpoints/step_NNNNNN/discriminator.safetensors    running_mean,running_var}
//! RUN_DIR/checkpoints/step_NNNNNN/optimizer.safetensors      Adam moments: {generator,discriminator}.<name>.exp_avg[_sq]
//! RUN_DIR/checkpoints/step_NNNNNN/state.json                 step, epoch, RNG position; written last
//! ```
//! A checkpoint folder is complete once it has its final name: it is written under a temporary
//! name and renamed.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{ArchConfig, FileError};

pub const CONFIG_FILE: &str = "config.json";
pub const METRICS_FILE: &str = "metrics.csv";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const GENERATOR_FILE: &str = "generator.safetensors";
pub const DISCRIMINATOR_FILE: &str = "discriminator.safetensors";
/// A classifier run's network (instead of the two GAN files).
pub const CLASSIFIER_FILE: &str = "classifier.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const STATE_FILE: &str = "state.json";

/// The part of `config.json` that consumers other than the trainer need.
#[derive(Debug, Clone, Deserialize)]
pub struct RunManifest {
    pub model: ArchConfig,
    /// The training data as given on the command line (`toy2d`, `mnist:DIR`, `DIR`).
    pub data: String,
}

pub fn checkpoint_dir(run_dir: &Path, step: u64) -> PathBuf {
    run_dir
        .join(CHECKPOINTS_DIR)
        .join(format!("step_{step:06}"))
}

/// Completed checkpoints of a run, oldest first, as (step, folder).
pub fn checkpoints(run_dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let dir = run_dir.join(CHECKPOINTS_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step_"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(step) = step.filter(|_| path.join(STATE_FILE).is_file()) {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// The newest completed checkpoint, if any.
pub fn latest_checkpoint(run_dir: &Path) -> std::io::Result<Option<(u64, PathBuf)>> {
    Ok(checkpoints(run_dir)?.pop())
}

/// Read the [`RunManifest`] from `run_dir/config.json`.
pub fn read_manifest(run_dir: &Path) -> Result<RunManifest, FileError> {
    let path = run_dir.join(CONFIG_FILE);
    let fail = |reason: String| FileError {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("cannot read the run configuration: {e}")))?;
    serde_json::from_str(&text).map_err(|e| fail(format!("not a valid run configuration ({e})")))
}
