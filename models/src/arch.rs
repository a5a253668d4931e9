//! The architectures of the chapter, as hyper-parameters that expand into [`Network`]s.

use gan_contract::metadata::role;
use serde::{Deserialize, Serialize};

use crate::{
    Activation, Conv, Decoder, Excite, LabelInput, LabelSite, Layer, ModelError, Network,
    SpectralNorm,
};

const LEAKY: Activation = Activation::LeakyRelu { slope: 0.2 };
const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

pub use gan_contract::limits::{MAX_CLASSES, MAX_LATENT, MAX_PARAMETERS, MAX_WIDTH};

/// Largest class embedding a conditional generator joins to `z`.
const MAX_GENERATOR_EMBEDDING: usize = 128;

/// The toy GAN's real data: `X = Z·A + b`, `Z ~ N(0, I₂)`.
pub const TOY2D_A: [[f64; 2]; 2] = [[1.0, 2.0], [-0.1, 0.5]];
pub const TOY2D_B: [f64; 2] = [1.0, 2.0];

/// A GAN architecture with all hyper-parameters that shape its two networks. Serialised into a
/// run's `config.json` (`{"arch": "dcgan", "image_size": 64, ...}`); together with the
/// checkpoint's tensors it rebuilds both networks exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum ArchConfig {
    /// Linear generator 2→2 against a 2→5→3→1 Tanh discriminator.
    Toy2d,
    /// MLP GAN for 28×28 gray digits.
    Mlp(Mlp),
    /// DCGAN for square images of a power-of-two size.
    Dcgan(Dcgan),
    /// The few-shot GAN (FastGAN, Liu et al. 2021) for small image sets: see [`FastGan`].
    #[serde(rename = "fastgan")]
    FastGan(FastGan),
}

/// What every architecture but the toy one has: the classes of a conditional GAN and which
/// networks are spectrally normalised. The default is an unconditional GAN without spectral
/// normalisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shared {
    /// Class names of a conditional GAN, in label order; empty for an unconditional one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Which networks are spectrally normalised (a normalised DCGAN discriminator has no
    /// BatchNorm: it takes its place, as in SNGAN).
    #[serde(default, skip_serializing_if = "SpectralNorm::is_off")]
    pub spectral_norm: SpectralNorm,
}

/// The MLP GAN's hyper-parameters; the default is the chapter's (nz 100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    pub nz: usize,
    /// BatchNorm after the generator's hidden layers but the first (as DCGAN's generator
    /// has; without it the MLP generator collapses on the digits).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batch_norm: bool,
    #[serde(flatten)]
    pub shared: Shared,
}

impl Default for Mlp {
    fn default() -> Self {
        Mlp {
            nz: 100,
            batch_norm: false,
            shared: Shared::default(),
        }
    }
}

/// The DCGAN's hyper-parameters; the default is the paper's 64 px RGB network (nz 100,
/// widths 64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dcgan {
    pub image_size: usize,
    pub channels: usize,
    pub nz: usize,
    pub ngf: usize,
    pub ndf: usize,
    #[serde(flatten)]
    pub shared: Shared,
}

impl Default for Dcgan {
    fn default() -> Self {
        Dcgan {
            image_size: 64,
            channels: 3,
            nz: 100,
            ngf: 64,
            ndf: 64,
            shared: Shared::default(),
        }
    }
}

/// FastGAN's hyper-parameters (Liu et al. 2021, "Towards Faster and Stabilized GAN Training
/// for High-fidelity Few-shot Image Synthesis"), at the scale of small sprite sets.
///
/// The generator grows a 4×4 seed by blocks of nearest upsampling, a 3×3 convolution,
/// BatchNorm and a GLU, and each map from 32 px up is gated by skip-layer excitation from the
/// map of an eighth of its size. The discriminator is DCGAN's (strided 4×4 convolutions,
/// BatchNorm, LeakyReLU) down to 4×4 and one logit, with two decoders that rebuild the real
/// image from its 8×8 features and a quarter of it from its 16×16 features (the paper's
/// self-supervision). Widths: `ngf·64/r` channels at side `r` in the generator (between 8 and
/// `16·ngf`), `ndf·2^k` after the discriminator's k-th block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastGan {
    pub image_size: usize,
    pub channels: usize,
    pub nz: usize,
    pub ngf: usize,
    pub ndf: usize,
    #[serde(flatten)]
    pub shared: Shared,
}

