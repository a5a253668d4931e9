//! A network: an ordered list of layers with a per-sample input shape, and for a conditional
//! network the way its class label enters.

use serde::{Deserialize, Serialize};

use crate::{Init, Layer, ModelError, ParamRole, ParamSpec};

/// The stable name of a conditional network's class embedding tensor.
pub const LABEL_EMBEDDING: &str = "label_embedding.weight";

/// A feed-forward network. Parameter tensors are named `layers.{index}.{suffix}` where `index` is
/// the layer's position in [`Network::layers`] (activations and reshapes count, as in PyTorch's
/// `nn.Sequential`), plus [`LABEL_EMBEDDING`] for a conditional one; these names are stable and
/// are what checkpoints store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Per-sample input shape (a conditional generator's `z` alone, without the label).
    pub input_shape: Vec<usize>,
    pub layers: Vec<Layer>,
    /// How the class label enters a conditional network; `None` for an unconditional one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelInput>,
    /// Every layer with a weight matrix is spectrally normalised (see [`crate::spectral`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spectral_norm: bool,
    /// A self-supervised discriminator's decoders (FastGAN): trained with it to rebuild real
    /// images from its features, never part of its output and never exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoders: Vec<Decoder>,
}

/// A decoder that rebuilds a real image from the features a discriminator computes: the output
/// of layer `tap` (its top-left, top-right, bottom-left or bottom-right quarter when `quarter`),
/// through `layers`, to an image that is compared with the real image scaled (or, for a quarter,
/// the same quarter of it scaled) to the decoder's output size. Its tensors are named
/// `decoders.{k}.layers.{i}.{suffix}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decoder {
    pub tap: usize,
    pub quarter: bool,
    pub layers: Vec<Layer>,
}

/// Where a parameter belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSite {
    /// Layer `i` of [`Network::layers`].
    Layer(usize),
    /// Layer `layer` of decoder `decoder`.
    Decoder { decoder: usize, layer: usize },
    /// The class label's embedding.
    LabelEmbedding,
}

/// How a conditional network takes its class label `y` (an integer in `0..classes`): through a
/// learned embedding, the tensor [`LABEL_EMBEDDING`] of shape `[classes, dim]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelInput {
    pub classes: usize,
    pub dim: usize,
    pub site: LabelSite,
}

/// Where the label's embedding enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LabelSite {
    /// Joined to the (vector) input: the first layer sees `[z, embed(y)]` (a conditional
    /// generator, as in Mirza & Osindero 2014).
    Joined,
    /// A projection discriminator (Miyato & Koyama 2018): the network's output, one logit, gains
    /// `⟨embed(y), h⟩`, where `h` is the input of layer `head` flattened (`dim` is its size).
    /// Only reshapes may follow the head.
    Projection { head: usize },
}

impl LabelInput {
    /// The embedding's parameter: a generator's starts as N(0, 1), like the `z` it joins; a
    /// projection's as the other weights.
    fn spec(&self) -> ParamSpec {
        let std = match self.site {
            LabelSite::Joined => 1.0,
            LabelSite::Projection { .. } => 0.02,
        };
        ParamSpec {
            role: ParamRole::Embedding,
            shape: vec![self.classes, self.dim],
            init: Init::Normal { mean: 0.0, std },
        }
    }
}

/// A parameter with its stable name and where it belongs.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    pub name: String,
    pub site: ParamSite,
    pub spec: ParamSpec,
}

