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

use crate::{FileError, RunModel};

pub const CONFIG_FILE: &str = "config.json";
pub const METRICS_FILE: &str = "metrics.csv";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const GENERATOR_FILE: &str = "generator.safetensors";
pub const DISCRIMINATOR_FILE: &str = "discriminator.safetensors";
/// The EMA generator of a run with `ema_decay` (same tensor names as the generator).
pub const GENERATOR_EMA_FILE: &str = "generator_ema.safetensors";
/// A classifier run's network (instead of the two GAN files).
pub const CLASSIFIER_FILE: &str = "classifier.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const STATE_FILE: &str = "state.json";

/// The format of `config.json` this version writes and the newest it reads. A file without a
/// `format` field predates versioning and is format 1.
pub const CONFIG_FORMAT: u32 = 1;

/// The `format` of a `config.json` without one.
pub fn unversioned_format() -> u32 {
    1
}

/// The part of `config.json` that consumers other than the trainer need.
#[derive(Debug, Clone, Deserialize)]
pub struct RunManifest {
    #[serde(default = "unversioned_format")]
    pub format: u32,
    pub model: RunModel,
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

/// Remove what a killed run left half-written: temporary files of the atomic writer (in the run
/// folder, `samples/` and `checkpoints/`) and partial checkpoint folders. Returns what it
/// removed. Only names this toolkit gives its temporaries are touched.
pub fn remove_stale_temporaries(run_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for dir in [
        run_dir.to_path_buf(),
        run_dir.join("samples"),
        run_dir.join(CHECKPOINTS_DIR),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(PARTIAL_PREFIX) && path.is_dir() {
                std::fs::remove_dir_all(&path)?;
                removed.push(path);
            } else if name.starts_with('.') && name.contains(".tmp-") && path.is_file() {
                std::fs::remove_file(&path)?;
                removed.push(path);
            }
        }
    }
    Ok(removed)
}

/// The name a checkpoint folder has while it is written: this prefix and its final name.
pub const PARTIAL_PREFIX: &str = ".partial-";

/// Read `run_dir/config.json` as `T` after checking its format version: a file written by a
/// newer version of this toolkit is refused with a message that says so.
pub fn read_config<T: serde::de::DeserializeOwned>(run_dir: &Path) -> Result<T, FileError> {
    let path = run_dir.join(CONFIG_FILE);
    let fail = |reason: String| FileError {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("cannot read the run configuration: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("not a valid run configuration ({e})")))?;
    let format = match value.get("format") {
        None => unversioned_format(),
        Some(f) => f
            .as_u64()
            .and_then(|f| u32::try_from(f).ok())
            .ok_or_else(|| fail(format!("format {f} is not a version number")))?,
    };
    if format > CONFIG_FORMAT {
        return Err(fail(format!(
            "written in run format {format} by a newer version of gan; this version reads formats up to {CONFIG_FORMAT}"
        )));
    }
    serde_json::from_value(value).map_err(|e| fail(format!("not a valid run configuration ({e})")))
}

/// Read the [`RunManifest`] from `run_dir/config.json`.
pub fn read_manifest(run_dir: &Path) -> Result<RunManifest, FileError> {
    read_config(run_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, json: &str) {
        std::fs::write(dir.join(CONFIG_FILE), json).unwrap();
    }

    #[test]
    fn unversioned_and_current_configs_are_read() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            r#"{"model": {"arch": "toy2d"}, "data": "toy2d"}"#,
        );
        let manifest = read_manifest(dir.path()).unwrap();
        assert_eq!(manifest.format, 1);
        assert_eq!(manifest.data, "toy2d");
        write(
            dir.path(),
            &format!(
                r#"{{"format": {CONFIG_FORMAT}, "model": {{"arch": "toy2d"}}, "data": "toy2d"}}"#
            ),
        );
        assert_eq!(read_manifest(dir.path()).unwrap().format, CONFIG_FORMAT);
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        std::fs::create_dir_all(run.join("checkpoints/.partial-step_000010")).unwrap();
        std::fs::create_dir_all(run.join("checkpoints/step_000005")).unwrap();
        std::fs::create_dir_all(run.join("samples")).unwrap();
        for file in [
            ".config.json.tmp-12-0",
            "samples/.step_000010.png.tmp-12-3",
            "config.json",
            "notes.tmp-1",
        ] {
            std::fs::write(run.join(file), "x").unwrap();
        }
        let mut removed = remove_stale_temporaries(run).unwrap();
        removed.sort();
        assert_eq!(
            removed,
            [
                run.join(".config.json.tmp-12-0"),
                run.join("checkpoints/.partial-step_000010"),
                run.join("samples/.step_000010.png.tmp-12-3"),
            ]
        );
        assert!(run.join("config.json").is_file() && run.join("notes.tmp-1").is_file());
        assert!(run.join("checkpoints/step_000005").is_dir());
    }

    /// Truncated and bit-flipped `config.json` files: read or refused by name, never a panic.
    #[test]
    fn mutated_configs_are_read_or_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let good = br#"{"format": 1, "model": {"arch": "dcgan", "image_size": 64, "channels": 3, "nz": 100, "ngf": 64, "ndf": 64}, "data": "shapes", "seed": 0}"#;
        for (case, bytes) in crate::fixtures::mutations(good, 100, 400)
            .iter()
            .enumerate()
        {
            std::fs::write(dir.path().join(CONFIG_FILE), bytes).unwrap();
            if let Err(e) = read_manifest(dir.path()) {
                assert!(e.to_string().contains("config.json"), "case {case}: {e}");
            }
        }
    }

    #[test]
    fn a_newer_format_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            r#"{"format": 99, "model": {"arch": "toy2d", "new_field": 1}, "data": "toy2d"}"#,
        );
        let err = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("config.json") && err.contains("format 99") && err.contains("newer"),
            "{err}"
        );
    }
}
