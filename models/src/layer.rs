//! One layer of a network and what it needs: its parameters and its shape rule.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Element-wise non-linearities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu { slope: f64 },
    Tanh,
    Sigmoid,
}

/// A 2-D convolution, plain or transposed: the one description of its geometry that the layer
/// list, the training kernels, spectral normalisation and the ONNX lowering all read (candle-nn's
/// `Conv2dConfig` is the model). Square kernels, the same stride and padding on both axes, no
/// dilation, one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub bias: bool,
    /// A transposed convolution (PyTorch's `ConvTranspose2d`, no output padding).
    pub transposed: bool,
}

impl Conv {
    /// The weight's shape, PyTorch's (and ONNX's): `[out, in, k, k]`, or `[in, out, k, k]` when
    /// transposed.
    pub fn weight_shape(&self) -> [usize; 4] {
        let (first, second) = if self.transposed {
            (self.in_channels, self.out_channels)
        } else {
            (self.out_channels, self.in_channels)
        };
        [first, second, self.kernel, self.kernel]
    }

    /// The output's height (or width) for an input's, if the geometry allows one.
    pub fn output_size(&self, input: usize) -> Option<usize> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        if self.transposed {
            ((input.checked_sub(1)?) * s + k)
                .checked_sub(2 * p)
                .filter(|&o| o > 0)
        } else {
            (input + 2 * p).checked_sub(k).map(|v| v / s + 1)
        }
    }

    /// Multiply-accumulates of one sample, from its input and output shapes.
    fn macs(&self, input: &[usize], output: &[usize]) -> u64 {
        let prod = |s: &[usize]| s.iter().product::<usize>() as u64;
        let per_value = (self.kernel * self.kernel) as u64;
        if self.transposed {
            prod(input) * self.out_channels as u64 * per_value
        } else {
            prod(output) * self.in_channels as u64 * per_value
        }
    }
}

impl std::fmt::Display for Conv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = if self.transposed {
            "ConvTranspose2d"
        } else {
            "Conv2d"
        };
        write!(
            f,
            "{op}({}->{}, k{} s{} p{})",
            self.in_channels, self.out_channels, self.kernel, self.stride, self.padding
        )
    }
}

/// Skip-layer excitation (FastGAN, Liu et al. 2021): the output of an earlier, low-resolution
/// layer gates the current high-resolution activation channel by channel. The gate is the
/// earlier map average-pooled to 4×4, a 4×4 convolution (`in_channels` → `out_channels`, no
/// padding: one value per channel), a LeakyReLU of slope [`Excite::SLOPE`], a 1×1 convolution
/// and a sigmoid; the current activation (`out_channels` wide) is multiplied by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excite {
    /// The layer whose output is the gate's source (an earlier index).
    pub from: usize,
    pub in_channels: usize,
    pub out_channels: usize,
}

impl Excite {
    /// The side the source is pooled to before the gate's first convolution.
    pub const POOLED: usize = 4;
    /// The negative slope of the rectifier between the gate's two convolutions.
    pub const SLOPE: f64 = 0.1;

    /// The gate's two convolutions: 4×4 without padding (4×4 → 1×1), then 1×1.
    pub fn convolutions(&self) -> [Conv; 2] {
        let conv = |in_channels, kernel| Conv {
            in_channels,
            out_channels: self.out_channels,
            kernel,
            stride: 1,
            padding: 0,
            bias: false,
            transposed: false,
        };
        [
            conv(self.in_channels, Self::POOLED),
            conv(self.out_channels, 1),
        ]
    }

    /// The average pooling's window (and stride) for a source of side `side`, if it pools to
    /// exactly 4×4.
    pub fn pool_window(side: usize) -> Option<usize> {
        (side >= Self::POOLED && side.is_multiple_of(Self::POOLED)).then_some(side / Self::POOLED)
    }
}

/// A layer. Shapes are per sample (the batch axis is implicit and always first).
///
/// Parameter layouts follow PyTorch (and so ONNX): `Linear` weight is `[out, in]`; a
/// convolution's is [`Conv::weight_shape`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Layer {
    Linear {
        in_features: usize,
        out_features: usize,
        bias: bool,
    },
    Conv(Conv),
    /// Batch normalisation over N, H, W of an NCHW tensor. In training mode it uses batch
    /// statistics and updates the running ones with `momentum` (PyTorch's convention: the
    /// running variance is the unbiased batch variance).
    BatchNorm2d {
        channels: usize,
        eps: f64,
        momentum: f64,
    },
    Activation(Activation),
    /// Reshape each sample to `shape` (same element count).
    Reshape {
        shape: Vec<usize>,
    },
    /// Nearest-neighbour upsampling of both spatial axes by an integer `factor` (each value
    /// becomes a `factor × factor` block; ONNX `Resize`, mode nearest, asymmetric, floor).
    Upsample {
        factor: usize,
    },
    /// Gated linear unit over channels (Dauphin et al. 2017): the first half of the channels
    /// times the sigmoid of the second half, so the channel count halves.
    Glu,
    /// Skip-layer excitation: see [`Excite`].
    Excite(Excite),
}

