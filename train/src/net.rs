//! A [`gan_models::Network`] made runnable in candle: its parameters as `Var`s and a forward pass
//! that walks the description layer by layer.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, DType, Device, Tensor, Var};
use gan_models::spectral::MatrixView;
use gan_models::{Activation, Excite, Init, LabelSite, Layer, Network, ParamRole, ParamSite};

use crate::error::Result;
use crate::kernels::{self, Kernels};
use crate::rng::SeededRng;
use crate::tensor_file::{self, TensorFile};

/// One parameter tensor with its stable name.
pub struct Param {
    pub name: String,
    pub role: ParamRole,
    pub var: Var,
}

/// A network description with live parameters.
pub struct Net {
    pub desc: Network,
    /// Per layer, its parameters in [`Layer::params`] order.
    layers: Vec<Vec<Param>>,
    /// A conditional network's class embedding.
    label_embedding: Option<Param>,
    /// Per decoder (a self-supervised discriminator's), per layer, its parameters.
    decoders: Vec<Vec<Vec<Param>>>,
    /// Which implementation convolutions, BatchNorm and activations run on.
    pub kernels: Kernels,
}

impl Net {
    /// Fresh parameters drawn from each parameter's [`Init`].
    pub fn init(desc: Network, rng: &mut SeededRng, device: &Device) -> Result<Self> {
        Self::build(desc, device, |entry| {
            let n = entry.spec.shape.iter().product();
            let values = match entry.spec.init {
                Init::Normal { mean, std } => rng.normal(n, mean, std),
                Init::Constant(c) => vec![c as f32; n],
                Init::UnitVector => {
                    let values = rng.normal(n, 0.0, 1.0);
                    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                    values.into_iter().map(|v| v / norm).collect()
                }
            };
            Ok(Tensor::from_vec(
                values,
                entry.spec.shape.as_slice(),
                device,
            )?)
        })
    }

    /// Parameters read from a safetensors file; every tensor must be there with its shape.
    pub fn load(desc: Network, path: &Path, device: &Device) -> Result<Self> {
        let mut file = TensorFile::read(path, device)?;
        Self::build(desc, device, |entry| {
            file.take(&entry.name, &entry.spec.shape)
        })
    }

    fn build(
        desc: Network,
        device: &Device,
        mut make: impl FnMut(&gan_models::ParamEntry) -> Result<Tensor>,
    ) -> Result<Self> {
        let mut layers: Vec<Vec<Param>> = desc.layers.iter().map(|_| Vec::new()).collect();
        let mut decoders: Vec<Vec<Vec<Param>>> = desc
            .decoders
            .iter()
            .map(|d| d.layers.iter().map(|_| Vec::new()).collect())
            .collect();
        let mut label_embedding = None;
        for entry in desc.params() {
            let var = Var::from_tensor(&make(&entry)?)?;
            let param = Param {
                name: entry.name,
                role: entry.spec.role,
                var,
            };
            match entry.site {
                ParamSite::Layer(index) => layers[index].push(param),
                ParamSite::Decoder { decoder, layer } => decoders[decoder][layer].push(param),
                ParamSite::LabelEmbedding => label_embedding = Some(param),
            }
        }
        Ok(Net {
            desc,
            layers,
            label_embedding,
            decoders,
            kernels: Kernels::default_for(device),
        })
    }

    /// An independent copy (its own storage) of this network's parameters.
    pub fn duplicate(&self, device: &Device) -> Result<Self> {
        let mut tensors = self.params().map(|p| p.var.as_tensor().copy());
        let mut copy = Self::build(self.desc.clone(), device, |_| {
            Ok(tensors
                .next()
                .expect("the same description has the same parameters")?)
        })?;
        copy.kernels = self.kernels;
        Ok(copy)
    }

    /// The device the parameters live on (the CPU for a network without any).
    pub fn device(&self) -> Device {
        self.params()
            .next()
            .map_or(Device::Cpu, |p| p.var.device().clone())
    }

