//! What a loaded model takes and gives, independent of the backend, and how it is resolved into
//! the [`ModelInfo`] the generator works with (the caller's options first, then the metadata,
//! then the graph's shapes).

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
    /// True for int64 (a class label input).
    pub is_i64: bool,
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

impl Signature {
    /// The class names the file's `gan.classes` metadata lists (a JSON list of names), if it
    /// has the entry; the error says why the entry is not such a list.
    pub fn declared_classes(&self) -> Option<std::result::Result<Vec<String>, String>> {
        self.metadata.get(metadata::CLASSES).map(|list| {
            serde_json::from_str(list).map_err(|e| {
                format!(
                    "metadata {} is not a JSON list of names: {e}",
                    metadata::CLASSES
                )
            })
        })
    }
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
    /// Which graph input is the latent.
    pub latent_input: usize,
    /// A conditional generator's class input.
    pub label: Option<LabelInfo>,
}

/// A conditional generator's `label` input: which graph input it is, and the classes' names in
/// label order.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelInfo {
    /// Its index among the graph inputs.
    pub input: usize,
    /// The class names.
    pub classes: Vec<String>,
}

impl ModelInfo {
    /// Resolve what a model is: for each fact, what `options` say first (the caller knows best,
    /// and a foreign file may say nothing), then the `gan.*` metadata, then the graph's shapes
    /// (or, for the range, its last op); `path` names the file in errors.
    pub fn resolve(sig: &Signature, options: &LoadOptions, path: &Path) -> Result<Self> {
        let facts = Facts { sig, options, path };
        if let Some(role) = sig
            .metadata
            .get(metadata::ROLE)
            .filter(|r| *r != metadata::role::GENERATOR)
        {
            return Err(facts.bad(format!("it is a {role}, not a generator")));
        }
        let (latent_input, label) = resolve_label(sig, options, path)?;
        let (latent_dim, latent_4d) = facts.latent(latent_input)?;
        let (output_index, [channels, height, width]) = facts.image()?;
        let range = facts.range(output_index)?;
        Ok(ModelInfo {
            latent_dim,
            latent_4d,
            channels,
            height,
            width,
            range,
            output_index,
            latent_input,
            label,
        })
    }
}

/// One model's signature and the caller's options, resolved fact by fact.
struct Facts<'a> {
    sig: &'a Signature,
    options: &'a LoadOptions,
    path: &'a Path,
}

