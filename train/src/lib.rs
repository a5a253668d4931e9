//! Adversarial training of the `gan-models` architectures with candle on CPU.
//!
//! [`Trainer`] owns a run folder (layout in `gan_models::run_layout`): it loads the data
//! ([`data`]), builds both networks from their descriptions ([`net`]), alternates discriminator
//! and generator steps with [`adam::Adam`], and writes metrics, pictures and atomic checkpoints.
//! Every random number comes from [`rng`], so a seed fixes the whole run and `--resume` continues
//! a run bit for bit.

pub mod adam;
mod atomic;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod error;
pub mod loss;
pub mod metrics;
pub mod net;
pub mod pictures;
pub mod rng;
pub mod tensor_file;
mod trainer;

pub use config::TrainConfig;
pub use error::{Result, TrainError};
pub use trainer::{Summary, Trainer, read_config};
