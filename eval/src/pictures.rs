//! The images to score and their conversion into a classifier's input.
//!
//! Pictures keep their own size and 8-bit pixels (generated samples are quantised like saved
//! PNGs, as torch-fidelity does); [`Preprocess`] converts one batch at a time, so scoring 50,000
//! images never holds them all as 299×299 floats.

use std::path::Path;

use gan_models::DataSource;
use gan_models::image_files::{decode_on_white, image_files};
use gan_runtime::Generator;
use image::DynamicImage;

use crate::{EvalError, Result};

/// An 8-bit picture, gray or RGB.
#[derive(Debug, Clone)]
pub struct Picture(pub DynamicImage);

/// How pixel values in [0, 1] are mapped before the classifier sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// `2x − 1` (this project's models).
    Minus1To1,
    /// `x`.
    ZeroTo1,
    /// `(x − mean) / std` per channel with ImageNet's statistics (torchvision's Inception v3).
    Imagenet,
}

impl std::str::FromStr for Normalize {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            gan_contract::metadata::NORMALIZE_MINUS1_1 => Ok(Normalize::Minus1To1),
            "zero_1" => Ok(Normalize::ZeroTo1),
            "imagenet" => Ok(Normalize::Imagenet),
            other => Err(format!(
                "unknown normalisation {other:?}: use minus1_1, zero_1 or imagenet"
            )),
        }
    }
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Every image below `dir` (sorted by path; transparency composited on white).
pub fn from_folder(dir: &Path) -> Result<Vec<Picture>> {
    let files = image_files(dir)?;
    files
        .iter()
        .map(|path| {
            decode_on_white(path)
                .map(Picture)
                .map_err(|reason| EvalError::file(path, reason))
        })
        .collect()
}

/// The digits of the MNIST IDX files in `dir`.
pub fn from_mnist(dir: &Path) -> Result<Vec<Picture>> {
    let mnist = gan_models::mnist::read_mnist(dir)?;
    Ok(mnist
        .images()
        .map(|gray| Picture(DynamicImage::ImageLuma8(gray)))
        .collect())
}

/// `--real` / `--images` sources: `mnist:DIR` or an image folder.
pub fn from_source(source: &str) -> Result<Vec<Picture>> {
    let Ok(parsed) = source.parse::<DataSource>();
    match parsed {
        DataSource::Mnist(dir) => from_mnist(&dir),
        DataSource::ImageFolder(dir) => from_folder(&dir),
        DataSource::Toy2d | DataSource::Shapes => Err(EvalError::Invalid(format!(
            "{source} is a built-in training set; score a folder of images or mnist:DIR"
        ))),
    }
}

/// `n` samples of `generator` for seeds `seed, seed + 1, …`, drawn `batch` at a time; a
/// conditional generator's sample `i` is of class `i mod classes` (every class equally often).
pub fn from_generator(
    generator: &Generator,
    n: usize,
    seed: u64,
    batch: usize,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Picture>> {
    let gray = generator.channels() == 1;
    let mut pictures = Vec::with_capacity(n);
    let classes = generator.classes().len();
    let seeds: Vec<u64> = (0..n as u64).map(|i| seed.wrapping_add(i)).collect();
    for (k, chunk) in seeds.chunks(batch.max(1)).enumerate() {
        let samples = if classes == 0 {
            generator.generate(chunk)?
        } else {
            let first = k * batch.max(1);
            let labels: Vec<usize> = (first..first + chunk.len())
                .map(|i| sample_class(i, classes))
                .collect();
            generator.generate_labelled(chunk, &labels)?
        };
        for sample in samples {
            let rgba = DynamicImage::ImageRgba8(sample.into());
            pictures.push(Picture(if gray {
                DynamicImage::ImageLuma8(rgba.to_luma8())
            } else {
                DynamicImage::ImageRgb8(rgba.to_rgb8())
            }));
        }
        progress(chunk.len());
    }
    Ok(pictures)
}

/// The class of sample `i` of a conditional generator's [`from_generator`]: `i mod classes`.
pub fn sample_class(i: usize, classes: usize) -> usize {
    i % classes
}

/// A classifier's input convention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocess {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub normalize: Normalize,
}