impl Default for FastGan {
    fn default() -> Self {
        FastGan {
            image_size: 64,
            channels: 3,
            nz: 128,
            ngf: 16,
            ndf: 32,
            shared: Shared::default(),
        }
    }
}

/// One network of a run: a GAN has a generator and a discriminator, a classifier run one
/// classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Generator,
    Discriminator,
    Classifier,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Generator => role::GENERATOR,
            Role::Discriminator => role::DISCRIMINATOR,
            Role::Classifier => role::CLASSIFIER,
        }
    }

    /// Its tensors' file in a checkpoint folder.
    pub fn checkpoint_file(self) -> &'static str {
        use crate::run_layout::{CLASSIFIER_FILE, DISCRIMINATOR_FILE, GENERATOR_FILE};
        match self {
            Role::Generator => GENERATOR_FILE,
            Role::Discriminator => DISCRIMINATOR_FILE,
            Role::Classifier => CLASSIFIER_FILE,
        }
    }
}

impl ArchConfig {
    /// Lower-case name (`toy2d`, `mlp`, `dcgan`).
    pub fn name(&self) -> &'static str {
        match self {
            ArchConfig::Toy2d => "toy2d",
            ArchConfig::Mlp(_) => "mlp",
            ArchConfig::Dcgan(_) => "dcgan",
            ArchConfig::FastGan(_) => "fastgan",
        }
    }

    /// Size of the latent vector `z ~ N(0, I)`.
    pub fn latent_dim(&self) -> usize {
        match self {
            ArchConfig::Toy2d => 2,
            ArchConfig::Mlp(m) => m.nz,
            ArchConfig::Dcgan(d) => d.nz,
            ArchConfig::FastGan(f) => f.nz,
        }
    }

    /// Per-sample shape of real data and generated samples: `[2]` or `[C, H, W]`.
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            ArchConfig::Toy2d => vec![2],
            ArchConfig::Mlp(_) => vec![1, 28, 28],
            ArchConfig::Dcgan(d) => vec![d.channels, d.image_size, d.image_size],
            ArchConfig::FastGan(f) => vec![f.channels, f.image_size, f.image_size],
        }
    }

    /// The class names of a conditional GAN, in label order (empty: unconditional).
    pub fn classes(&self) -> &[String] {
        self.shared().map_or(&[], |s| &s.classes)
    }

    /// Which networks are spectrally normalised (the toy GAN: none).
    pub fn spectral_norm(&self) -> SpectralNorm {
        self.shared().map_or(SpectralNorm::Off, |s| s.spectral_norm)
    }

    /// The part every architecture but the toy one has.
    pub fn shared(&self) -> Option<&Shared> {
        match self {
            ArchConfig::Toy2d => None,
            ArchConfig::Mlp(m) => Some(&m.shared),
            ArchConfig::Dcgan(d) => Some(&d.shared),
            ArchConfig::FastGan(f) => Some(&f.shared),
        }
    }

    fn shared_mut(&mut self) -> Option<&mut Shared> {
        match self {
            ArchConfig::Toy2d => None,
            ArchConfig::Mlp(m) => Some(&mut m.shared),
            ArchConfig::Dcgan(d) => Some(&mut d.shared),
            ArchConfig::FastGan(f) => Some(&mut f.shared),
        }
    }

    /// The same architecture with `setting` for spectral normalisation; the toy GAN has none.
    pub fn with_spectral_norm(mut self, setting: SpectralNorm) -> Result<Self, ModelError> {
        match self.shared_mut() {
            Some(shared) => shared.spectral_norm = setting,
            None if setting.is_off() => {}
            None => {
                return Err(ModelError::InvalidConfig(
                    "the toy2d GAN has no spectral normalisation (use mlp or dcgan)".into(),
                ));
            }
        }
        Ok(self)
    }

    /// The same architecture conditioned on `classes` (empty: unconditional). The toy GAN has
    /// no conditional form.
    pub fn with_classes(mut self, names: Vec<String>) -> Result<Self, ModelError> {
        match self.shared_mut() {
            Some(shared) => shared.classes = names,
            None if names.is_empty() => {}
            None => {
                return Err(ModelError::InvalidConfig(
                    "the toy2d GAN has no conditional form (its data has no classes)".into(),
                ));
            }
        }
        self.validate()?;
        Ok(self)
    }

    /// The generator's label input: an embedding as wide as the class count (capped), joined
    /// to `z`.
    fn generator_label(&self) -> Option<LabelInput> {
        let classes = self.classes().len();
        (classes > 0).then(|| LabelInput {
            classes,
            dim: classes.min(MAX_GENERATOR_EMBEDDING),
            site: LabelSite::Joined,
        })
    }

    /// Whether samples are images (`[C, H, W]`) rather than points.
    pub fn is_image(&self) -> bool {
        self.sample_shape().len() == 3
    }

    /// The chapter's learning rates `(lr_d, lr_g)` where the architecture has its own.
    pub fn default_learning_rates(&self) -> Option<(f64, f64)> {
        match self {
            ArchConfig::Toy2d => Some((0.05, 0.005)),
            _ => None,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidConfig(m));
        let classes = self.classes();
        if classes.len() == 1 || classes.len() > MAX_CLASSES {
            return bad(format!(
                "a conditional GAN needs from 2 to {MAX_CLASSES} classes, not {}",
                classes.len()
            ));
        }
        for (i, name) in classes.iter().enumerate() {
            if name.trim().is_empty() || classes[..i].contains(name) {
                return bad(format!("class name {name:?} is empty or given twice"));
            }
        }
        match *self {
            ArchConfig::Toy2d => Ok(()),
            ArchConfig::Mlp(Mlp { nz, .. }) if nz == 0 || nz > MAX_LATENT => {
                bad(format!("nz must be from 1 to {MAX_LATENT}, not {nz}"))
            }
            ArchConfig::Mlp(_) => Ok(()),
            ArchConfig::Dcgan(Dcgan {
                image_size,
                channels,
                nz,
                ngf,
                ndf,
                ..
            }) => {
                if !(16..=256).contains(&image_size) || !image_size.is_power_of_two() {
                    return bad(format!(
                        "image size {image_size} is not a power of two from 16 to 256"
                    ));
                }
                check_image_gan(channels, nz, ngf, ndf)
            }
            ArchConfig::FastGan(FastGan {
                image_size,
                channels,
                nz,
                ngf,
                ndf,
                ref shared,
            }) => {
                if !(32..=256).contains(&image_size) || !image_size.is_power_of_two() {
                    return bad(format!(
                        "image size {image_size} is not a power of two from 32 to 256 \
                         (fastgan's excitation gates need 32 px at least)"
                    ));
                }
                if !shared.spectral_norm.is_off() {
                    return bad(
                        "fastgan has no spectral normalisation (its discriminator is \
                         steadied by its reconstruction task)"
                            .into(),
                    );
                }
                if !shared.classes.is_empty() {
                    return bad("fastgan has no conditional form yet (use dcgan)".into());
                }
                check_image_gan(channels, nz, ngf, ndf)
            }
        }
    }

    /// The generator: `[nz]` → [`Self::sample_shape`], output in [-1, 1] for images.
    pub fn generator(&self) -> Result<Network, ModelError> {
        self.validate()?;
        let label = self.generator_label();
        // The first layer sees `z` with the label's embedding joined.
        let input = self.latent_dim() + label.map_or(0, |l| l.dim);
        let layers = match *self {
            ArchConfig::Toy2d => vec![linear(2, 2)],
            ArchConfig::Mlp(Mlp { batch_norm, .. }) => {
                let hidden: Vec<Layer> = if batch_norm {
                    [linear(input, 128), Layer::Activation(Activation::Relu)]
                        .into_iter()
                        .chain(normalised_linear(128, 256, Activation::Relu))
                        .chain(normalised_linear(256, 512, Activation::Relu))
                        .collect()
                } else {
                    mlp(&[input, 128, 256, 512], Activation::Relu).collect()
                };
                hidden
                    .into_iter()
                    .chain([
                        linear(512, 784),
                        Layer::Activation(Activation::Tanh),
                        Layer::Reshape {
                            shape: vec![1, 28, 28],
                        },
                    ])
                    .collect()
            }
            ArchConfig::Dcgan(Dcgan {
                image_size,
                channels,
                ngf,
                ..
            }) => {
                let blocks = dcgan_blocks(image_size);
                let mut width = ngf << blocks;
                let mut layers = vec![Layer::Reshape {
                    shape: vec![input, 1, 1],
                }];
                layers.extend(deconv_bn_relu(input, width, 1, 0));
                for _ in 0..blocks {
                    layers.extend(deconv_bn_relu(width, width / 2, 2, 1));
                    width /= 2;
                }
                layers.push(conv4(width, channels, 2, 1, true, true));
                layers.push(Layer::Activation(Activation::Tanh));
                layers
            }
            ArchConfig::FastGan(ref fastgan) => fastgan.generator_layers(input),
        };
        checked(Network {
            input_shape: vec![self.latent_dim()],
            layers,
            label,
            spectral_norm: self.spectral_norm().applies_to(Role::Generator),
            decoders: Vec::new(),
        })
    }

    /// The discriminator: [`Self::sample_shape`] → `[1]`, a logit (probability = sigmoid).
    pub fn discriminator(&self) -> Result<Network, ModelError> {
        self.validate()?;
        let spectral_norm = self.spectral_norm().applies_to(Role::Discriminator);
        let layers = match *self {
            ArchConfig::Toy2d => mlp(&[2, 5, 3], Activation::Tanh)
                .chain([linear(3, 1)])
                .collect(),
            ArchConfig::Mlp(_) => std::iter::once(Layer::Reshape { shape: vec![784] })
                .chain(mlp(&[784, 512, 256, 128], LEAKY))
                .chain([linear(128, 1)])
                .collect(),
            ArchConfig::Dcgan(Dcgan {
                image_size,
                channels,
                ndf,
                ..
            }) => {
                let mut layers = vec![conv(channels, ndf, 2, 1, true), Layer::Activation(LEAKY)];
                let mut width = ndf;
                for _ in 0..dcgan_blocks(image_size) {
                    // Spectral normalisation takes BatchNorm's place (and the bias returns).
                    layers.push(conv(width, width * 2, 2, 1, spectral_norm));
                    if !spectral_norm {
                        layers.push(Layer::BatchNorm2d {
                            channels: width * 2,
                            eps: BN_EPS,
                            momentum: BN_MOMENTUM,
                        });
                    }
                    layers.push(Layer::Activation(LEAKY));
                    width *= 2;
                }
                layers.push(conv(width, 1, 1, 0, true));
                layers.push(Layer::Reshape { shape: vec![1] });
                layers
            }
            ArchConfig::FastGan(ref fastgan) => return checked(fastgan.discriminator()),
        };
        let label = match self.classes().len() {
            0 => None,
            classes => Some(projection(&layers, &self.sample_shape(), classes)?),
        };
        checked(Network {
            input_shape: self.sample_shape(),
            layers,
            label,
            spectral_norm,
            decoders: Vec::new(),
        })
    }
}

