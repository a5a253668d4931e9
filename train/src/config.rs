//! A run's configuration, saved as `config.json`: everything needed to rebuild the models and
//! to continue training exactly.

use gan_models::run_layout;
use gan_models::{ArchConfig, DataSource, SpectralNorm};
use serde::{Deserialize, Serialize};

use crate::augment::{Augment, AugmentChance};
use crate::error::{Result, TrainError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// `config.json` format version (`gan_models::run_layout::CONFIG_FORMAT` when written).
    #[serde(default = "run_layout::unversioned_format")]
    pub format: u32,
    pub model: ArchConfig,
    /// `toy2d`, `shapes`, `mnist:DIR` or an image folder.
    pub data: DataSource,
    /// Train on the data's classes: a conditional GAN (`model`'s classes are the data's, filled
    /// in when the run starts).
    #[serde(default)]
    pub conditional: bool,
    pub seed: u64,
    pub batch_size: usize,
    pub epochs: u64,
    /// Stop after this many iterations, even mid-epoch.
    pub max_steps: Option<u64>,
    pub lr_d: f64,
    pub lr_g: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Generator updates per discriminator update.
    pub g_steps: usize,
    /// One-sided label smoothing: real targets are `1 − label_smoothing`.
    pub label_smoothing: f64,
    /// Standard deviation of Gaussian noise added to the discriminator's inputs at step 0,
    /// annealed linearly to zero at `instance_noise_steps` (0: at the end of the run).
    pub instance_noise: f64,
    pub instance_noise_steps: u64,
    /// The adversarial loss.
    #[serde(default)]
    pub loss: Loss,
    /// Decay of the EMA generator (`ema.rs`), or none.
    #[serde(default)]
    pub ema_decay: Option<f64>,
    /// The preset the stabilisation settings above started from (they are what counts: explicit
    /// settings override a recipe, and this records where the rest came from).
    #[serde(default)]
    pub recipe: Recipe,
    /// Weight of the mode-seeking term in the generator's loss (MSGAN; 0: off), against a
    /// generator that ignores its latent.
    #[serde(default)]
    pub mode_seeking: f64,
    /// Random horizontal flips of real images.
    pub flip: bool,
    /// DiffAugment's transforms, applied to everything D sees ([`crate::augment`]).
    #[serde(default)]
    pub augment: Vec<crate::augment::Augment>,
    /// How often each transform applies: every time when `None`, else [`AugmentChance`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment_p: Option<AugmentChance>,
    pub skip_bad: bool,
    pub sample_every: u64,
    pub checkpoint_every: u64,
    /// How many checkpoints to keep (the newest).
    pub keep_checkpoints: usize,
    /// The layers' implementation, when the run names one (else the device's default, see
    /// [`crate::kernels::Kernels`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<crate::kernels::Kernels>,
}

pub use gan_contract::limits::MAX_BATCH;

/// fastgan's default batch size.
pub const FASTGAN_BATCH: usize = 16;
/// fastgan's default length in steps (≈ 60 minutes at 64 px, batch 16, on the 2-core
/// development machine: ≈ 0.5 s a step) ...
pub const FASTGAN_STEPS: u64 = 7_000;
/// ... which `max_steps` sets, with epochs enough never to end it first on a small set.
const FASTGAN_EPOCHS: u64 = 100_000;

pub use crate::loss::Loss;

/// A named set of stabilisation settings (loss, EMA generator, instance noise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Recipe {
    /// The chapter's recipe: non-saturating BCE, no EMA generator, no instance noise.
    #[default]
    Classic,
    /// What measured best on the shared digits (README, Stabilisation): hinge loss, an EMA
    /// generator with decay 0.999, instance noise σ 0.1 annealed to 0 over the run; and what each
    /// architecture needed on top — spectral normalisation of the DCGAN's discriminator, and
    /// BatchNorm in the MLP's generator with the mode-seeking term (without them the MLP still
    /// collapses).
    #[cfg_attr(
        feature = "clap",
        value(
            help = "Measured best on the digits: hinge loss, EMA generator 0.999, instance \
                      noise 0.1, and spectral norm on D (dcgan) or BatchNorm in G and mode \
                      seeking 1 (mlp)"
        )
    )]
    Stable,
    /// The few-shot recipe of FastGAN and lightweight-gan, fastgan's default: hinge loss, an
    /// EMA generator with decay 0.999, DiffAugment's colour and translation on every image D
    /// sees, no instance noise.
    #[cfg_attr(
        feature = "clap",
        value(
            name = "fewshot",
            help = "fastgan's default: hinge loss, EMA generator 0.999, DiffAugment colour + \
                      translation"
        )
    )]
    #[serde(rename = "fewshot")]
    FewShot,
}