impl Facts<'_> {
    fn bad(&self, reason: String) -> RuntimeError {
        RuntimeError::BadModel {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn missing(&self, what: &'static str, option: &'static str) -> RuntimeError {
        RuntimeError::MissingOption {
            path: self.path.to_path_buf(),
            what,
            option,
        }
    }

    /// A metadata entry as a count.
    fn meta(&self, key: &str) -> Option<usize> {
        self.sig
            .metadata
            .get(key)
            .and_then(|v| v.trim().parse::<usize>().ok())
    }

    /// The latent size and whether the input is `[N, nz, 1, 1]` rather than `[N, nz]`.
    fn latent(&self, latent_input: usize) -> Result<(usize, bool)> {
        let input = &self.sig.inputs[latent_input];
        if !input.is_f32 {
            return Err(self.bad(format!("input {} must be float32", input.name)));
        }
        let latent_4d = match input.dims.as_slice() {
            [_, _] => false,
            [_, _, Some(1), Some(1)] => true,
            dims => {
                return Err(self.bad(format!(
                    "input {} has shape {dims:?}; expected [N, nz] or [N, nz, 1, 1]",
                    input.name
                )));
            }
        };
        let latent_dim = self
            .options
            .latent_dim
            .or(self.meta(metadata::NZ))
            .or(input.dims[1])
            .ok_or_else(|| self.missing("the latent size", "latent_dim"))?;
        if input.dims[1].is_some_and(|d| d != latent_dim) {
            return Err(self.bad(format!(
                "input {} takes {:?} latent values, not {latent_dim}",
                input.name, input.dims[1]
            )));
        }
        Ok((latent_dim, latent_4d))
    }

    /// The image output (the one named `image`, else the first) and its `[C, H, W]`, checked
    /// against the limits and the output's known dims.
    fn image(&self) -> Result<(usize, [usize; 3])> {
        let output_index = self
            .sig
            .outputs
            .iter()
            .position(|o| o.name == tensor::IMAGE)
            .unwrap_or(0);
        let output = self
            .sig
            .outputs
            .get(output_index)
            .ok_or_else(|| self.bad("the model has no outputs".into()))?;
        if !output.is_f32 {
            return Err(self.bad(format!("output {} must be float32", output.name)));
        }
        let from_meta = match (
            self.meta(metadata::CHANNELS),
            self.meta(metadata::HEIGHT),
            self.meta(metadata::WIDTH),
        ) {
            (Some(c), Some(h), Some(w)) => Some((c, h, w)),
            _ => None,
        };
        let from_graph = match output.dims.as_slice() {
            [_, Some(c), Some(h), Some(w)] => Some((*c, *h, *w)),
            _ => None,
        };
        let (channels, height, width) = self
            .options
            .image_shape
            .or(from_meta)
            .or(from_graph)
            .ok_or_else(|| self.missing("the image shape", "image_shape"))?;
        if !matches!(channels, 1 | 3 | 4) || height == 0 || width == 0 {
            return Err(self.bad(format!(
                "image shape {channels}×{height}×{width} is not a picture (1, 3 or 4 channels)"
            )));
        }
        let pixels = height.checked_mul(width).filter(|&p| p <= MAX_IMAGE_PIXELS);
        let Some(sample_len) = pixels.map(|p| p * channels) else {
            return Err(self.bad(format!(
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
            return Err(self.bad(format!(
                "output {} has shape {:?}, not {channels}×{height}×{width} per sample",
                output.name, output.dims
            )));
        }
        Ok((output_index, [channels, height, width]))
    }

    /// The output's value range: as given, as the metadata says, or as the last op bounds it.
    fn range(&self, output_index: usize) -> Result<OutputRange> {
        let from_last_op = match self.sig.outputs[output_index].producer.as_deref() {
            Some("Tanh") => Some(OutputRange::MinusOneToOne),
            Some("Sigmoid") => Some(OutputRange::ZeroToOne),
            _ => None,
        };
        self.options
            .output_range
            .or_else(|| {
                self.sig
                    .metadata
                    .get(metadata::RANGE)
                    .and_then(|r| OutputRange::parse(r))
            })
            .or(from_last_op)
            .ok_or_else(|| self.missing("the output range", "output_range"))
    }
}

/// Which input is the latent, and a conditional generator's label input: the one the options
/// name, else the one named `label`, with its classes from the metadata's `gan.classes` (or
/// the options' class count, named by number).
fn resolve_label(
    sig: &Signature,
    options: &LoadOptions,
    path: &Path,
) -> Result<(usize, Option<LabelInfo>)> {
    let bad = |reason: String| RuntimeError::BadModel {
        path: path.to_path_buf(),
        reason,
    };
    let wanted = options.label_input.as_deref().unwrap_or(tensor::LABEL);
    let label_input = sig.inputs.iter().position(|i| i.name == wanted);
    let conditional_meta =
        sig.metadata.get(metadata::CONDITIONAL).map(String::as_str) == Some("true");
    match (sig.inputs.len(), label_input) {
        (1, None) if !conditional_meta => Ok((0, None)),
        (1, None) => Err(bad(format!(
            "its metadata says it is conditional, but it has no `{wanted}` input"
        ))),
        (2, Some(l)) => {
            let input = &sig.inputs[l];
            if !input.is_i64 || !matches!(input.dims.as_slice(), [_]) {
                return Err(bad(format!(
                    "label input {} must be int64 [batch], not {}{:?}",
                    input.name,
                    if input.is_i64 { "int64 " } else { "" },
                    input.dims
                )));
            }
            let named = sig.declared_classes().transpose().map_err(bad)?;
            let classes = match (named, options.class_count) {
                (Some(names), _) => names,
                (None, Some(n)) => (0..n).map(|c| c.to_string()).collect(),
                (None, None) => {
                    return Err(RuntimeError::MissingOption {
                        path: path.to_path_buf(),
                        what: "the class count",
                        option: "class_count",
                    });
                }
            };
            if classes.is_empty() || classes.len() > gan_contract::limits::MAX_CLASSES {
                return Err(bad(format!(
                    "{} classes (a conditional generator has 1 to {})",
                    classes.len(),
                    gan_contract::limits::MAX_CLASSES
                )));
            }
            Ok((1 - l, Some(LabelInfo { input: l, classes })))
        }
        (2, None) => Err(bad(format!(
            "it has two inputs ({} and {}) and none is named `{wanted}`; name the class label \
             input with option label_input",
            sig.inputs[0].name, sig.inputs[1].name
        ))),
        (n, _) => Err(bad(format!(
            "expected one input (the latent z), or two (z and a class label), found {n}"
        ))),
    }
}