/// What every image GAN checks: the channels a picture can have, the latent size, the widths.
fn check_image_gan(channels: usize, nz: usize, ngf: usize, ndf: usize) -> Result<(), ModelError> {
    let bad = |m: String| Err(ModelError::InvalidConfig(m));
    if ![1, 3, 4].contains(&channels) {
        return bad(format!(
            "channels must be 1 (gray), 3 (RGB) or 4 (RGBA), not {channels}"
        ));
    }
    if nz == 0 || nz > MAX_LATENT {
        return bad(format!("nz must be from 1 to {MAX_LATENT}, not {nz}"));
    }
    if ngf == 0 || ndf == 0 || ngf > MAX_WIDTH || ndf > MAX_WIDTH {
        return bad(format!(
            "ngf and ndf must be from 1 to {MAX_WIDTH}, not {ngf} and {ndf}"
        ));
    }
    Ok(())
}

impl FastGan {
    /// The generator's width at side `side`.
    fn width(&self, side: usize) -> usize {
        (self.ngf * 64 / side).clamp(8, 16 * self.ngf)
    }

    /// `[input]` → 4×4 seed → blocks to `image_size` → image in [-1, 1].
    fn generator_layers(&self, input: usize) -> Vec<Layer> {
        let seed = self.width(4);
        let mut layers = vec![
            Layer::Reshape {
                shape: vec![input, 1, 1],
            },
            conv4(input, 2 * seed, 1, 0, false, true),
            batch_norm(2 * seed),
            Layer::Glu,
        ];
        // The index of the layer whose output is the map at each side.
        let mut map_at = vec![(4, layers.len() - 1)];
        let mut side = 4;
        while side < self.image_size {
            let (from, to) = (self.width(side), self.width(side * 2));
            side *= 2;
            layers.extend([
                Layer::Upsample { factor: 2 },
                conv3(from, 2 * to, false),
                batch_norm(2 * to),
                Layer::Glu,
            ]);
            // Each map from 32 px is gated by the map an eighth its size (FastGAN gates 128 px
            // by 8 px, and so on up).
            if let Some(&(_, source)) = map_at.iter().find(|&&(s, _)| s * 8 == side) {
                layers.push(Layer::Excite(Excite {
                    from: source,
                    in_channels: self.width(side / 8),
                    out_channels: to,
                }));
            }
            map_at.push((side, layers.len() - 1));
        }
        layers.push(conv3(self.width(side), self.channels, true));
        layers.push(Layer::Activation(Activation::Tanh));
        layers
    }