    /// Every parameter, in [`Network::params`] order.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.layers
            .iter()
            .flatten()
            .chain(&self.label_embedding)
            .chain(self.decoders.iter().flatten().flatten())
    }

    /// The parameters the optimiser updates (not BatchNorm running statistics).
    pub fn trainable(&self) -> impl Iterator<Item = &Param> {
        self.params().filter(|p| p.role.trainable())
    }

    /// Every tensor with its stable name, for checkpoints.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.params()
            .map(|p| (p.name.clone(), p.var.as_tensor().clone()))
            .collect()
    }

    pub fn save(&self, path: &Path, metadata: HashMap<String, String>) -> Result<()> {
        crate::error::write_file(
            path,
            &tensor_file::to_bytes(&self.named_tensors(), metadata)?,
        )
    }

    /// One power iteration for every spectrally normalised layer (once per training step):
    /// `u ← W·v / ‖W·v‖` with `v = Wᵀu / ‖Wᵀu‖`, outside autograd.
    pub fn power_iteration(&self) -> Result<()> {
        for (layer, params) in self.desc.layers.iter().zip(&self.layers) {
            let (Some(view), Some(u)) = (layer.matrix_view(), find(params, ParamRole::SpectralU))
            else {
                continue;
            };
            let w = params[0].var.as_detached_tensor();
            let v = unit(&project(&w, u.var.as_tensor(), view)?)?;
            // W·v: each of the `outer` blocks [rows, inner] times its slice of v, summed.
            let MatrixView { outer, rows, inner } = view;
            let wv = w
                .reshape((outer, rows, inner))?
                .matmul(&v.reshape((outer, inner, 1))?)?
                .sum(0)?;
            u.var.set(&unit(&wv.flatten_all()?)?)?;
        }
        Ok(())
    }

    /// Forward pass over a batch; `labels` (u32 `[batch]`) is the class of each sample for a
    /// conditional network and must be `None` otherwise. `train` selects batch statistics in
    /// BatchNorm (and updates the running statistics); otherwise the running statistics are
    /// used, as an exported graph does.
    pub fn forward(&self, x: &Tensor, labels: Option<&Tensor>, train: bool) -> Result<Tensor> {
        self.forward_pass(x, labels, train, false)
    }

    /// [`Self::forward`] with the parameters treated as constants: gradients flow to the input
    /// only. The generator's step uses it for the discriminator, whose weight gradients it would
    /// throw away (a third of that step's arithmetic).
    pub fn forward_frozen(
        &self,
        x: &Tensor,
        labels: Option<&Tensor>,
        train: bool,
    ) -> Result<Tensor> {
        self.forward_pass(x, labels, train, true)
    }

    /// Each label's embedding row, `[batch, dim]`.
    fn embed(&self, labels: Option<&Tensor>, frozen: bool) -> Result<Option<Tensor>> {
        match (&self.label_embedding, labels) {
            (None, None) => Ok(None),
            (Some(table), Some(labels)) => Ok(Some(table.value(frozen).index_select(labels, 0)?)),
            (Some(_), None) => Err(crate::error::TrainError::invalid(
                "labels",
                "a conditional network needs a class label for each sample",
            )),
            (None, Some(_)) => Err(crate::error::TrainError::invalid(
                "labels",
                "an unconditional network takes no class labels",
            )),
        }
    }

    fn forward_pass(
        &self,
        x: &Tensor,
        labels: Option<&Tensor>,
        train: bool,
        frozen: bool,
    ) -> Result<Tensor> {
        Ok(self.forward_tapped(x, labels, train, frozen, &[])?.0)
    }

    /// [`Self::forward`] that also returns the outputs of the layers `taps` (in that order):
    /// a self-supervised discriminator's features for its decoders.
    pub fn forward_with_taps(
        &self,
        x: &Tensor,
        labels: Option<&Tensor>,
        train: bool,
        taps: &[usize],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        self.forward_tapped(x, labels, train, false, taps)
    }

    /// Decoder `k` of a self-supervised discriminator on `features` (the tapped map, or the
    /// quarter of it the decoder takes).
    pub fn decode(&self, k: usize, features: &Tensor, train: bool) -> Result<Tensor> {
        let (Some(decoder), Some(params)) = (self.desc.decoders.get(k), self.decoders.get(k))
        else {
            return Err(crate::error::TrainError::invalid(
                "model",
                format!("the discriminator has no decoder {k}"),
            ));
        };
        let pass = self.pass(train, false);
        Ok(walk(
            &decoder.layers,
            params,
            features.clone(),
            pass,
            &[],
            |_, _| Ok(()),
        )?
        .0)
    }

    fn pass(&self, train: bool, frozen: bool) -> Pass {
        Pass {
            train,
            kernels: self.kernels,
            frozen,
        }
    }

    fn forward_tapped(
        &self,
        x: &Tensor,
        labels: Option<&Tensor>,
        train: bool,
        frozen: bool,
        taps: &[usize],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let embedded = self.embed(labels, frozen)?;
        let site = self.desc.label.map(|l| l.site);
        let x = match (&embedded, site) {
            (Some(e), Some(LabelSite::Joined)) => Tensor::cat(&[x, e], 1)?,
            _ => x.clone(),
        };
        // The projection term ⟨embed(y), h⟩ of a projection discriminator, `[batch, 1]`.
        let mut projection = None;
        let (y, tapped) = walk(
            &self.desc.layers,
            &self.layers,
            x,
            self.pass(train, frozen),
            taps,
            |i, x| {
                if let (Some(e), Some(LabelSite::Projection { head })) = (&embedded, site)
                    && head == i
                {
                    projection = Some((e * x.flatten_from(1)?)?.sum_keepdim(1)?);
                }
                Ok(())
            },
        )?;
        let y = match projection {
            Some(p) => (y + p)?,
            None => y,
        };
        Ok((y, tapped))
    }
}

