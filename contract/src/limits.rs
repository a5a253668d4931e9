//! Every size limit of the toolkit, in one place. Each guards a computation whose size comes
//! from a user's number or a file's header, so that a typo or a hostile file is refused by name
//! instead of exhausting memory or aborting on allocation. The README lists them; the ones a
//! user may legitimately need to raise are options (named below).

/// Largest model file any backend opens (2 GiB).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;
/// Most elements one tensor of a model may declare or compute (1 GiB of f32): initialisers,
/// attributes and every intermediate of a compiled plan.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 28;
/// Largest generated image: 16,384 × 16,384 pixels.
pub const MAX_IMAGE_PIXELS: usize = 1 << 28;
/// Default largest grid or sprite sheet `gan generate` draws, in pixels (option
/// `--max-pixels`): 1 GiB of RGBA.
pub const DEFAULT_MAX_PICTURE_PIXELS: u64 = 1 << 28;
/// Largest side of a sprite `gan data sprites` writes, after padding it to a square (sprites
/// are tens of pixels; a 65,535 × 1 frame would pad to 16 GiB).
pub const MAX_SPRITE_SIDE: u32 = 4096;
/// Largest IDX data set read (the 70,000 MNIST digits are 55 MB); gzip input is inflated no
/// further than its header promises.
pub const MAX_IDX_BYTES: usize = 1 << 30;
/// Largest latent size of an architecture.
pub const MAX_LATENT: usize = 1 << 16;
/// Largest DCGAN base width (`ngf`, `ndf`).
pub const MAX_WIDTH: usize = 1 << 13;
/// Most parameters one network may have (1 GiB of f32).
pub const MAX_PARAMETERS: u64 = 1 << 28;
/// Most classes a conditional generator may have.
pub const MAX_CLASSES: usize = 1 << 12;
/// Largest training batch.
pub const MAX_BATCH: usize = 1 << 16;