    /// DCGAN's discriminator with BatchNorm in every block, and the two decoders.
    fn discriminator(&self) -> Network {
        let mut layers = vec![
            conv(self.channels, self.ndf, 2, 1, true),
            Layer::Activation(LEAKY),
        ];
        let (mut side, mut width) = (self.image_size / 2, self.ndf);
        // The layer whose output is the feature map at each side.
        let mut map_at = vec![(side, layers.len() - 1, width)];
        while side > 4 {
            layers.extend([
                conv(width, width * 2, 2, 1, false),
                batch_norm(width * 2),
                Layer::Activation(LEAKY),
            ]);
            side /= 2;
            width *= 2;
            map_at.push((side, layers.len() - 1, width));
        }
        layers.push(conv(width, 1, 1, 0, true));
        layers.push(Layer::Reshape { shape: vec![1] });
        let tap = |at: usize| {
            map_at
                .iter()
                .find(|&&(s, _, _)| s == at)
                .map(|&(_, layer, width)| (layer, width))
                .expect("a 32 px or larger discriminator passes 16 and 8 px")
        };
        // The whole image from the 8×8 map, a quarter of it from the 16×16 map's quarter (also
        // 8×8), each rebuilt at up to 32 px.
        let (whole, whole_width) = tap(8);
        let (part, part_width) = tap(16);
        let whole_size = self.image_size.min(32);
        let part_size = (self.image_size / 2).min(32);
        Network {
            input_shape: vec![self.channels, self.image_size, self.image_size],
            layers,
            label: None,
            spectral_norm: false,
            decoders: vec![
                self.decoder(whole, whole_width, whole_size, false),
                self.decoder(part, part_width, part_size, true),
            ],
        }
    }

