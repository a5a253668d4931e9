//! [`Generator`]: an ONNX generator loaded once, producing RGBA8 images from seeds or latents.

use std::path::{Path, PathBuf};

use crate::backend::Engine;
use crate::error::{Result, RuntimeError};
use crate::feed::Feed;
use crate::latent::{latent_for_seed, slerp};
use crate::options::{Backend, LoadOptions};
use crate::signature::{ModelInfo, Signature};

const DEFAULT_MAX_BATCH: usize = 64;

/// One generated picture: `width × height` RGBA8 pixels, row-major, alpha 255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba8 {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width × height × 4` bytes.
    pub pixels: Vec<u8>,
}

impl From<Rgba8> for image::RgbaImage {
    fn from(img: Rgba8) -> Self {
        image::RgbaImage::from_raw(img.width, img.height, img.pixels)
            .expect("width × height × 4 bytes")
    }
}

/// A loaded generator. `Send + Sync`: share it between threads; compiled plans are reused.
pub struct Generator {
    path: PathBuf,
    info: ModelInfo,
    engine: Box<dyn Engine>,
    max_batch: usize,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

impl Generator {
    /// Load the ONNX generator at `path`.
    pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Self> {
        let path = path.as_ref();
        crate::limits::check_file_size(path)?;
        let engine: Box<dyn Engine> = match options.backend {
            #[cfg(feature = "tract")]
            Backend::Tract => Box::new(crate::onnx_model::OnnxModel::open(path, options.threads)?),
            #[cfg(feature = "ort")]
            Backend::Ort => Box::new(crate::backend::ort::OrtEngine::load(path, options)?),
            #[allow(unreachable_patterns)]
            other => return Err(not_built(other)),
        };
        Self::with_engine(path, engine, options)
    }

    /// Load a generator from the bytes of an ONNX file (an upload, an asset in memory), named
    /// `name` in messages, on the tract backend. All its tensors must be inside it.
    pub fn load_bytes(name: &str, bytes: &[u8], options: &LoadOptions) -> Result<Self> {
        match options.backend {
            #[cfg(feature = "tract")]
            Backend::Tract => {
                let model = crate::onnx_model::OnnxModel::from_bytes(name, bytes, options.threads)?;
                Self::with_engine(Path::new(name), Box::new(model), options)
            }
            Backend::Ort => Err(RuntimeError::Backend {
                backend: "ort",
                reason: "loads models from files only; use the tract backend for bytes".into(),
            }),
            #[allow(unreachable_patterns)]
            other => {
                // Without tract nothing reads bytes.
                let _ = (name, bytes);
                Err(not_built(other))
            }
        }
    }

    fn with_engine(path: &Path, engine: Box<dyn Engine>, options: &LoadOptions) -> Result<Self> {
        let info = ModelInfo::resolve(engine.signature(), options, path)?;
        let generator = Generator {
            path: path.to_path_buf(),
            info,
            engine,
            max_batch: options.max_batch.unwrap_or(DEFAULT_MAX_BATCH).max(1),
        };
        // Build and run the batch-1 plan now: a model that loads must also generate.
        let classes = generator.info.label.as_ref().map(|_| [0].as_slice());
        generator.run(&vec![0.0; generator.info.latent_dim], classes)?;
        Ok(generator)
    }

    /// Values per latent vector (`nz`).
    pub fn latent_dim(&self) -> usize {
        self.info.latent_dim
    }

    /// (width, height) of the images.
    pub fn image_size(&self) -> (usize, usize) {
        (self.info.width, self.info.height)
    }

    /// Channels of the model's output (1, 3 or 4).
    pub fn channels(&self) -> usize {
        self.info.channels
    }

    /// Everything resolved about the model: latent, image shape, range, output.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Engine and device, for people.
    pub fn runs_on(&self) -> String {
        self.engine.runs_on()
    }

    /// Why the generator runs on the CPU although another device was asked for, when
    /// [`LoadOptions::allow_fallback`] let it fall back.
    pub fn fallback(&self) -> Option<&str> {
        self.engine.fallback()
    }

    /// Inputs, outputs and metadata as the file declares them.
    pub fn signature(&self) -> &Signature {
        self.engine.signature()
    }

