//! Adversarial training of the `gan-models` architectures with candle, on the CPU or (feature
//! `cuda`) an NVIDIA GPU ([`device`]).
//!
//! [`Trainer`] owns a run folder (layout in `gan_models::run_layout`): it loads the data
//! ([`data`]), builds both networks from their descriptions ([`net`]), alternates discriminator
//! and generator steps with [`adam::Adam`], and writes metrics, pictures and atomic checkpoints.
//! Every random number comes from [`rng`], so a seed fixes the whole run and `--resume` continues
//! a run bit for bit. [`classifier`] trains the (non-GAN) digit classifier that `gan eval` uses.
//! On the CPU the layers run on [`kernels`] (im2col + gemm convolutions, fused BatchNorm), candle
//! custom ops that autograd differentiates like its own; on a GPU, convolutions are lowered to one
//! matrix product and tensor reshuffles that candle's CUDA backend runs.
//!
//! The library never prints: a run reports its progress, files and warnings as [`Event`]s to an
//! [`Observer`] the caller passes in (the `gan` binary draws a progress bar from them), and its
//! errors name configuration fields, not command-line flags.
//!
//! ```no_run
//! use gan_models::ArchConfig;
//! use gan_train::{TrainConfig, Trainer};
//!
//! let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
//! config.max_steps = Some(100);
//! let mut trainer = Trainer::create(config, std::path::Path::new("runs/toy"))?;
//! let summary = trainer.run(&mut ())?; // `()` ignores the events
//! assert_eq!(summary.steps_done, 100);
//! # Ok::<(), gan_train::TrainError>(())
//! ```

pub mod adam;
pub mod augment;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod contrastive;
pub mod data;
pub mod device;
pub mod ema;
pub mod error;
pub mod events;
pub mod kernels;
pub mod loss;
pub mod metrics;
pub mod net;
pub mod pictures;
pub mod reconstruction;
pub mod rng;
pub mod tensor_file;
mod trainer;

pub use classifier::{ClassifierConfig, ClassifierSummary, ClassifierTask, train_classifier};
pub use config::TrainConfig;
pub use device::TrainDevice;
pub use error::{Result, TrainError};
pub use events::{Event, Observer, Remedy, Warning};
pub use trainer::{Summary, Trainer, read_config};
