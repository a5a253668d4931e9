//! Image folders: every decodable picture below a folder, composited on white, resized and
//! converted to the model's channel count, scaled to [-1, 1] in CHW order.

use std::path::{Path, PathBuf};

use gan_models::image_files::{decode_on_white, list_images};
use image::{DynamicImage, imageops::FilterType};

use super::{Dataset, Mnist};
use crate::error::{Result, TrainError};

/// What loading skipped (with `--skip-bad`).
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Each skipped file with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Load every image below `dir` at `shape` (`[C, H, W]`, C = 1 or 3). Files are read in sorted
/// path order so the data set, and so training, is reproducible.
pub fn read_image_folder(
    dir: &Path,
    shape: &[usize],
    skip_bad: bool,
) -> Result<(Dataset, LoadReport)> {
    let listing = list_images(dir)?;
    let files = listing.files;
    let mut values = Vec::new();
    let mut report = LoadReport::default();
    for link in listing.skipped_links {
        report.skipped.push((
            link,
            "a link to a folder (links to folders are not followed)".into(),
        ));
    }
    for path in &files {
        match decode_on_white(path) {
            Ok(image) => values.extend(to_sample(&image, shape)),
            Err(reason) if skip_bad => report.skipped.push((path.clone(), reason)),
            Err(reason) => {
                return Err(TrainError::UnreadableImage {
                    path: path.clone(),
                    reason,
                });
            }
        }
    }
    if values.is_empty() {
        return Err(TrainError::bad_file(
            dir,
            "every image in it was unreadable and skipped",
        ));
    }
    Ok((Dataset::new(shape.to_vec(), values), report))
}

/// MNIST digits at `shape` (resized and repeated to 3 channels if the model wants that).
pub fn digits_to_dataset(mnist: &Mnist, shape: &[usize]) -> Dataset {
    let values = mnist
        .images()
        .flat_map(|gray| to_sample(&DynamicImage::ImageLuma8(gray), shape))
        .collect();
    Dataset::new(shape.to_vec(), values)
}

/// CHW floats in [-1, 1] at `shape`.
fn to_sample(image: &DynamicImage, shape: &[usize]) -> Vec<f32> {
    let [channels, height, width] = [shape[0], shape[1], shape[2]];
    let image = if (image.width(), image.height()) == (width as u32, height as u32) {
        image.clone()
    } else {
        image.resize_exact(width as u32, height as u32, FilterType::Triangle)
    };
    let scale = |v: u8| v as f32 / 127.5 - 1.0;
    if channels == 1 {
        image.to_luma8().pixels().map(|p| scale(p[0])).collect()
    } else {
        let rgb = image.to_rgb8();
        (0..3)
            .flat_map(|c| rgb.pixels().map(move |p| scale(p[c])).collect::<Vec<_>>())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    fn save(path: &Path, image: RgbaImage) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        DynamicImage::ImageRgba8(image).save(path).unwrap();
    }

    #[test]
    fn loads_nested_folders_composites_alpha_and_resizes() {
        let dir = tempfile::tempdir().unwrap();
        // Fully transparent red must come out white; opaque blue stays blue.
        save(
            &dir.path().join("a.png"),
            RgbaImage::from_pixel(10, 10, Rgba([255, 0, 0, 0])),
        );
        save(
            &dir.path().join("sub/b.PNG"),
            RgbaImage::from_pixel(20, 12, Rgba([0, 0, 255, 255])),
        );
        save(
            &dir.path().join("sub/deeper/c.bmp"),
            RgbaImage::from_pixel(8, 8, Rgba([0, 0, 0, 255])),
        );
        std::fs::write(dir.path().join("notes.txt"), "not an image").unwrap();

        let (data, report) = read_image_folder(dir.path(), &[3, 16, 16], false).unwrap();
        assert_eq!(data.len(), 3);
        assert!(report.skipped.is_empty());
        assert!(
            data.sample(0).iter().all(|&v| (v - 1.0).abs() < 1e-6),
            "transparent → white"
        );
        let blue = data.sample(1);
        assert!(
            (blue[0] + 1.0).abs() < 1e-6 && (blue[2 * 256] - 1.0).abs() < 1e-6,
            "R=-1, B=1"
        );
        assert!(data.sample(2).iter().all(|&v| (v + 1.0).abs() < 1e-6));

        let (gray, _) = read_image_folder(dir.path(), &[1, 8, 8], false).unwrap();
        assert_eq!(gray.shape, vec![1, 8, 8]);
        assert_eq!(gray.values().len(), 3 * 64);
    }

    #[test]
    fn corrupt_files_fail_by_name_or_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        save(
            &dir.path().join("good.png"),
            RgbaImage::from_pixel(4, 4, Rgba([9, 9, 9, 255])),
        );
        std::fs::write(dir.path().join("broken.png"), b"\x89PNG\r\n\x1a\n garbage").unwrap();

        let err = read_image_folder(dir.path(), &[1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("broken.png") && err.contains("skip_bad"),
            "{err}"
        );

        let (data, report) = read_image_folder(dir.path(), &[1, 4, 4], true).unwrap();
        assert_eq!(data.len(), 1);
        assert_eq!(report.skipped.len(), 1);
        assert!(report.skipped[0].0.ends_with("broken.png"));
    }

    #[test]
    fn empty_or_missing_folders_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("readme.md"), "no pictures").unwrap();
        let err = read_image_folder(dir.path(), &[1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no images found"), "{err}");
        let missing = dir.path().join("nope");
        let err = read_image_folder(&missing, &[1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope") && err.contains("not found"), "{err}");
    }
}
