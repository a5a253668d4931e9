//! The GAN architectures, described once, as data.
//!
//! A [`Network`] is an ordered list of [`Layer`]s with a per-sample input shape. Training
//! (`gan-train`) builds candle computations from it and the ONNX exporter walks the same list, so
//! the two cannot drift apart. [`ArchConfig`] is the one place that turns a GAN's
//! hyper-parameters (image size, channels, nz, ngf, ndf) into generator and discriminator
//! descriptions; [`ClassifierArch`] describes the one non-GAN network, the classifier
//! `gan eval` scores with; [`RunModel`] is either, as a run folder records it. Adding an
//! architecture is a change here and nowhere else.
//!
//! It never sees candle or ONNX. Besides the descriptions it holds what the trainer and the
//! exporter must agree on without depending on each other: the run-folder layout
//! ([`run_layout`], with the `config.json` format version) and the checkpoint tensor format
//! ([`weights`], safetensors) and the spectral normalisation both apply ([`spectral`]); what training and evaluation both read: data sources
//! ([`DataSource`]), MNIST IDX files ([`mnist`]) and image folders ([`image_files`]); the one
//! crash-safe file writer ([`atomic`]); and, for other crates' tests, `fixtures` (feature
//! `fixtures`).
//!
//! ```
//! use gan_models::{ArchConfig, Dcgan, Role, RunModel};
//!
//! let arch = ArchConfig::Dcgan(Dcgan::default()); // 64 px RGB, nz 100, widths 64
//! assert_eq!(arch.generator()?.output_shape()?, vec![3, 64, 64]);
//! assert_eq!(arch.discriminator()?.output_shape()?, vec![1]);
//! assert_eq!(RunModel::Gan(arch).roles(), [Role::Generator, Role::Discriminator]);
//! # Ok::<(), gan_models::ModelError>(())
//! ```

mod arch;
pub mod atomic;
mod classifier;
mod data_source;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod image_files;
mod layer;
pub mod mnist;
mod network;
pub mod npm_data;
pub mod run_layout;
mod run_model;
pub mod spectral;
pub mod weights;

pub use arch::{
    ArchConfig, Dcgan, FastGan, MAX_LATENT, MAX_PARAMETERS, MAX_WIDTH, Mlp, Role, Shared, TOY2D_A,
    TOY2D_B,
};
pub use classifier::{CLASSIFIER_FEATURES, ClassifierArch};
pub use data_source::DataSource;
pub use layer::{Activation, Conv, Excite, Init, Layer, ParamRole, ParamSpec};
pub use network::{
    Decoder, LABEL_EMBEDDING, LabelInput, LabelSite, Network, ParamEntry, ParamSite,
};
pub use run_model::RunModel;
pub use spectral::SpectralNorm;

/// A file that cannot be used (a checkpoint, a run configuration), with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct FileError {
    pub path: std::path::PathBuf,
    pub reason: String,
}

impl FileError {
    pub fn new(path: &std::path::Path, reason: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// A description that cannot be built: bad hyper-parameters or shapes that do not chain.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("invalid architecture: {0}")]
    InvalidConfig(String),
    #[error("layer {index} ({layer}) cannot take input of shape {input:?}: {reason}")]
    Shape {
        index: usize,
        layer: String,
        input: Vec<usize>,
        reason: String,
    },
}
