//! Checkpoints: both networks, both optimisers and the trainer's position, written as a folder
//! under a temporary name and renamed into place (see `gan_models::run_layout`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use gan_models::run_layout::{
    self, DISCRIMINATOR_FILE, GENERATOR_EMA_FILE, GENERATOR_FILE, OPTIMIZER_FILE, STATE_FILE,
};
use serde::{Deserialize, Serialize};

use crate::adam::Adam;
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::net::Net;
use crate::rng::SeededRng;
use crate::tensor_file::{self, TensorFile};

/// The trainer's position, `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub step: u64,
    pub epoch: u64,
    /// Position of the training RNG stream (a u128, as a decimal string for JSON).
    pub rng_position: String,
    pub adam_steps_g: u64,
    pub adam_steps_d: u64,
    /// The augmentation probability, where it adapts (`augment_p: auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment_p: Option<f64>,
}

/// Everything a checkpoint restores.
pub struct Checkpoint {
    pub state: TrainState,
    pub generator: Net,
    pub discriminator: Net,
    pub opt_g: Adam,
    pub opt_d: Adam,
    /// The EMA generator, in runs with `ema_decay`.
    pub generator_ema: Option<Net>,
}

impl Checkpoint {
    /// The state of a new run: both networks drawn from `init`, fresh optimisers, the EMA
    /// generator (when `ema_decay` asks for one) equal to the generator, step 0 with the
    /// training stream at `rng_position`.
    pub fn fresh(
        config: &TrainConfig,
        init: &mut SeededRng,
        rng_position: u128,
        device: &Device,
    ) -> Result<Self> {
        let generator = Net::init(config.model.generator()?, init, device)?;
        let discriminator = Net::init(config.model.discriminator()?, init, device)?;
        let generator_ema = match config.ema_decay {
            Some(_) => Some(generator.duplicate(device)?),
            None => None,
        };
        Ok(Checkpoint {
            state: TrainState {
                step: 0,
                epoch: 0,
                rng_position: rng_position.to_string(),
                adam_steps_g: 0,
                adam_steps_d: 0,
                augment_p: (config.augment_p == Some(crate::augment::AugmentChance::Auto))
                    .then(|| config.initial_augment_p()),
            },
            opt_g: Adam::new(&generator, config.lr_g, config.beta1, config.beta2)?,
            opt_d: Adam::new(&discriminator, config.lr_d, config.beta1, config.beta2)?,
            generator,
            discriminator,
            generator_ema,
        })
    }
}

/// Save a checkpoint of `run_dir` at `state.step`; returns its folder.
pub fn save(
    run_dir: &Path,
    ck: &Checkpoint,
    metadata: &HashMap<String, String>,
) -> Result<PathBuf> {
    write_folder(run_dir, ck.state.step, |tmp_dir| {
        ck.generator
            .save(&tmp_dir.join(GENERATOR_FILE), metadata.clone())?;
        ck.discriminator
            .save(&tmp_dir.join(DISCRIMINATOR_FILE), metadata.clone())?;
        if let Some(ema) = &ck.generator_ema {
            ema.save(&tmp_dir.join(GENERATOR_EMA_FILE), metadata.clone())?;
        }
        let mut moments = prefixed("generator", ck.opt_g.named_state(&ck.generator));
        moments.extend(prefixed(
            "discriminator",
            ck.opt_d.named_state(&ck.discriminator),
        ));
        crate::error::write_file(
            &tmp_dir.join(OPTIMIZER_FILE),
            &tensor_file::to_bytes(&moments, metadata.clone())?,
        )?;
        let state = serde_json::to_vec_pretty(&ck.state).expect("state serialises");
        crate::error::write_file(&tmp_dir.join(STATE_FILE), &state)
    })
}

/// The checkpoint folder protocol of `gan_models::run_layout`: `write` fills a temporary folder
/// (its `state.json` last), which is then renamed to the folder of `step`; returns that folder.
pub fn write_folder(
    run_dir: &Path,
    step: u64,
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let final_dir = run_layout::checkpoint_dir(run_dir, step);
    let tmp_dir = final_dir.with_file_name(format!("{}step_{step:06}", run_layout::PARTIAL_PREFIX));
    let io = |p: &Path, e| TrainError::io(p, e);
    if tmp_dir.exists() {
        std::fs::remove_dir_all(&tmp_dir).map_err(|e| io(&tmp_dir, e))?;
    }
    std::fs::create_dir_all(&tmp_dir).map_err(|e| io(&tmp_dir, e))?;
    write(&tmp_dir)?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| io(&final_dir, e))?;
    }
    std::fs::rename(&tmp_dir, &final_dir).map_err(|e| io(&final_dir, e))?;
    Ok(final_dir)
}

/// Load the checkpoint in `dir` for networks described by `g_desc` and `d_desc`.
/// Load the checkpoint in `dir`; `ema` says whether the run keeps an EMA generator.
pub fn load(
    dir: &Path,
    g_desc: gan_models::Network,
    d_desc: gan_models::Network,
    betas: (f64, f64, f64, f64),
    ema: bool,
    device: &Device,
) -> Result<Checkpoint> {
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
    let state: TrainState = serde_json::from_str(&text).map_err(|e| {
        TrainError::bad_file(&state_path, format!("not a valid training state ({e})"))
    })?;
    let generator_ema = if ema {
        Some(Net::load(
            g_desc.clone(),
            &dir.join(GENERATOR_EMA_FILE),
            device,
        )?)
    } else {
        None
    };
    let generator = Net::load(g_desc, &dir.join(GENERATOR_FILE), device)?;
    let discriminator = Net::load(d_desc, &dir.join(DISCRIMINATOR_FILE), device)?;
    let (lr_d, lr_g, beta1, beta2) = betas;
    let mut opt_g = Adam::new(&generator, lr_g, beta1, beta2)?;
    let mut opt_d = Adam::new(&discriminator, lr_d, beta1, beta2)?;
    let mut moments = TensorFile::read(&dir.join(OPTIMIZER_FILE), device)?;
    opt_g.restore(&generator, state.adam_steps_g, |n, s| {
        moments.take(&format!("generator.{n}"), s)
    })?;
    opt_d.restore(&discriminator, state.adam_steps_d, |n, s| {
        moments.take(&format!("discriminator.{n}"), s)
    })?;
    Ok(Checkpoint {
        state,
        generator,
        discriminator,
        opt_g,
        opt_d,
        generator_ema,
    })
}

fn prefixed(
    prefix: &str,
    tensors: Vec<(String, candle_core::Tensor)>,
) -> Vec<(String, candle_core::Tensor)> {
    tensors
        .into_iter()
        .map(|(n, t)| (format!("{prefix}.{n}"), t))
        .collect()
}

/// Delete all but the newest `keep` checkpoints.
pub fn prune(run_dir: &Path, keep: usize) -> Result<()> {
    let all = run_layout::checkpoints(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    for (_, dir) in all.iter().take(all.len().saturating_sub(keep)) {
        std::fs::remove_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    }
    Ok(())
}
