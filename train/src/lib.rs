//! Adversarial training of the `gan-models` architectures with candle on CPU.
//!
//! [`Trainer`] owns a run folder (layout in `gan_models::run_layout`): it loads the data
//! ([`data`]), builds both networks from their descriptions ([`net`]), alternates discriminator
//! and generator steps with [`adam::Adam`], and writes metrics, pictures and atomic checkpoints.
//! Every random number comes from [`rng`], so a seed fixes the whole run and `--resume` continues
//! a run bit for bit. [`classifier`] trains the (non-GAN) digit classifier that `gan eval` uses.
//! On the CPU the layers run on [`kernels`] (im2col + gemm convolutions, fused BatchNorm), candle
//! custom ops that autograd differentiates like its own.

pub mod adam;
mod atomic;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod data;
pub mod error;
pub mod kernels;
pub mod loss;
pub mod metrics;
pub mod net;
pub mod pictures;
pub mod rng;
pub mod tensor_file;
mod trainer;

pub use classifier::{ClassifierConfig, ClassifierSummary, train_classifier};
pub use config::TrainConfig;
pub use error::{Result, TrainError};
pub use trainer::{Summary, Trainer, read_config};

/// The progress bar of a training loop (hidden unless `visible`).
fn progress_bar(visible: bool, total: u64) -> indicatif::ProgressBar {
    let bar = if visible {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}",
        )
        .expect("template is valid")
        .progress_chars("=> "),
    );
    bar
}