    /// A conditional generator's class names, in label order; empty for an unconditional one.
    pub fn classes(&self) -> &[String] {
        self.info.label.as_ref().map_or(&[], |l| &l.classes)
    }

    /// The class a caller names: by its name, else by its number (`seven` or `7`).
    pub fn class_index(&self, class: &str) -> Result<usize> {
        let classes = self.classes();
        if classes.is_empty() {
            return Err(self.unconditional());
        }
        classes
            .iter()
            .position(|c| c == class)
            .or_else(|| class.parse::<usize>().ok().filter(|&i| i < classes.len()))
            .ok_or_else(|| {
                RuntimeError::InvalidArgument(format!(
                    "{} has no class {class:?}; its classes are {}",
                    self.path.display(),
                    classes.join(", ")
                ))
            })
    }

    /// The latent vector for `seed` (see [`crate::latent`]).
    pub fn latent_for_seed(&self, seed: u64) -> Vec<f32> {
        latent_for_seed(seed, self.info.latent_dim)
    }

    /// One image per seed (an unconditional generator).
    pub fn generate(&self, seeds: &[u64]) -> Result<Vec<Rgba8>> {
        self.pictures(&self.latents_for_seeds(seeds), None)
    }

    /// One image of class `class` per seed (a conditional generator).
    pub fn generate_class(&self, seeds: &[u64], class: usize) -> Result<Vec<Rgba8>> {
        self.pictures(
            &self.latents_for_seeds(seeds),
            Some(&vec![class; seeds.len()]),
        )
    }

    /// One image per seed, of the class beside it (a conditional generator).
    pub fn generate_labelled(&self, seeds: &[u64], classes: &[usize]) -> Result<Vec<Rgba8>> {
        self.pictures(&self.latents_for_seeds(seeds), Some(classes))
    }

    /// One image per latent in `z` (`n × latent_dim` values; an unconditional generator).
    pub fn generate_latents(&self, z: &[f32]) -> Result<Vec<Rgba8>> {
        self.pictures(z, None)
    }

    /// One image per latent in `z`, sample `i` of class `classes[i]` (a conditional
    /// generator).
    pub fn generate_latents_labelled(&self, z: &[f32], classes: &[usize]) -> Result<Vec<Rgba8>> {
        self.pictures(z, Some(classes))
    }

    /// The latents of `seeds`, concatenated (see [`Self::latent_for_seed`]).
    pub fn latents_for_seeds(&self, seeds: &[u64]) -> Vec<f32> {
        seeds
            .iter()
            .flat_map(|&s| self.latent_for_seed(s))
            .collect()
    }

    fn pictures(&self, z: &[f32], classes: Option<&[usize]>) -> Result<Vec<Rgba8>> {
        let floats = self.run(z, classes)?;
        Ok(floats
            .chunks_exact(self.sample_len())
            .map(|s| self.to_rgba(s))
            .collect())
    }

    /// `steps` images along the spherical path from seed `a`'s latent to seed `b`'s.
    pub fn interpolate(&self, a: u64, b: u64, steps: usize) -> Result<Vec<Rgba8>> {
        self.generate_latents(&self.interpolation(a, b, steps)?)
    }

    /// The `steps` latents of [`Self::interpolate`], concatenated (to draw them of a class).
    pub fn interpolation(&self, a: u64, b: u64, steps: usize) -> Result<Vec<f32>> {
        if steps == 0 {
            return Err(RuntimeError::InvalidArgument(
                "interpolation needs at least one step".into(),
            ));
        }
        Ok(slerp(&self.latent_for_seed(a), &self.latent_for_seed(b), steps).concat())
    }

    /// The raw generator output for `z`: `n × C × H × W` floats in the model's range, NCHW (an
    /// unconditional generator).
    pub fn generate_floats(&self, z: &[f32]) -> Result<Vec<f32>> {
        self.run(z, None)
    }

    /// [`Self::generate_floats`] of a conditional generator, sample `i` of class `classes[i]`.
    pub fn generate_floats_labelled(&self, z: &[f32], classes: &[usize]) -> Result<Vec<f32>> {
        self.run(z, Some(classes))
    }

