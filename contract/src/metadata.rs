//! The `metadata_props` keys of exported ONNX files (and of checkpoint tensor files), and the
//! fixed values some of them take.

/// `generator`, `discriminator` or `classifier` (see [`role`]).
pub const ROLE: &str = "gan.role";
/// Architecture name (`toy2d`, `mlp`, `dcgan`, `classifier`).
pub const ARCH: &str = "gan.arch";
/// Latent size of a generator.
pub const NZ: &str = "gan.nz";
/// The latent distribution ([`LATENT_NORMAL`]).
pub const LATENT: &str = "gan.latent";
/// Image channels, height and width.
pub const CHANNELS: &str = "gan.channels";
pub const HEIGHT: &str = "gan.height";
pub const WIDTH: &str = "gan.width";
/// Dimensions of a point generator's samples (toy2d).
pub const DIMS: &str = "gan.dims";
/// Output value range, as [`crate::pixels::OutputRange::as_str`] writes it, or
/// [`RANGE_UNBOUNDED`].
pub const RANGE: &str = "gan.range";
/// [`LAYOUT_NCHW`] or [`LAYOUT_POINTS`].
pub const LAYOUT: &str = "gan.layout";
/// Training steps of the checkpoint the file was exported from.
pub const TRAIN_STEPS: &str = "gan.train_steps";
/// The training data as given to `gan train`.
pub const DATASET: &str = "gan.dataset";
/// The classes of a classifier or a conditional GAN: a JSON list of names in label order.
pub const CLASSES: &str = "gan.classes";
/// `true` for a conditional GAN's networks (they take a `label` input).
pub const CONDITIONAL: &str = "gan.conditional";
/// How a classifier wants pixel values in [0, 1] mapped ([`NORMALIZE_MINUS1_1`]).
pub const NORMALIZE: &str = "gan.normalize";
/// Which classifier output holds the class scores, and which the FID features.
pub const LOGITS_OUTPUT: &str = "gan.logits_output";
pub const FEATURES_OUTPUT: &str = "gan.features_output";
/// Checkpoint tensor files: the training step they were saved at.
pub const STEP: &str = "gan.step";
/// Classifier checkpoints: accuracy on the held-out split.
pub const VALIDATION_ACCURACY: &str = "gan.validation_accuracy";

/// Values of [`ROLE`].
pub mod role {
    pub const GENERATOR: &str = "generator";
    pub const DISCRIMINATOR: &str = "discriminator";
    pub const CLASSIFIER: &str = "classifier";
}

pub const LATENT_NORMAL: &str = "normal(0,1)";
pub const RANGE_UNBOUNDED: &str = "unbounded";
pub const LAYOUT_NCHW: &str = "NCHW";
pub const LAYOUT_POINTS: &str = "points";
/// `2x − 1`: the project's classifiers take images in [-1, 1].
pub const NORMALIZE_MINUS1_1: &str = "minus1_1";
