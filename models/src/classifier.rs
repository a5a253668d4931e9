//! The one network that is not a GAN: the small CNN that `gan eval` scores samples with (digits
//! by default), trained on labelled data by `gan train --model classifier`.

use serde::{Deserialize, Serialize};

use crate::arch::{checked, conv, linear};
use crate::{Activation, Layer, ModelError, Network};

/// Width of the classifier's feature vector.
pub const CLASSIFIER_FEATURES: usize = 128;

/// In [`ClassifierArch::network`]: the hidden Linear layer, before its ReLU.
const FEATURES_LAYER: usize = 5;

/// The classifier's hyper-parameters, serialised as `{"arch": "classifier", ...}` in a run's
/// `config.json`. Its penultimate activations ([`Self::features_layer`]) are the feature vector
/// for FID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "arch", rename = "classifier")]
pub struct ClassifierArch {
    pub image_size: usize,
    pub channels: usize,
    pub classes: usize,
}

impl ClassifierArch {
    /// Per-sample input shape `[C, H, W]`.
    pub fn sample_shape(&self) -> Vec<usize> {
        vec![self.channels, self.image_size, self.image_size]
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        let ClassifierArch {
            image_size,
            channels,
            classes,
        } = *self;
        if !(8..=256).contains(&image_size) || image_size % 4 != 0 {
            return bad(format!(
                "classifier image size {image_size} is not a multiple of 4 from 8 to 256"
            ));
        }
        if channels != 1 && channels != 3 {
            return bad(format!("channels must be 1 or 3, not {channels}"));
        }
        if classes < 2 {
            return bad(format!(
                "a classifier needs at least 2 classes, not {classes}"
            ));
        }
        Ok(())
    }

    /// The network: [`Self::sample_shape`] in [-1, 1] → `[classes]` logits. Two stride-2
    /// convolutions, then a 128-wide hidden layer whose pre-activation output is the feature
    /// vector (after the ReLU, units that never fire would make the FID covariance singular).
    pub fn network(&self) -> Result<Network, ModelError> {
        self.validate()?;
        let flat = 64 * (self.image_size / 4) * (self.image_size / 4);
        let layers = vec![
            conv(self.channels, 32, 2, 1, true),
            Layer::Activation(Activation::Relu),
            conv(32, 64, 2, 1, true),
            Layer::Activation(Activation::Relu),
            Layer::Reshape { shape: vec![flat] },
            linear(flat, CLASSIFIER_FEATURES),
            Layer::Activation(Activation::Relu),
            linear(CLASSIFIER_FEATURES, self.classes),
        ];
        checked(Network {
            input_shape: self.sample_shape(),
            layers,
            label: None,
            spectral_norm: false,
            decoders: Vec::new(),
        })
    }

    /// Index of the layer whose output is the feature vector (`features` in ONNX).
    pub fn features_layer(&self) -> usize {
        FEATURES_LAYER
    }
}