impl Recipe {
    /// The recipe a run of `model` gets when none is named: the few-shot one for fastgan,
    /// the classic one for the others.
    pub fn default_for(model: &ArchConfig) -> Self {
        match model {
            ArchConfig::FastGan(_) => Recipe::FewShot,
            _ => Recipe::Classic,
        }
    }

    /// Set `config`'s loss, EMA decay, instance noise and mode-seeking weight to this recipe's,
    /// and for the stable recipe the architecture's BatchNorm (MLP) or spectral normalisation
    /// (DCGAN); explicit settings are applied after it.
    pub fn apply(self, config: &mut TrainConfig) {
        config.recipe = self;
        let (loss, ema_decay, instance_noise) = match self {
            Recipe::Classic => (Loss::Bce, None, 0.0),
            Recipe::Stable => (Loss::Hinge, Some(0.999), 0.1),
            Recipe::FewShot => (Loss::Hinge, Some(0.999), 0.0),
        };
        if self == Recipe::FewShot {
            config.augment = vec![Augment::Color, Augment::Translation];
        }
        config.loss = loss;
        config.ema_decay = ema_decay;
        config.instance_noise = instance_noise;
        config.instance_noise_steps = 0;
        config.mode_seeking = 0.0;
        if self == Recipe::Stable {
            match &mut config.model {
                ArchConfig::Mlp(mlp) => {
                    mlp.batch_norm = true;
                    config.mode_seeking = 1.0;
                }
                ArchConfig::Dcgan(dcgan) if dcgan.shared.spectral_norm.is_off() => {
                    dcgan.shared.spectral_norm = SpectralNorm::D;
                }
                ArchConfig::Dcgan(_) | ArchConfig::FastGan(_) | ArchConfig::Toy2d => {}
            }
        }
    }
}

/// One rule of [`TrainConfig::validate`]: whether it holds, the field it names, and why not.
type Check = (bool, &'static str, &'static str);

/// A learning rate: positive and finite (`inf` would be saved as `null`).
fn finite_positive(x: f64) -> bool {
    x > 0.0 && x.is_finite()
}