    /// A decoder from an 8×8 map of `width` channels to an image of side `size`: upsampling
    /// blocks as the generator's, then a 3×3 convolution and tanh.
    fn decoder(&self, tap: usize, width: usize, size: usize, quarter: bool) -> Decoder {
        let mut layers = Vec::new();
        let (mut side, mut from) = (8, width);
        while side < size {
            let to = (from / 2).max(8).min(self.ndf);
            layers.extend([
                Layer::Upsample { factor: 2 },
                conv3(from, 2 * to, false),
                batch_norm(2 * to),
                Layer::Glu,
            ]);
            side *= 2;
            from = to;
        }
        layers.push(conv3(from, self.channels, true));
        layers.push(Layer::Activation(Activation::Tanh));
        Decoder {
            tap,
            quarter,
            layers,
        }
    }
}

/// A projection discriminator's label input: the head is the last layer with parameters (the
/// logit layer), and the embedding is as large as that layer's input.
fn projection(layers: &[Layer], input: &[usize], classes: usize) -> Result<LabelInput, ModelError> {
    let head = layers
        .iter()
        .rposition(|l| !l.params().is_empty())
        .ok_or_else(|| ModelError::InvalidConfig("a discriminator without weights".into()))?;
    let unlabelled = Network {
        input_shape: input.to_vec(),
        layers: layers.to_vec(),
        label: None,
        spectral_norm: false,
        decoders: Vec::new(),
    };
    let dim = unlabelled.shapes()?[head].iter().product();
    Ok(LabelInput {
        classes,
        dim,
        site: LabelSite::Projection { head },
    })
}