    fn unconditional(&self) -> RuntimeError {
        RuntimeError::InvalidArgument(format!(
            "{} is not a conditional generator: it takes no class",
            self.path.display()
        ))
    }

    /// The labels of a run: one class per latent, each in range, given exactly when the model
    /// is conditional.
    fn labels(&self, classes: Option<&[usize]>, n: usize) -> Result<Option<Vec<i64>>> {
        match (&self.info.label, classes) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(self.unconditional()),
            (Some(label), None) => Err(RuntimeError::InvalidArgument(format!(
                "{} is a conditional generator: ask for one of its classes ({})",
                self.path.display(),
                label.classes.join(", ")
            ))),
            (Some(label), Some(classes)) => {
                if classes.len() != n {
                    return Err(RuntimeError::InvalidArgument(format!(
                        "{} classes for {n} latents",
                        classes.len()
                    )));
                }
                if let Some(bad) = classes.iter().find(|&&c| c >= label.classes.len()) {
                    return Err(RuntimeError::InvalidArgument(format!(
                        "class {bad} is out of range: {} has {} classes (0 to {})",
                        self.path.display(),
                        label.classes.len(),
                        label.classes.len() - 1
                    )));
                }
                Ok(Some(classes.iter().map(|&c| c as i64).collect()))
            }
        }
    }

    fn run(&self, z: &[f32], classes: Option<&[usize]>) -> Result<Vec<f32>> {
        let nz = self.info.latent_dim;
        if z.is_empty() || !z.len().is_multiple_of(nz) {
            return Err(RuntimeError::InvalidArgument(format!(
                "{} latent values are not a whole number of {nz}-value latents",
                z.len()
            )));
        }
        if let Some(bad) = z.iter().find(|v| !v.is_finite()) {
            return Err(RuntimeError::InvalidArgument(format!(
                "latent value {bad} is not finite"
            )));
        }
        let labels = self.labels(classes, z.len() / nz)?;
        let input_dims: &[usize] = if self.info.latent_4d {
            &[nz, 1, 1]
        } else {
            &[nz]
        };
        let mut out = Vec::with_capacity(z.len() / nz * self.sample_len());
        for (k, chunk) in z.chunks(self.max_batch * nz).enumerate() {
            let batch = chunk.len() / nz;
            let shape: Vec<usize> = std::iter::once(batch)
                .chain(input_dims.iter().copied())
                .collect();
            let latents = Feed::f32(chunk, &shape);
            let label_shape = [batch];
            let feeds = match (&labels, &self.info.label) {
                (Some(all), Some(label)) => {
                    let values = &all[k * self.max_batch..k * self.max_batch + batch];
                    let labels = Feed::I64 {
                        values,
                        shape: &label_shape,
                    };
                    if label.input == 0 {
                        vec![labels, latents]
                    } else {
                        vec![latents, labels]
                    }
                }
                _ => vec![latents],
            };
            let values = self.engine.run(&feeds, self.info.output_index)?;
            if values.len() != batch * self.sample_len() {
                return Err(RuntimeError::BadModel {
                    path: self.path.clone(),
                    reason: format!(
                        "it produced {} values for {batch} samples of {}",
                        values.len(),
                        self.sample_len()
                    ),
                });
            }
            out.extend(values);
        }
        Ok(out)
    }

    fn sample_len(&self) -> usize {
        self.info.channels * self.info.height * self.info.width
    }

    /// One CHW sample to RGBA8 by the pixel rule of `gan-contract`.
    fn to_rgba(&self, sample: &[f32]) -> Rgba8 {
        Rgba8 {
            width: self.info.width as u32,
            height: self.info.height as u32,
            pixels: gan_contract::pixels::chw_to_rgba(sample, self.info.channels, self.info.range),
        }
    }
}

/// The error for a backend this build leaves out.
#[allow(dead_code)] // used only in builds without one of the backends
fn not_built(backend: Backend) -> RuntimeError {
    RuntimeError::Backend {
        backend: if backend == Backend::Ort {
            "ort"
        } else {
            "tract"
        },
        reason: "this build does not include it (enable the cargo feature of that name)".into(),
    }
}
