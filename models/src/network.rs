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

/// A parameter with its stable name and the layer it belongs to (`None`: the label embedding).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    pub name: String,
    pub layer_index: Option<usize>,
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
        let mut shapes = vec![first];
        for (index, layer) in self.layers.iter().enumerate() {
            let next = layer.output_shape(index, shapes.last().expect("starts non-empty"))?;
            shapes.push(next);
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

    /// Per-sample output shape.
    pub fn output_shape(&self) -> Result<Vec<usize>, ModelError> {
        Ok(self.shapes()?.pop().expect("starts non-empty"))
    }

    /// Every parameter tensor, in layer order (a layer's own, then its spectral-norm vector).
    pub fn params(&self) -> Vec<ParamEntry> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(layer_index, layer)| {
                let spectral_u = layer
                    .matrix_view()
                    .filter(|_| self.spectral_norm)
                    .map(|view| ParamSpec {
                        role: ParamRole::SpectralU,
                        shape: vec![view.rows],
                        init: Init::UnitVector,
                    });
                layer
                    .params()
                    .into_iter()
                    .chain(spectral_u)
                    .map(move |spec| ParamEntry {
                        name: format!("layers.{layer_index}.{}", spec.role.suffix()),
                        layer_index: Some(layer_index),
                        spec,
                    })
            })
            .chain(self.label.map(|label| ParamEntry {
                name: LABEL_EMBEDDING.to_string(),
                layer_index: None,
                spec: label.spec(),
            }))
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

fn label_error(reason: &str) -> ModelError {
    ModelError::InvalidConfig(format!("the class label input {reason}"))
}