/// `network` once its shapes are known to chain and its size is within [`MAX_PARAMETERS`].
pub(crate) fn checked(network: Network) -> Result<Network, ModelError> {
    network.shapes()?;
    let count = network.params().iter().try_fold(0u64, |total, p| {
        p.spec
            .shape
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
            .and_then(|n| total.checked_add(n))
    });
    match count {
        Some(n) if n <= MAX_PARAMETERS => Ok(network),
        _ => Err(ModelError::InvalidConfig(format!(
            "the network would have {} parameters, over the limit of {MAX_PARAMETERS}",
            count.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string())
        ))),
    }
}

/// Stride-2 blocks between the 4×4 seed and the last layer: 64 px has 3.
fn dcgan_blocks(image_size: usize) -> u32 {
    image_size.trailing_zeros() - 3
}

pub(crate) fn linear(in_features: usize, out_features: usize) -> Layer {
    Layer::Linear {
        in_features,
        out_features,
        bias: true,
    }
}

/// The DCGAN's 4×4 convolution, plain or `transposed`.
pub(crate) fn conv4(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    padding: usize,
    bias: bool,
    transposed: bool,
) -> Layer {
    Layer::Conv(Conv {
        in_channels,
        out_channels,
        kernel: 4,
        stride,
        padding,
        bias,
        transposed,
    })
}

pub(crate) fn conv(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    padding: usize,
    bias: bool,
) -> Layer {
    conv4(in_channels, out_channels, stride, padding, bias, false)
}

/// Linear layers through `widths`, each followed by `activation` (the caller adds the head).
fn mlp(widths: &[usize], activation: Activation) -> impl Iterator<Item = Layer> + '_ {
    widths
        .windows(2)
        .flat_map(move |w| [linear(w[0], w[1]), Layer::Activation(activation)])
}

/// A linear layer without bias, then BatchNorm and `activation`: BatchNorm2d over a `[C, 1, 1]`
/// view, so training's fused kernel and the exporter's BatchNormalization serve it unchanged.
fn normalised_linear(
    in_features: usize,
    out_features: usize,
    activation: Activation,
) -> [Layer; 5] {
    [
        Layer::Linear {
            in_features,
            out_features,
            bias: false,
        },
        Layer::Reshape {
            shape: vec![out_features, 1, 1],
        },
        Layer::BatchNorm2d {
            channels: out_features,
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
        },
        Layer::Activation(activation),
        Layer::Reshape {
            shape: vec![out_features],
        },
    ]
}

/// A 3×3 convolution that keeps the size.
fn conv3(in_channels: usize, out_channels: usize, bias: bool) -> Layer {
    Layer::Conv(Conv {
        in_channels,
        out_channels,
        kernel: 3,
        stride: 1,
        padding: 1,
        bias,
        transposed: false,
    })
}

fn batch_norm(channels: usize) -> Layer {
    Layer::BatchNorm2d {
        channels,
        eps: BN_EPS,
        momentum: BN_MOMENTUM,
    }
}

fn deconv_bn_relu(
    in_channels: usize,
    out_channels: usize,
    stride: usize,
    padding: usize,
) -> [Layer; 3] {
    [
        conv4(in_channels, out_channels, stride, padding, false, true),
        Layer::BatchNorm2d {
            channels: out_channels,
            eps: BN_EPS,
            momentum: BN_MOMENTUM,
        },
        Layer::Activation(Activation::Relu),
    ]
}
