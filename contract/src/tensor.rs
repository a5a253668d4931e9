//! Input and output names of exported graphs.

/// Generator input: float32 `[batch, nz]`, standard normal.
pub const LATENT: &str = "z";
/// Conditional models' class input: int64 `[batch]`.
pub const LABEL: &str = "label";
/// Generator output and discriminator/classifier input: float32 `[batch, C, H, W]` in [-1, 1].
pub const IMAGE: &str = "image";
/// Optional generator output: uint8 `[batch, H, W, 4]` RGBA by [`crate::pixels`]' rule.
pub const PIXELS: &str = "pixels";
/// Discriminator outputs: the raw score and its sigmoid, `[batch, 1]`.
pub const LOGIT: &str = "logit";
pub const PROB: &str = "prob";
/// Classifier outputs: class scores and the penultimate activations FID is computed on.
pub const LOGITS: &str = "logits";
pub const FEATURES: &str = "features";