/// What a parameter is for; the exporter uses it to map tensors onto ONNX inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamRole {
    Weight,
    Bias,
    /// BatchNorm scale (gamma).
    Scale,
    /// BatchNorm shift (beta).
    Shift,
    RunningMean,
    RunningVar,
    /// A conditional network's class embedding (`[classes, dim]`, one row per class).
    Embedding,
    /// A spectrally normalised layer's power-iteration vector (see [`crate::spectral`]).
    SpectralU,
    /// Skip-layer excitation's first (4×4) convolution weight.
    ExciteSqueeze,
    /// Skip-layer excitation's second (1×1) convolution weight.
    ExciteExpand,
}

impl ParamRole {
    /// The tensor-name suffix, PyTorch's (`layers.3.running_mean`).
    pub fn suffix(self) -> &'static str {
        match self {
            ParamRole::Weight | ParamRole::Scale | ParamRole::Embedding => "weight",
            ParamRole::Bias | ParamRole::Shift => "bias",
            ParamRole::RunningMean => "running_mean",
            ParamRole::RunningVar => "running_var",
            ParamRole::SpectralU => "weight_u",
            ParamRole::ExciteSqueeze => "squeeze.weight",
            ParamRole::ExciteExpand => "expand.weight",
        }
    }

    /// Running statistics and power-iteration vectors are state, not trained by the optimiser.
    pub fn trainable(self) -> bool {
        !matches!(
            self,
            ParamRole::RunningMean | ParamRole::RunningVar | ParamRole::SpectralU
        )
    }
}

/// How a parameter starts (the DCGAN paper's initialisation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Normal {
        mean: f64,
        std: f64,
    },
    Constant(f64),
    /// A random direction: N(0, 1) values scaled to unit length.
    UnitVector,
}

/// One parameter tensor of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub role: ParamRole,
    pub shape: Vec<usize>,
    pub init: Init,
}

const WEIGHT_INIT: Init = Init::Normal {
    mean: 0.0,
    std: 0.02,
};

impl Layer {
    /// The layer's parameters, in a fixed order.
    pub fn params(&self) -> Vec<ParamSpec> {
        let spec = |role, shape: Vec<usize>, init| ParamSpec { role, shape, init };
        let bias =
            |has: bool, n: usize| has.then(|| spec(ParamRole::Bias, vec![n], Init::Constant(0.0)));
        match *self {
            Layer::Linear {
                in_features,
                out_features,
                bias: has_bias,
            } => std::iter::once(spec(
                ParamRole::Weight,
                vec![out_features, in_features],
                WEIGHT_INIT,
            ))
            .chain(bias(has_bias, out_features))
            .collect(),
            Layer::Conv(conv) => std::iter::once(spec(
                ParamRole::Weight,
                conv.weight_shape().to_vec(),
                WEIGHT_INIT,
            ))
            .chain(bias(conv.bias, conv.out_channels))
            .collect(),
            Layer::BatchNorm2d { channels, .. } => vec![
                spec(
                    ParamRole::Scale,
                    vec![channels],
                    Init::Normal {
                        mean: 1.0,
                        std: 0.02,
                    },
                ),
                spec(ParamRole::Shift, vec![channels], Init::Constant(0.0)),
                spec(ParamRole::RunningMean, vec![channels], Init::Constant(0.0)),
                spec(ParamRole::RunningVar, vec![channels], Init::Constant(1.0)),
            ],
            Layer::Excite(excite) => {
                let [squeeze, expand] = excite.convolutions();
                vec![
                    spec(
                        ParamRole::ExciteSqueeze,
                        squeeze.weight_shape().to_vec(),
                        WEIGHT_INIT,
                    ),
                    spec(
                        ParamRole::ExciteExpand,
                        expand.weight_shape().to_vec(),
                        WEIGHT_INIT,
                    ),
                ]
            }
            Layer::Activation(_) | Layer::Reshape { .. } | Layer::Upsample { .. } | Layer::Glu => {
                Vec::new()
            }
        }
    }

