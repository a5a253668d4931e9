//! Image folders: every decodable picture below a folder, composited on white (or, for a
//! 4-channel model, with its transparency kept as a fourth channel), resized and converted to
//! the model's channel count, scaled to [-1, 1] in CHW order.

use std::path::{Path, PathBuf};

use gan_models::image_files::{decode, has_transparency, list_images, on_white};
use image::{DynamicImage, imageops::FilterType};

use super::{Dataset, Mnist};
use crate::error::{Result, TrainError};

/// What loading skipped (with `--skip-bad`).
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Each skipped file with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Four channels were asked for and no image has transparency: every alpha is 1.
    pub opaque: bool,
}

/// Why a link to a folder is skipped.
const LINKED_FOLDER: &str = "a link to a folder (links to folders are not followed)";

/// Load every image below `dir` at `shape` (`[C, H, W]`, C = 1, 3 or 4: with 4, alpha is the
/// fourth channel). Files are read in sorted path order so the data set, and so training, is
/// reproducible.
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
        report.skipped.push((link, LINKED_FOLDER.into()));
    }
    let keep_alpha = shape[0] == 4;
    let mut transparent = false;
    for path in &files {
        match decode(path) {
            Ok(image) if keep_alpha => {
                transparent |= has_transparency(&image);
                values.extend(to_sample(&image, shape));
            }
            Ok(image) => values.extend(to_sample(&on_white(image), shape)),
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
    report.opaque = keep_alpha && !transparent;
    Ok((Dataset::new(shape.to_vec(), values), report))
}

/// Images with their class from the folder layout `dir/<class name>/…` (torchvision's
/// ImageFolder): one class per sub-folder, in sorted name order, each read as
/// [`read_image_folder`] reads a folder. A file beside the class folders, or no class folder at
/// all, is an error naming it: an image outside a class would silently get none.
pub fn read_class_folders(
    dir: &Path,
    shape: &[usize],
    skip_bad: bool,
) -> Result<(Dataset, Vec<u8>, Vec<String>, LoadReport)> {
    let fail = |e: std::io::Error| TrainError::io(dir, e);
    let mut class_dirs = Vec::new();
    let mut report = LoadReport::default();
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        let (path, kind) = (entry.path(), entry.file_type().map_err(fail)?);
        if kind.is_dir() {
            class_dirs.push(path);
        } else if kind.is_symlink() && path.is_dir() {
            report.skipped.push((path, LINKED_FOLDER.into()));
        } else if gan_models::image_files::is_image(&path) {
            return Err(TrainError::bad_file(
                &path,
                "an image outside the class folders (expected DIR/<class name>/<image>)",
            ));
        }
    }
    class_dirs.sort();
    if class_dirs.is_empty() {
        return Err(TrainError::bad_file(
            dir,
            "no class folders (labelled images go in DIR/<class name>/<image>)",
        ));
    }
    if class_dirs.len() > usize::from(u8::MAX) + 1 {
        return Err(TrainError::bad_file(
            dir,
            format!("{} class folders; at most 256 classes", class_dirs.len()),
        ));
    }
    let (mut values, mut labels, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (class, class_dir) in class_dirs.iter().enumerate() {
        let (data, skipped) = read_image_folder(class_dir, shape, skip_bad)?;
        let class = u8::try_from(class).expect("at most 256 classes, checked above");
        labels.extend(std::iter::repeat_n(class, data.len()));
        values.extend_from_slice(data.values());
        report.skipped.extend(skipped.skipped);
        report.opaque |= skipped.opaque;
        let name = class_dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        names.push(name);
    }
    Ok((Dataset::new(shape.to_vec(), values), labels, names, report))
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
    if channels == 4 {
        return rgba_sample(image, (width, height));
    }
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

/// RGBA as 4 CHW planes in [-1, 1], resized with premultiplied alpha (so the colour of
/// transparent pixels does not bleed into the edges); where alpha is 0, the colour is white, as
/// on the composited path.
fn rgba_sample(image: &DynamicImage, (width, height): (usize, usize)) -> Vec<f32> {
    let mut premultiplied = image.to_rgba32f();
    for p in premultiplied.pixels_mut() {
        let a = p[3];
        for c in 0..3 {
            p[c] *= a;
        }
    }
    let resized =
        if (premultiplied.width(), premultiplied.height()) == (width as u32, height as u32) {
            premultiplied
        } else {
            image::imageops::resize(
                &premultiplied,
                width as u32,
                height as u32,
                FilterType::Triangle,
            )
        };
    let colour = |p: &image::Rgba<f32>, c: usize| -> f32 {
        let a = p[3].clamp(0.0, 1.0);
        let v = if a > 0.0 {
            (p[c] / a).clamp(0.0, 1.0)
        } else {
            1.0
        };
        // Through 8 bits, as the opaque path's pixels are.
        (v * 255.0).round() / 127.5 - 1.0
    };
    (0..4)
        .flat_map(|c| {
            resized.pixels().map(move |p| {
                if c == 3 {
                    (p[3].clamp(0.0, 1.0) * 255.0).round() / 127.5 - 1.0
                } else {
                    colour(p, c)
                }
            })
        })
        .collect()
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
    /// With four channels the alpha plane is the files' transparency (an opaque file's is 1),
    /// transparent pixels read as white, and a downscale does not darken the edge of an opaque
    /// shape next to transparent black; opaque data is reported.
    fn rgba_images_keep_their_alpha_as_a_fourth_plane() {
        use image::{Rgba, RgbaImage};
        let dir = tempfile::tempdir().unwrap();
        // 4×2: the left half opaque red, the right half transparent black.
        let sprite = RgbaImage::from_fn(4, 2, |x, _| {
            if x < 2 {
                Rgba([255, 0, 0, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        sprite.save(dir.path().join("a.png")).unwrap();
        let (data, report) = read_image_folder(dir.path(), &[4, 2, 4], false).unwrap();
        assert!(!report.opaque);
        let s = data.sample(0);
        assert_eq!(
            &s[24..32],
            [1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0],
            "alpha"
        );
        assert_eq!(
            &s[0..4],
            [1.0, 1.0, 1.0, 1.0],
            "red where opaque, white where not"
        );
        assert_eq!(&s[8..12], [-1.0, -1.0, 1.0, 1.0], "green");
        // Halved: the two columns average red with transparent — still pure red, half alpha.
        let (half, _) = read_image_folder(dir.path(), &[4, 1, 2], false).unwrap();
        let h = half.sample(0);
        assert_eq!(
            [h[0], h[2], h[4]],
            [1.0, -1.0, -1.0],
            "red, not darkened: {h:?}"
        );
        assert!(h[6] > h[7], "more opaque on the red side: {h:?}");
        if h[7] > -1.0 {
            assert_eq!(
                [h[1], h[3], h[5]],
                [1.0, -1.0, -1.0],
                "a faint edge is red too"
            );
        }

        let opaque = tempfile::tempdir().unwrap();
        gan_models::fixtures::write_image_folder(opaque.path(), 2, 4);
        let (data, report) = read_image_folder(opaque.path(), &[4, 4, 4], false).unwrap();
        assert!(report.opaque, "no transparency in RGB files");
        assert!(data.sample(1)[48..].iter().all(|&a| a == 1.0));
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

    /// Class folders in sorted order give labels and names; nested images belong to their
    /// class; an image beside the class folders, no class folder, or an empty class folder is
    /// an error naming the place.
    #[test]
    fn class_folders_give_labels_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let pixel = |v: u8| RgbaImage::from_pixel(4, 4, Rgba([v, v, v, 255]));
        save(&dir.path().join("water/a.png"), pixel(0));
        save(&dir.path().join("fire/a.png"), pixel(255));
        save(&dir.path().join("fire/deep/b.png"), pixel(255));
        let (data, labels, names, report) =
            read_class_folders(dir.path(), &[1, 4, 4], false).unwrap();
        assert_eq!(names, ["fire", "water"]);
        assert_eq!(labels, [0, 0, 1]);
        assert!(report.skipped.is_empty());
        // Fire is white (1.0), water black (-1.0): each sample kept its own class.
        for (i, &label) in labels.iter().enumerate() {
            let want = if label == 0 { 1.0 } else { -1.0 };
            assert!(data.sample(i).iter().all(|&v| (v - want).abs() < 1e-6));
        }

        std::fs::create_dir(dir.path().join("grass")).unwrap();
        let err = read_class_folders(dir.path(), &[1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("grass") && err.contains("no images"), "{err}");

        save(&dir.path().join("grass/c.png"), pixel(9));
        save(&dir.path().join("loose.png"), pixel(9));
        let err = read_class_folders(dir.path(), &[1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("loose.png") && err.contains("outside the class folders"),
            "{err}"
        );

        let flat = tempfile::tempdir().unwrap();
        std::fs::write(flat.path().join("notes.txt"), "no classes here").unwrap();
        let err = read_class_folders(flat.path(), &[1, 4, 4], false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no class folders"), "{err}");
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