impl Preprocess {
    /// Append `picture` as CHW floats: gray repeated to 3 channels (or RGB to luma for a gray
    /// classifier), resized bilinearly, normalised.
    pub fn append(&self, picture: &Picture, out: &mut Vec<f32>) {
        let image = &picture.0;
        let (w, h) = (image.width() as usize, image.height() as usize);
        let planes: Vec<Vec<f32>> = if self.channels == 1 {
            vec![
                image
                    .to_luma8()
                    .pixels()
                    .map(|p| p[0] as f32 / 255.0)
                    .collect(),
            ]
        } else {
            let rgb = image.to_rgb8();
            (0..3)
                .map(|c| rgb.pixels().map(|p| p[c] as f32 / 255.0).collect())
                .collect()
        };
        for (c, plane) in planes.iter().enumerate() {
            let (mean, std) = match self.normalize {
                Normalize::Minus1To1 => (0.5, 0.5),
                Normalize::ZeroTo1 => (0.0, 1.0),
                Normalize::Imagenet => (IMAGENET_MEAN[c], IMAGENET_STD[c]),
            };
            let start = out.len();
            resize_bilinear(plane, w, h, self.width, self.height, out);
            for v in &mut out[start..] {
                *v = (*v - mean) / std;
            }
        }
    }
}

/// Bilinear resize with half-pixel centres and no antialiasing — PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)`, what torch-fidelity applies.
pub fn resize_bilinear(
    src: &[f32],
    w: usize,
    h: usize,
    to_w: usize,
    to_h: usize,
    out: &mut Vec<f32>,
) {
    if (w, h) == (to_w, to_h) {
        out.extend_from_slice(src);
        return;
    }
    // Source index pairs and weights along one axis.
    let taps = |from: usize, to: usize| -> Vec<(usize, usize, f32)> {
        let scale = from as f32 / to as f32;
        (0..to)
            .map(|d| {
                let s = ((d as f32 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (s.floor() as usize).min(from - 1);
                let i1 = (i0 + 1).min(from - 1);
                (i0, i1, s - i0 as f32)
            })
            .collect()
    };
    let (xs, ys) = (taps(w, to_w), taps(h, to_h));
    for &(y0, y1, fy) in &ys {
        for &(x0, x1, fx) in &xs {
            let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
            let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_matches_pytorch_half_pixel_convention() {
        // torch.nn.functional.interpolate([[0, 1], [2, 3]], size=4, mode="bilinear",
        // align_corners=False) rows: [0, .25, .75, 1], then +0.5, +1.5, +2 per row.
        let mut out = Vec::new();
        resize_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4, &mut out);
        let row = [0.0, 0.25, 0.75, 1.0];
        let expected: Vec<f32> = [0.0, 0.5, 1.5, 2.0]
            .iter()
            .flat_map(|dy| row.iter().map(move |x| x + dy))
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn gray_pictures_are_repeated_to_rgb_and_normalised() {
        let gray = Picture(DynamicImage::ImageLuma8(image::GrayImage::from_pixel(
            2,
            2,
            image::Luma([255]),
        )));
        let mut out = Vec::new();
        Preprocess {
            channels: 3,
            height: 2,
            width: 2,
            normalize: Normalize::Minus1To1,
        }
        .append(&gray, &mut out);
        assert_eq!(out, vec![1.0; 12]);
        out.clear();
        Preprocess {
            channels: 3,
            height: 1,
            width: 1,
            normalize: Normalize::Imagenet,
        }
        .append(&gray, &mut out);
        let expected: Vec<f32> = (0..3)
            .map(|c| (1.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c])
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn an_empty_folder_is_an_error() {
        let dir = std::env::temp_dir().join(format!("gan-eval-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = from_folder(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("no images found") && err.contains("gan-eval-empty"),
            "{err}"
        );
    }
}