    /// Short human name, used in errors and summaries.
    pub fn name(&self) -> String {
        match self {
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => format!("Linear({in_features}->{out_features})"),
            Layer::Conv(conv) => conv.to_string(),
            Layer::BatchNorm2d { channels, .. } => format!("BatchNorm2d({channels})"),
            Layer::Activation(a) => format!("{a:?}"),
            Layer::Reshape { shape } => format!("Reshape({shape:?})"),
            Layer::Upsample { factor } => format!("Upsample(x{factor})"),
            Layer::Glu => "GLU".to_string(),
            Layer::Excite(e) => format!(
                "Excite(from layer {}, {}->{})",
                e.from, e.in_channels, e.out_channels
            ),
        }
    }

    /// The per-sample output shape of layer `index`, given `earlier`: the network's shapes so
    /// far (its input, then each earlier layer's output). The last is this layer's input; a
    /// layer that reads an earlier output ([`Layer::Excite`]) checks that one too.
    pub fn output_shape(
        &self,
        index: usize,
        earlier: &[Vec<usize>],
    ) -> Result<Vec<usize>, ModelError> {
        let input = earlier.last().map_or(&[][..], Vec::as_slice);
        let fail = |reason: String| ModelError::Shape {
            index,
            layer: self.name(),
            input: input.to_vec(),
            reason,
        };
        match *self {
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => match input {
                [n] if *n == in_features => Ok(vec![out_features]),
                _ => Err(fail(format!("expected [{in_features}]"))),
            },
            Layer::Conv(conv) => match input {
                [c, h, w] if *c == conv.in_channels => {
                    match (conv.output_size(*h), conv.output_size(*w)) {
                        (Some(oh), Some(ow)) => Ok(vec![conv.out_channels, oh, ow]),
                        _ if conv.transposed => Err(fail("padding larger than output".into())),
                        _ => Err(fail(format!(
                            "kernel {} larger than padded input",
                            conv.kernel
                        ))),
                    }
                }
                _ => Err(fail(format!("expected [{}, H, W]", conv.in_channels))),
            },
            Layer::BatchNorm2d { channels, .. } => match input {
                [c, _, _] if *c == channels => Ok(input.to_vec()),
                _ => Err(fail(format!("expected [{channels}, H, W]"))),
            },
            Layer::Activation(_) => Ok(input.to_vec()),
            Layer::Reshape { ref shape } => {
                if shape.iter().product::<usize>() == input.iter().product::<usize>() {
                    Ok(shape.clone())
                } else {
                    Err(fail(format!("element count differs from {shape:?}")))
                }
            }
            Layer::Upsample { factor } => match input {
                [c, h, w] if factor > 0 => Ok(vec![*c, h * factor, w * factor]),
                _ => Err(fail("expected [C, H, W] and a factor of at least 1".into())),
            },
            Layer::Glu => match input {
                [c, h, w] if c % 2 == 0 => Ok(vec![c / 2, *h, *w]),
                _ => Err(fail("expected [C, H, W] with an even C".into())),
            },
            Layer::Excite(e) => {
                let source = (e.from < index).then(|| earlier.get(e.from + 1)).flatten();
                match (source.map(Vec::as_slice), input) {
                    (Some([c, h, w]), [out, _, _])
                        if *c == e.in_channels
                            && *out == e.out_channels
                            && h == w
                            && Excite::pool_window(*h).is_some() =>
                    {
                        Ok(input.to_vec())
                    }
                    _ => Err(fail(format!(
                        "expected [{}, H, W] here and a square [{}, S, S] from an earlier layer \
                         {} with S a multiple of {}",
                        e.out_channels,
                        e.in_channels,
                        e.from,
                        Excite::POOLED
                    ))),
                }
            }
        }
    }

    /// Multiply-accumulate count of one sample's forward pass (for GFLOP/s reports).
    pub fn macs(&self, input: &[usize], output: &[usize]) -> u64 {
        match *self {
            Layer::Linear {
                in_features,
                out_features,
                ..
            } => (in_features * out_features) as u64,
            Layer::Conv(conv) => conv.macs(input, output),
            // The gate: one 4×4 product per output channel and input channel, then 1×1.
            Layer::Excite(e) => {
                let [squeeze, expand] = e.convolutions();
                squeeze.macs(&[], &[e.out_channels, 1, 1])
                    + expand.macs(&[], &[e.out_channels, 1, 1])
            }
            _ => 0,
        }
    }
}
