//! A network: an ordered list of layers with a per-sample input shape.

use serde::{Deserialize, Serialize};

use crate::{Layer, ModelError, ParamSpec};

/// A feed-forward network. Parameter tensors are named `layers.{index}.{suffix}` where `index` is
/// the layer's position in [`Network::layers`] (activations and reshapes count, as in PyTorch's
/// `nn.Sequential`); these names are stable and are what checkpoints store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Per-sample input shape.
    pub input_shape: Vec<usize>,
    pub layers: Vec<Layer>,
}

/// A parameter with its stable name and the layer it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    pub name: String,
    pub layer_index: usize,
    pub spec: ParamSpec,
}

impl Network {
    /// Per-sample shapes: the input's, then each layer's output.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>, ModelError> {
        let mut shapes = vec![self.input_shape.clone()];
        for (index, layer) in self.layers.iter().enumerate() {
            let next = layer.output_shape(index, shapes.last().expect("starts non-empty"))?;
            shapes.push(next);
        }
        Ok(shapes)
    }

    /// Per-sample output shape.
    pub fn output_shape(&self) -> Result<Vec<usize>, ModelError> {
        Ok(self.shapes()?.pop().expect("starts non-empty"))
    }

    /// Every parameter tensor, in layer order.
    pub fn params(&self) -> Vec<ParamEntry> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(layer_index, layer)| {
                layer.params().into_iter().map(move |spec| ParamEntry {
                    name: format!("layers.{layer_index}.{}", spec.role.suffix()),
                    layer_index,
                    spec,
                })
            })
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