impl Network {
    /// Per-sample shapes: the first layer's input (for a [`LabelSite::Joined`] label, the input
    /// with the embedding joined), then each layer's output.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>, ModelError> {
        let mut first = self.input_shape.clone();
        if let Some(label) = &self.label {
            if label.classes == 0 || label.dim == 0 {
                return Err(label_error("has no classes or an empty embedding"));
            }
            if label.site == LabelSite::Joined {
                match first.as_mut_slice() {
                    [n] => *n += label.dim,
                    _ => return Err(label_error("can only be joined to a vector input")),
                }
            }
        }
        let shapes = chain_shapes(first, &self.layers)?;
        for (k, decoder) in self.decoders.iter().enumerate() {
            self.decoder_shapes(&shapes, decoder).map_err(|e| match e {
                ModelError::Shape {
                    index,
                    layer,
                    input,
                    reason,
                } => ModelError::Shape {
                    index,
                    layer: format!("decoder {k}'s {layer}"),
                    input,
                    reason,
                },
                other => other,
            })?;
        }
        if let Some(LabelInput {
            dim,
            site: LabelSite::Projection { head },
            ..
        }) = self.label
        {
            let projects = shapes
                .get(head)
                .is_some_and(|h| h.iter().product::<usize>() == dim);
            let tail_reshapes = self
                .layers
                .get(head + 1..)
                .is_some_and(|tail| tail.iter().all(|l| matches!(l, Layer::Reshape { .. })));
            if !projects || !tail_reshapes || shapes.last() != Some(&vec![1]) {
                return Err(label_error(
                    "a projection needs a head layer whose input has `dim` values, only \
                     reshapes after it, and one logit out",
                ));
            }
        }
        Ok(shapes)
    }

    /// A decoder's per-sample shapes (its input, then each layer's output), given the network's.
    fn decoder_shapes(
        &self,
        network: &[Vec<usize>],
        decoder: &Decoder,
    ) -> Result<Vec<Vec<usize>>, ModelError> {
        let bad = |reason: String| ModelError::InvalidConfig(format!("a decoder {reason}"));
        let mut input = network
            .get(decoder.tap + 1)
            .filter(|s| s.len() == 3)
            .cloned()
            .ok_or_else(|| {
                bad(format!(
                    "taps layer {}, which has no image output",
                    decoder.tap
                ))
            })?;
        if decoder.quarter {
            if input[1] % 2 != 0 || input[2] % 2 != 0 {
                return Err(bad(format!("cannot take a quarter of {input:?}")));
            }
            input[1] /= 2;
            input[2] /= 2;
        }
        chain_shapes(input, &decoder.layers)
    }

    /// Decoder `k`'s per-sample input (the tapped features, or their quarter) and output.
    pub fn decoder_io(&self, k: usize) -> Result<(Vec<usize>, Vec<usize>), ModelError> {
        let decoder = self
            .decoders
            .get(k)
            .ok_or_else(|| ModelError::InvalidConfig(format!("no decoder {k}")))?;
        let mut shapes = self.decoder_shapes(&self.shapes()?, decoder)?;
        let output = shapes.pop().expect("starts non-empty");
        Ok((shapes.swap_remove(0), output))
    }

    /// Per-sample output shape.
    pub fn output_shape(&self) -> Result<Vec<usize>, ModelError> {
        Ok(self.shapes()?.pop().expect("starts non-empty"))
    }

    /// Every parameter tensor: the layers' in order (a layer's own, then its spectral-norm
    /// vector), the label embedding, then each decoder's layers'.
    pub fn params(&self) -> Vec<ParamEntry> {
        let entries = |layer_index: usize, layer: &Layer, spectral_norm: bool| {
            let spectral_u = layer
                .matrix_view()
                .filter(|_| spectral_norm)
                .map(|view| ParamSpec {
                    role: ParamRole::SpectralU,
                    shape: vec![view.rows],
                    init: Init::UnitVector,
                });
            layer
                .params()
                .into_iter()
                .chain(spectral_u)
                .map(move |spec| (layer_index, spec))
        };
        let layers = self.layers.iter().enumerate().flat_map(|(i, layer)| {
            entries(i, layer, self.spectral_norm).map(|(i, spec)| ParamEntry {
                name: format!("layers.{i}.{}", spec.role.suffix()),
                site: ParamSite::Layer(i),
                spec,
            })
        });
        let decoders = self.decoders.iter().enumerate().flat_map(|(k, decoder)| {
            decoder
                .layers
                .iter()
                .enumerate()
                .flat_map(move |(i, layer)| {
                    entries(i, layer, false).map(move |(i, spec)| ParamEntry {
                        name: format!("decoders.{k}.layers.{i}.{}", spec.role.suffix()),
                        site: ParamSite::Decoder {
                            decoder: k,
                            layer: i,
                        },
                        spec,
                    })
                })
        });
        layers
            .chain(self.label.map(|label| ParamEntry {
                name: LABEL_EMBEDDING.to_string(),
                site: ParamSite::LabelEmbedding,
                spec: label.spec(),
            }))
            .chain(decoders)
            .collect()
    }

    /// Number of trainable scalars.
    pub fn trainable_count(&self) -> usize {
        self.params()
            .iter()
            .filter(|p| p.spec.role.trainable())
            .map(|p| p.spec.shape.iter().product::<usize>())
            .sum()
    }

    /// Multiply-accumulates of one sample's forward pass.
    pub fn macs_per_sample(&self) -> Result<u64, ModelError> {
        let shapes = self.shapes()?;
        Ok(self
            .layers
            .iter()
            .enumerate()
            .map(|(i, layer)| layer.macs(&shapes[i], &shapes[i + 1]))
            .sum())
    }
}

/// `first`, then the output of each of `layers` in turn.
fn chain_shapes(first: Vec<usize>, layers: &[Layer]) -> Result<Vec<Vec<usize>>, ModelError> {
    let mut shapes = vec![first];
    for (index, layer) in layers.iter().enumerate() {
        let next = layer.output_shape(index, &shapes)?;
        shapes.push(next);
    }
    Ok(shapes)
}

fn label_error(reason: &str) -> ModelError {
    ModelError::InvalidConfig(format!("the class label input {reason}"))
}
