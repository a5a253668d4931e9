//! What a loaded model takes and gives, independent of the backend, and how it is resolved into
//! the [`ModelInfo`] the generator works with (metadata first, then graph shapes, then options).

use std::collections::HashMap;
use std::path::Path;

use gan_contract::{metadata, tensor};

use crate::error::{Result, RuntimeError};
use crate::options::{LoadOptions, OutputRange};

use gan_contract::limits::MAX_IMAGE_PIXELS;

/// A graph input or output: its name and dims (`None` for symbolic ones).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSig {
    /// As the graph names it.
    pub name: String,
    /// Per axis: the size, or `None` when symbolic.
    pub dims: Vec<Option<usize>>,
    /// True for float32.
    pub is_f32: bool,
    /// The op that computes it (outputs only, where the backend can see the graph).
    pub producer: Option<String>,
}

/// The inputs, outputs and metadata of a model as a backend reads them.
#[derive(Debug, Clone, Default)]
pub struct Signature {
    /// Graph inputs, initialisers excluded.
    pub inputs: Vec<ValueSig>,
    /// Graph outputs.
    pub outputs: Vec<ValueSig>,
    /// `metadata_props`.
    pub metadata: HashMap<String, String>,
}

/// Everything the generator needs to know about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Values per latent vector.
    pub latent_dim: usize,
    /// The latent input is `[N, nz, 1, 1]` rather than `[N, nz]`.
    pub latent_4d: bool,
    /// Image channels (1, 3 or 4).
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// How output values map to pixels.
    pub range: OutputRange,
    /// Which graph output is the image.
    pub output_index: usize,
}

impl ModelInfo {
    /// Resolve what a model is from its metadata first, then its graph shapes, then `options`; `path` names the file in errors.
    pub fn resolve(sig: &Signature, options: &LoadOptions, path: &Path) -> Result<Self> {
        let bad = |reason: String| RuntimeError::BadModel {
            path: path.to_path_buf(),
            reason,
        };
        let missing = |what, option| RuntimeError::MissingOption {
            path: path.to_path_buf(),
            what,
            option,
        };
        let meta = |key: &str| {
            sig.metadata
                .get(key)
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        if let Some(role) = sig
            .metadata
            .get(metadata::ROLE)
            .filter(|r| *r != metadata::role::GENERATOR)
        {
            return Err(bad(format!("it is a {role}, not a generator")));
        }
        let [input] = sig.inputs.as_slice() else {
            return Err(bad(format!(
                "expected one input (the latent z), found {}",
                sig.inputs.len()
            )));
        };
        if !input.is_f32 {
            return Err(bad(format!("input {} must be float32", input.name)));
        }
        let latent_4d = match input.dims.as_slice() {
            [_, _] => false,
            [_, _, Some(1), Some(1)] => true,
            dims => {
                return Err(bad(format!(
                    "input {} has shape {dims:?}; expected [N, nz] or [N, nz, 1, 1]",
                    input.name
                )));
            }
        };
        let latent_dim = options
            .latent_dim
            .or(meta(metadata::NZ))
            .or(input.dims[1])
            .ok_or_else(|| missing("the latent size", "latent_dim"))?;
        if input.dims[1].is_some_and(|d| d != latent_dim) {
            return Err(bad(format!(
                "input {} takes {:?} latent values, not {latent_dim}",
                input.name, input.dims[1]
            )));
        }
        let output_index = sig
            .outputs
            .iter()
            .position(|o| o.name == tensor::IMAGE)
            .unwrap_or(0);
        let output = sig
            .outputs
            .get(output_index)
            .ok_or_else(|| bad("the model has no outputs".into()))?;
        if !output.is_f32 {
            return Err(bad(format!("output {} must be float32", output.name)));
        }
        let from_meta = match (
            meta(metadata::CHANNELS),
            meta(metadata::HEIGHT),
            meta(metadata::WIDTH),
        ) {
            (Some(c), Some(h), Some(w)) => Some((c, h, w)),
            _ => None,
        };
        let from_graph = match output.dims.as_slice() {
            [_, Some(c), Some(h), Some(w)] => Some((*c, *h, *w)),
            _ => None,
        };
        let (channels, height, width) = options
            .image_shape
            .or(from_meta)
            .or(from_graph)
            .ok_or_else(|| missing("the image shape", "image_shape"))?;
        if !matches!(channels, 1 | 3 | 4) || height == 0 || width == 0 {
            return Err(bad(format!(
                "image shape {channels}×{height}×{width} is not a picture (1, 3 or 4 channels)"
            )));
        }
        let pixels = height.checked_mul(width).filter(|&p| p <= MAX_IMAGE_PIXELS);
        let Some(sample_len) = pixels.map(|p| p * channels) else {
            return Err(bad(format!(
                "images of {height}×{width} are too large (the limit is {MAX_IMAGE_PIXELS} pixels)"
            )));
        };
        // The known dims' product must not overflow, and must be the image when all are known.
        let dims = output.dims.get(1..).unwrap_or_default();
        let known = dims
            .iter()
            .flatten()
            .try_fold(1usize, |n, &d| n.checked_mul(d));
        let all_known = dims.iter().all(Option::is_some);
        if known.is_none() || (all_known && known != Some(sample_len)) {
            return Err(bad(format!(
                "output {} has shape {:?}, not {channels}×{height}×{width} per sample",
                output.name, output.dims
            )));
        }
        // The range: as given, as the metadata says, or as the last op bounds it.
        let from_last_op = match output.producer.as_deref() {
            Some("Tanh") => Some(OutputRange::MinusOneToOne),
            Some("Sigmoid") => Some(OutputRange::ZeroToOne),
            _ => None,
        };
        let range = options
            .output_range
            .or_else(|| {
                sig.metadata
                    .get(metadata::RANGE)
                    .and_then(|r| OutputRange::parse(r))
            })
            .or(from_last_op)
            .ok_or_else(|| missing("the output range", "output_range"))?;
        Ok(ModelInfo {
            latent_dim,
            latent_4d,
            channels,
            height,
            width,
            range,
            output_index,
        })
    }
}