impl TrainConfig {
    /// Defaults of the chapter for `model` trained on `data`.
    pub fn new(model: ArchConfig, data: impl Into<DataSource>) -> Self {
        let (lr_d, lr_g) = model.default_learning_rates().unwrap_or((2e-4, 2e-4));
        // The toy GAN's 1,000 points make 15 batches an epoch; it needs a few thousand steps.
        let epochs = if model.is_image() { 25 } else { 300 };
        let recipe = Recipe::default_for(&model);
        let mut config = TrainConfig {
            format: run_layout::CONFIG_FORMAT,
            model,
            data: data.into(),
            conditional: false,
            seed: 0,
            batch_size: 64,
            epochs,
            max_steps: None,
            lr_d,
            lr_g,
            beta1: 0.5,
            beta2: 0.999,
            g_steps: 1,
            label_smoothing: 0.0,
            instance_noise: 0.0,
            instance_noise_steps: 0,
            loss: Loss::Bce,
            ema_decay: None,
            recipe: Recipe::Classic,
            mode_seeking: 0.0,
            flip: false,
            augment: Vec::new(),
            augment_p: None,
            skip_bad: false,
            sample_every: 500,
            checkpoint_every: 1000,
            keep_checkpoints: 2,
            kernels: None,
        };
        recipe.apply(&mut config);
        if let ArchConfig::FastGan(_) = config.model {
            // The few-shot default: small batches (FastGAN trains with 8), and a length of
            // steps rather than epochs, about an hour at 64 px on two cores.
            config.batch_size = FASTGAN_BATCH;
            config.epochs = FASTGAN_EPOCHS;
            config.max_steps = Some(FASTGAN_STEPS);
        }
        config
    }

    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let failed = self
            .range_checks()
            .into_iter()
            .chain(self.combination_checks())
            .find(|(ok, ..)| !ok);
        match failed {
            Some((_, field, reason)) => Err(TrainError::invalid(field, reason)),
            None => Ok(()),
        }
    }

    /// Each setting within its range.
    fn range_checks(&self) -> [Check; 13] {
        let at_least_1 = "must be at least 1";
        [
            (
                (1..=MAX_BATCH).contains(&self.batch_size),
                "batch_size",
                "must be from 1 to 65,536",
            ),
            (self.g_steps > 0, "g_steps", at_least_1),
            (
                (0.0..1.0).contains(&self.label_smoothing),
                "label_smoothing",
                "must be in [0, 1)",
            ),
            (
                finite_positive(self.lr_d),
                "lr_d",
                "must be positive and finite",
            ),
            (
                finite_positive(self.lr_g),
                "lr_g",
                "must be positive and finite",
            ),
            (
                (0.0..1.0).contains(&self.beta1),
                "beta1",
                "must be in [0, 1)",
            ),
            (
                self.instance_noise >= 0.0 && self.instance_noise.is_finite(),
                "instance_noise",
                "must be finite and not negative",
            ),
            (self.epochs > 0, "epochs", at_least_1),
            (
                self.ema_decay.is_none_or(|d| d > 0.0 && d < 1.0),
                "ema_decay",
                "must be between 0 and 1 (exclusive)",
            ),
            (
                self.mode_seeking >= 0.0 && self.mode_seeking.is_finite(),
                "mode_seeking",
                "must be finite and not negative",
            ),
            (self.sample_every > 0, "sample_every", at_least_1),
            (self.checkpoint_every > 0, "checkpoint_every", at_least_1),
            (self.keep_checkpoints > 0, "keep_checkpoints", at_least_1),
        ]
    }

    /// Settings that only make sense together.
    fn combination_checks(&self) -> [Check; 7] {
        [
            (
                self.augment_p.is_none() || !self.augment.is_empty(),
                "augment_p",
                "sets how often the augment transforms apply, and none are set",
            ),
            (
                !matches!(self.augment_p, Some(AugmentChance::Fixed(p)) if !(0.0..=1.0).contains(&p)),
                "augment_p",
                "must be a probability in [0, 1]",
            ),
            (
                self.mode_seeking == 0.0 || self.batch_size >= 2,
                "mode_seeking",
                "compares two halves of a batch: needs a batch_size of at least 2",
            ),
            (
                self.loss == Loss::Bce || self.label_smoothing == 0.0,
                "label_smoothing",
                "applies to the bce loss only",
            ),
            (
                self.augment.is_empty() || self.model.is_image(),
                "augment",
                "applies to images, not to the toy 2-D points",
            ),
            (
                self.conditional || self.model.classes().is_empty(),
                "conditional",
                "the model has classes but the run is not conditional",
            ),
            (
                !self.conditional || self.model.is_image(),
                "conditional",
                "the toy2d GAN has no conditional form (its data has no classes); \
                 conditional GANs are mlp and dcgan",
            ),
        ]
    }

    /// The augmentation probability a run starts with: adaptive starts at 0.
    pub fn initial_augment_p(&self) -> f64 {
        match self.augment_p {
            None => 1.0,
            Some(AugmentChance::Fixed(p)) => p,
            Some(AugmentChance::Auto) => 0.0,
        }
    }

    /// Instance-noise standard deviation at `step` (0-based) of a run of `total_steps`: the
    /// full `instance_noise` at step 0, annealed linearly to zero at `instance_noise_steps`, or
    /// at the end of the run when that is 0.
    pub fn instance_noise_at(&self, step: u64, total_steps: u64) -> f64 {
        let horizon = match self.instance_noise_steps {
            0 => total_steps,
            n => n,
        };
        if horizon == 0 {
            return 0.0;
        }
        self.instance_noise * (1.0 - step as f64 / horizon as f64).max(0.0)
    }
}