/// `layers` (with their `params`) on `x`; `before(i, x)` sees the input of layer `i` before it
/// runs. Returns the output and the outputs of the layers `taps`, in that order.
fn walk(
    layers: &[Layer],
    params: &[Vec<Param>],
    mut x: Tensor,
    pass: Pass,
    taps: &[usize],
    mut before: impl FnMut(usize, &Tensor) -> Result<()>,
) -> Result<(Tensor, Vec<Tensor>)> {
    let fused = pass.kernels != Kernels::Candle;
    // Outputs a later layer reads (an excitation's source) or the caller asked for.
    let sources: Vec<usize> = layers
        .iter()
        .filter_map(|l| match l {
            Layer::Excite(e) => Some(e.from),
            _ => None,
        })
        .chain(taps.iter().copied())
        .collect();
    let mut kept: Vec<Option<Tensor>> = vec![None; layers.len()];
    let mut i = 0;
    while i < layers.len() {
        before(i, &x)?;
        let (layer, own) = (&layers[i], &params[i]);
        // Training-mode BatchNorm runs as one fused op, with the rectifier after it if there is
        // one (which it then consumes), or alone (a rectifier of slope 1).
        let fused_slope = match (layer, layers.get(i + 1)) {
            (Layer::BatchNorm2d { .. }, next) if fused && pass.train => {
                match next.and_then(|l| match l {
                    Layer::Activation(a) => rectifier_slope(*a),
                    _ => None,
                }) {
                    Some(slope) => {
                        i += 1;
                        Some(slope)
                    }
                    None => Some(1.0),
                }
            }
            _ => None,
        };
        x = match (layer, fused_slope) {
            (
                &Layer::BatchNorm2d {
                    eps,
                    momentum,
                    channels,
                },
                Some(slope),
            ) => {
                let norm = FusedNorm {
                    channels,
                    eps,
                    momentum,
                    slope,
                    frozen: pass.frozen,
                };
                norm.forward(pass.kernels, own, &x)?
            }
            _ => forward_layer(layer, own, &x, pass, &kept)?,
        };
        if sources.contains(&i) {
            kept[i] = Some(x.clone());
        }
        i += 1;
    }
    let tapped = taps
        .iter()
        .map(|&t| {
            kept.get(t).cloned().flatten().ok_or_else(|| {
                crate::error::TrainError::invalid(
                    "model",
                    format!("layer {t}'s output is not a value of its own (it is fused)"),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((x, tapped))
}

/// The negative-side slope of ReLU (0) and LeakyReLU; `None` for other activations.
fn rectifier_slope(activation: Activation) -> Option<f32> {
    match activation {
        Activation::Relu => Some(0.0),
        Activation::LeakyRelu { slope } => Some(slope as f32),
        Activation::Tanh | Activation::Sigmoid => None,
    }
}

/// How a forward pass runs.
#[derive(Clone, Copy)]
struct Pass {
    /// BatchNorm on batch statistics (updating the running ones).
    train: bool,
    /// Which implementation convolutions and activations run on.
    kernels: Kernels,
    /// Parameters as constants (no weight gradients).
    frozen: bool,
}

impl Param {
    /// The parameter as a graph input: tracked, or a constant when `frozen`.
    fn value(&self, frozen: bool) -> Tensor {
        if frozen {
            self.var.as_detached_tensor()
        } else {
            self.var.as_tensor().clone()
        }
    }
}

/// One layer on `x`; `earlier` holds the outputs of earlier layers that later ones read.
fn forward_layer(
    layer: &Layer,
    params: &[Param],
    x: &Tensor,
    pass: Pass,
    earlier: &[Option<Tensor>],
) -> Result<Tensor> {
    let Pass {
        train,
        kernels: which,
        frozen,
    } = pass;
    let bias_param = || find(params, ParamRole::Bias).map(|b| b.value(frozen));
    let bias = |y: Tensor, broadcast: &[usize]| -> Result<Tensor> {
        match bias_param() {
            Some(b) => Ok(y.broadcast_add(&b.reshape(broadcast)?)?),
            None => Ok(y),
        }
    };
    // A spectrally normalised layer computes with W/σ.
    let weight = || -> Result<Tensor> {
        let w = params[0].value(frozen);
        match (layer.matrix_view(), find(params, ParamRole::SpectralU)) {
            (Some(view), Some(u)) => spectral_weight(&w, &u.var.as_detached_tensor(), view),
            _ => Ok(w),
        }
    };
    Ok(match *layer {
        Layer::Linear { out_features, .. } => match which {
            Kernels::Fast => kernels::linear(x, &weight()?, bias_param().as_ref())?,
            Kernels::Lowered | Kernels::Candle => {
                bias(x.matmul(&weight()?.t()?)?, &[1, out_features])?
            }
        },
        Layer::Conv(ref conv) => {
            kernels::convolution(which, x, &weight()?, bias_param().as_ref(), conv)?
        }
        Layer::BatchNorm2d {
            channels,
            eps,
            momentum,
        } => batch_norm(params, x, channels, eps, momentum, train, frozen)?,
        Layer::Activation(activation) => match rectifier_slope(activation) {
            Some(slope) if which == Kernels::Fast => kernels::activate(x, slope)?,
            _ => activate(activation, x)?,
        },
        Layer::Reshape { ref shape } => {
            let dims: Vec<usize> = std::iter::once(x.dim(0)?)
                .chain(shape.iter().copied())
                .collect();
            x.reshape(dims)?
        }
        Layer::Upsample { factor } => kernels::upsample_nearest(which, x, factor)?,
        Layer::Glu => glu(x)?,
        Layer::Excite(excite) => {
            let source = earlier.get(excite.from).cloned().flatten().ok_or_else(|| {
                crate::error::TrainError::invalid(
                    "model",
                    format!("excitation source layer {} has no output", excite.from),
                )
            })?;
            let gate = excitation_gate(&excite, &source, params, pass)?;
            x.broadcast_mul(&gate)?
        }
    })
}

/// The first half of the channels times the sigmoid of the second half.
fn glu(x: &Tensor) -> candle_core::Result<Tensor> {
    let half = x.dim(1)? / 2;
    x.narrow(1, 0, half)?
        .mul(&candle_nn::ops::sigmoid(&x.narrow(1, half, half)?)?)
}

/// Skip-layer excitation's gate `[n, out, 1, 1]` from its `source` map.
fn excitation_gate(
    excite: &Excite,
    source: &Tensor,
    params: &[Param],
    pass: Pass,
) -> Result<Tensor> {
    let side = source.dim(2)?;
    let window = Excite::pool_window(side).ok_or_else(|| {
        crate::error::TrainError::invalid("model", format!("cannot pool a {side} px map to 4×4"))
    })?;
    let pooled = if window == 1 {
        source.clone()
    } else {
        source.avg_pool2d(window)?
    };
    let [squeeze, expand] = excite.convolutions();
    let weight = |role| {
        find(params, role)
            .map(|p| p.value(pass.frozen))
            .expect("an excitation has both weights")
    };
    let hidden = kernels::convolution(
        pass.kernels,
        &pooled,
        &weight(ParamRole::ExciteSqueeze),
        None,
        &squeeze,
    )?;
    let hidden = activate(
        Activation::LeakyRelu {
            slope: Excite::SLOPE,
        },
        &hidden,
    )?;
    let logits = kernels::convolution(
        pass.kernels,
        &hidden,
        &weight(ParamRole::ExciteExpand),
        None,
        &expand,
    )?;
    Ok(candle_nn::ops::sigmoid(&logits)?)
}

/// The parameter of `role` among a layer's.
fn find(params: &[Param], role: ParamRole) -> Option<&Param> {
    params.iter().find(|p| p.role == role)
}

/// `t / ‖t‖` (all elements as one vector).
fn unit(t: &Tensor) -> candle_core::Result<Tensor> {
    t.broadcast_div(&(t.sqr()?.sum_all()?.sqrt()? + 1e-12)?)
}

/// W/σ with σ = ‖Wᵀu‖ for `u` held fixed: gradients reach W through σ as well, as in
/// PyTorch's `spectral_norm` (where u and v are constants of the step).
fn spectral_weight(w: &Tensor, u: &Tensor, view: MatrixView) -> Result<Tensor> {
    let sigma = project(w, u, view)?.sqr()?.sum_all()?.sqrt()?;
    Ok(w.broadcast_div(&sigma)?)
}

/// Wᵀu as `[outer, 1, inner]`: a matrix product per block (cheaper than a broadcast product,
/// forward and backward).
fn project(w: &Tensor, u: &Tensor, view: MatrixView) -> candle_core::Result<Tensor> {
    let MatrixView { outer, rows, inner } = view;
    let u = u
        .reshape((1, 1, rows))?
        .broadcast_as((outer, 1, rows))?
        .contiguous()?;
    u.matmul(&w.reshape((outer, rows, inner))?)
}

/// Training-mode BatchNorm + rectifier as one op: the CPU kernel or the device version.
struct FusedNorm {
    channels: usize,
    eps: f64,
    momentum: f64,
    slope: f32,
    frozen: bool,
}

impl FusedNorm {
    /// The layer's output; updates the running statistics as [`batch_norm`] does.
    fn forward(&self, kernels: Kernels, params: &[Param], x: &Tensor) -> Result<Tensor> {
        let [scale, shift, running_mean, running_var] = params else {
            unreachable!("BatchNorm2d always has four parameters")
        };
        let (gamma, beta) = (scale.value(self.frozen), shift.value(self.frozen));
        let (y, mean, var) =
            kernels::batch_norm_act(kernels, x, &gamma, &beta, self.eps, self.slope)?;
        let count = (x.elem_count() / self.channels) as f64;
        let unbiased = count / (count - 1.0).max(1.0);
        let momentum = self.momentum;
        running_mean
            .var
            .set(&((running_mean.var.as_tensor() * (1.0 - momentum))? + (mean * momentum)?)?)?;
        running_var.var.set(
            &((running_var.var.as_tensor() * (1.0 - momentum))? + ((var * unbiased)? * momentum)?)?,
        )?;
        Ok(y)
    }
}

fn activate(activation: Activation, x: &Tensor) -> candle_core::Result<Tensor> {
    match activation {
        Activation::Relu => x.relu(),
        Activation::LeakyRelu { slope } => {
            // max(x, slope·x) for 0 < slope < 1: one comparison, differentiable everywhere but 0.
            x.maximum(&(x * slope)?)
        }
        Activation::Tanh => x.tanh(),
        Activation::Sigmoid => candle_nn::ops::sigmoid(x),
    }
}

fn batch_norm(
    params: &[Param],
    x: &Tensor,
    channels: usize,
    eps: f64,
    momentum: f64,
    train: bool,
    frozen: bool,
) -> Result<Tensor> {
    let [scale, shift, running_mean, running_var] = params else {
        unreachable!("BatchNorm2d always has four parameters")
    };
    let per_channel = |t: &Tensor| t.reshape((1, channels, 1, 1));
    let (mean, var) = if train {
        let (n, _, h, w) = x.dims4()?;
        let count = (n * h * w) as f64;
        // Statistics over N, H, W: move channels first and flatten the rest.
        let flat = x.transpose(0, 1)?.flatten_from(1)?;
        let mean = flat.mean(D::Minus1)?;
        let centred = flat.broadcast_sub(&mean.unsqueeze(1)?)?;
        let var = centred.sqr()?.mean(D::Minus1)?;
        let unbiased = (&var * (count / (count - 1.0).max(1.0)))?;
        let rm =
            ((running_mean.var.as_tensor() * (1.0 - momentum))? + (mean.detach() * momentum)?)?;
        let rv =
            ((running_var.var.as_tensor() * (1.0 - momentum))? + (unbiased.detach() * momentum)?)?;
        running_mean.var.set(&rm)?;
        running_var.var.set(&rv)?;
        (mean, var)
    } else {
        (
            running_mean.var.as_tensor().clone(),
            running_var.var.as_tensor().clone(),
        )
    };
    let inv_std = (var + eps)?.sqrt()?.recip()?;
    let gain = (scale.value(frozen) * &inv_std)?;
    let offset = (shift.value(frozen) - (&mean * &gain)?)?;
    Ok(x.broadcast_mul(&per_channel(&gain)?)?
        .broadcast_add(&per_channel(&offset)?)?)
}

/// A batch of samples as a tensor `[n, shape...]`.
pub fn batch_tensor(
    values: Vec<f32>,
    n: usize,
    shape: &[usize],
    device: &Device,
) -> Result<Tensor> {
    let dims: Vec<usize> = std::iter::once(n).chain(shape.iter().copied()).collect();
    Ok(Tensor::from_vec(values, dims, device)?.to_dtype(DType::F32)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    /// One spectrally normalised Linear layer 3 → 2 with `weight` (row-major [2, 3]).
    fn linear_net(weight: &[f32]) -> Net {
        let desc = Network {
            input_shape: vec![3],
            layers: vec![Layer::Linear {
                in_features: 3,
                out_features: 2,
                bias: false,
            }],
            label: None,
            spectral_norm: true,
            decoders: Vec::new(),
        };
        let mut rng = SeededRng::new(5, Stream::Init);
        let net = Net::init(desc, &mut rng, &Device::Cpu).unwrap();
        let w = Tensor::from_slice(weight, (2, 3), &Device::Cpu).unwrap();
        net.layers[0][0].var.set(&w).unwrap();
        net
    }

    fn effective(net: &Net) -> Tensor {
        let view = net.desc.layers[0].matrix_view().unwrap();
        spectral_weight(
            net.layers[0][0].var.as_tensor(),
            net.layers[0][1].var.as_tensor(),
            view,
        )
        .unwrap()
    }

    /// The largest singular value of a 2 × n matrix: √ of the top eigenvalue of W·Wᵀ.
    fn top_singular_value(w: &Tensor) -> f64 {
        let rows: Vec<Vec<f64>> = w
            .to_vec2::<f32>()
            .unwrap()
            .into_iter()
            .map(|r| r.into_iter().map(f64::from).collect())
            .collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let (a, b, d) = (
            dot(&rows[0], &rows[0]),
            dot(&rows[0], &rows[1]),
            dot(&rows[1], &rows[1]),
        );
        let top = (a + d) / 2.0 + (((a - d) / 2.0).powi(2) + b * b).sqrt();
        top.sqrt()
    }

    /// A network of `layers` on a per-sample `input` shape, with fresh parameters.
    fn plain_net(input: &[usize], layers: Vec<Layer>) -> Net {
        let desc = Network {
            input_shape: input.to_vec(),
            layers,
            label: None,
            spectral_norm: false,
            decoders: Vec::new(),
        };
        Net::init(desc, &mut SeededRng::new(1, Stream::Init), &Device::Cpu).unwrap()
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn nearest_upsampling_repeats_each_value_as_a_block() {
        let net = plain_net(&[1, 2, 2], vec![Layer::Upsample { factor: 2 }]);
        let x = Tensor::from_slice(&[1f32, 2.0, 3.0, 4.0], (1, 1, 2, 2), &Device::Cpu).unwrap();
        let y = net.forward(&x, None, false).unwrap();
        assert_eq!(y.dims(), [1, 1, 4, 4]);
        #[rustfmt::skip]
        let expected = [
            1.0, 1.0, 2.0, 2.0,
            1.0, 1.0, 2.0, 2.0,
            3.0, 3.0, 4.0, 4.0,
            3.0, 3.0, 4.0, 4.0,
        ];
        assert_eq!(values(&y), expected);
        // Its gradient sums each block.
        let var = Var::from_tensor(&x).unwrap();
        let weights = Tensor::arange(0f32, 16.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 1, 4, 4))
            .unwrap();
        let y = net.forward(var.as_tensor(), None, false).unwrap();
        let grads = (y * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = values(grads.get(var.as_tensor()).unwrap());
        assert_eq!(
            g,
            [
                0.0 + 1.0 + 4.0 + 5.0,
                2.0 + 3.0 + 6.0 + 7.0,
                8.0 + 9.0 + 12.0 + 13.0,
                10.0 + 11.0 + 14.0 + 15.0
            ]
        );
    }

    #[test]
    fn glu_gates_the_first_half_of_the_channels_by_the_second() {
        let net = plain_net(&[4, 1, 1], vec![Layer::Glu]);
        // Channels (a₁, a₂, b₁, b₂) = (2, -4, 0, ln 3): a·σ(b) = (2·½, -4·¾).
        let x =
            Tensor::from_slice(&[2f32, -4.0, 0.0, 3f32.ln()], (1, 4, 1, 1), &Device::Cpu).unwrap();
        let y = values(&net.forward(&x, None, false).unwrap());
        assert!(
            (y[0] - 1.0).abs() < 1e-6 && (y[1] + 3.0).abs() < 1e-5,
            "{y:?}"
        );
    }

    /// An 8×8 map gating itself: pooled to 4×4 (2×2 means), the squeeze weight picks the
    /// top-left mean (of 0, 1, 8, 9: 4.5) negated, LeakyReLU(0.1) gives -0.45, the expand weight
    /// 2 gives -0.9, so every value is multiplied by σ(-0.9), on both kernel sets.
    #[test]
    fn excitation_multiplies_by_the_sigmoid_of_the_pooled_source() {
        let excite = Excite {
            from: 0,
            in_channels: 1,
            out_channels: 1,
        };
        for kernels in [Kernels::Fast, Kernels::Candle] {
            let mut net = plain_net(
                &[1, 8, 8],
                vec![
                    Layer::Reshape {
                        shape: vec![1, 8, 8],
                    },
                    Layer::Excite(excite),
                ],
            );
            net.kernels = kernels;
            let mut squeeze = vec![0f32; 16];
            squeeze[0] = -1.0;
            let cpu = &Device::Cpu;
            net.layers[1][0]
                .var
                .set(&Tensor::from_vec(squeeze, (1, 1, 4, 4), cpu).unwrap())
                .unwrap();
            net.layers[1][1]
                .var
                .set(&Tensor::from_slice(&[2f32], (1, 1, 1, 1), cpu).unwrap())
                .unwrap();
            let x = Tensor::arange(0f32, 64.0, cpu)
                .unwrap()
                .reshape((1, 1, 8, 8))
                .unwrap();
            let y = values(&net.forward(&x, None, true).unwrap());
            let gate = 1.0 / (1.0 + 0.9f32.exp());
            for (k, v) in y.iter().enumerate() {
                assert!(
                    (v - k as f32 * gate).abs() < 1e-5,
                    "{kernels:?} value {k}: {v}"
                );
            }
        }
    }

    #[test]
    fn power_iterations_make_the_normalised_weight_spectral_norm_one() {
        // Singular values 5 and 1 (rows orthogonal, lengths 5 and 1), the top one not on an axis.
        let weight = [3.0, 4.0, 0.0, 0.0, 0.0, 1.0];
        let net = linear_net(&weight);
        let w = Tensor::from_slice(&weight, (2, 3), &Device::Cpu).unwrap();
        assert!((top_singular_value(&w) - 5.0).abs() < 1e-9);
        let before = top_singular_value(&effective(&net));
        for _ in 0..5 {
            net.power_iteration().unwrap();
        }
        let after = top_singular_value(&effective(&net));
        assert!((after - 1.0).abs() < 1e-5, "σ(W/σ̂) = {after}");
        assert!(
            (before - 1.0).abs() > 1e-3,
            "a random u does not already give σ̂ = σ ({before}), so the test can fail"
        );
        // u is a unit vector along the top left singular vector, e₁.
        let u = net.layers[0][1].var.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (u[0].abs() - 1.0).abs() < 1e-5 && u[1].abs() < 1e-3,
            "{u:?}"
        );
    }

    /// d/dW of Σ c ⊙ W/‖Wᵀu‖ (u fixed) against central differences.
    #[test]
    fn gradients_reach_the_weight_through_sigma() {
        let weight = [0.3f32, -0.2, 0.5, 0.1, 0.4, -0.6];
        let net = linear_net(&weight);
        net.power_iteration().unwrap();
        let u = net.layers[0][1].var.as_tensor().clone();
        let view = net.desc.layers[0].matrix_view().unwrap();
        let c =
            Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, -1.0, 2.0], (2, 3), &Device::Cpu).unwrap();
        let objective = |w: &Tensor| {
            (spectral_weight(w, &u, view).unwrap() * &c)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let var = Var::from_slice(&weight, (2, 3), &Device::Cpu).unwrap();
        let grads = objective(var.as_tensor()).backward().unwrap();
        let analytic = grads
            .get(var.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let h = 1e-2f32;
        for i in 0..weight.len() {
            let at = |delta: f32| {
                let mut w = weight;
                w[i] += delta;
                let w = Tensor::from_slice(&w, (2, 3), &Device::Cpu).unwrap();
                objective(&w).to_scalar::<f32>().unwrap()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 2e-3 * (1.0 + numeric.abs()),
                "weight {i}: finite differences {numeric}, autograd {}",
                analytic[i]
            );
        }
    }
}
