//! Reading a user's image folder, shared by training (image-folder data) and evaluation (`--images`,
//! `--real`): which files count as images, in what order, and how transparency is flattened.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader, RgbaImage};

use crate::FileError;

/// File extensions (lower case) read as images.
pub const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "gif", "bmp", "webp"];

/// What a folder holds: its image files, sorted by path so results are reproducible, and the
/// links to folders that were not followed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageListing {
    pub files: Vec<PathBuf>,
    /// Symbolic links to folders below `dir`: never followed, so a link loop cannot make the
    /// walk (and the data set) grow without end. Links to files are read as files.
    pub skipped_links: Vec<PathBuf>,
}

/// Every image file below `dir` (recursively, not following links to folders). A folder
/// without images is an error.
pub fn list_images(dir: &Path) -> Result<ImageListing, FileError> {
    if !dir.is_dir() {
        return Err(FileError::new(dir, "image folder not found"));
    }
    let mut listing = ImageListing::default();
    collect(dir, &mut listing)?;
    if listing.files.is_empty() {
        return Err(FileError::new(
            dir,
            format!(
                "no images found (searched recursively for {})",
                EXTENSIONS.join(", ")
            ),
        ));
    }
    listing.files.sort();
    listing.skipped_links.sort();
    Ok(listing)
}

/// The image files of [`list_images`].
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    Ok(list_images(dir)?.files)
}

/// Whether `path` names an image by its extension (one of [`EXTENSIONS`], any case).
pub fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn collect(dir: &Path, out: &mut ImageListing) -> Result<(), FileError> {
    let fail = |e: std::io::Error| FileError::new(dir, format!("cannot list: {e}"));
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        let path = entry.path();
        // `file_type` does not follow links; `is_dir` on the path does.
        let kind = entry.file_type().map_err(fail)?;
        if kind.is_dir() {
            collect(&path, out)?;
        } else if kind.is_symlink() && path.is_dir() {
            out.skipped_links.push(path);
        } else if is_image(&path) {
            out.files.push(path);
        }
    }
    Ok(())
}

/// Decode one file (a GIF's first frame) with transparency composited onto white.
pub fn decode_on_white(path: &Path) -> Result<DynamicImage, String> {
    decode(path).map(on_white)
}

/// Decode one file (a GIF's first frame) as it is, transparency kept.
pub fn decode(path: &Path) -> Result<DynamicImage, String> {
    ImageReader::open(path)
        .map_err(|e| format!("cannot open: {e}"))?
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?
        .decode()
        .map_err(|e| format!("cannot decode image: {e}"))
}

/// Whether any pixel of `image` is not fully opaque.
pub fn has_transparency(image: &DynamicImage) -> bool {
    image.color().has_alpha() && image.to_rgba8().pixels().any(|p| p[3] < u8::MAX)
}

/// Transparency composited onto white (an opaque image is returned as it is).
pub fn on_white(image: DynamicImage) -> DynamicImage {
    if !image.color().has_alpha() {
        return image;
    }
    let mut rgba: RgbaImage = image.to_rgba8();
    for pixel in rgba.pixels_mut() {
        let alpha = pixel[3] as f32 / 255.0;
        for c in 0..3 {
            pixel[c] = (pixel[c] as f32 * alpha + 255.0 * (1.0 - alpha)).round() as u8;
        }
        pixel[3] = 255;
    }
    DynamicImage::ImageRgba8(rgba)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Truncated and bit-flipped PNG, JPEG, GIF, BMP and WebP files decode or fail with a
    /// reason, never a panic.
    #[test]
    fn mutated_images_decode_or_fail_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let picture = image::RgbaImage::from_fn(9, 7, |x, y| {
            image::Rgba([x as u8 * 20, y as u8 * 30, 90, 200])
        });
        for format in ["png", "jpg", "gif", "bmp", "webp"] {
            let path = dir.path().join(format!("good.{format}"));
            image::DynamicImage::ImageRgba8(picture.clone())
                .to_rgb8()
                .save(&path)
                .unwrap();
            let good = std::fs::read(&path).unwrap();
            for bytes in crate::fixtures::mutations(&good, 40, 150) {
                std::fs::write(&path, &bytes).unwrap();
                if let Err(reason) = decode_on_white(&path) {
                    assert!(!reason.is_empty());
                }
            }
        }
    }

    /// A link loop (`a/loop -> ..`) would make a following walk endless; it is listed as
    /// skipped and every real image is found once.
    #[cfg(unix)]
    #[test]
    fn links_to_folders_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir(&a).unwrap();
        image::RgbImage::new(2, 2).save(a.join("x.png")).unwrap();
        image::RgbImage::new(2, 2)
            .save(dir.path().join("y.png"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path(), a.join("loop")).unwrap();
        std::os::unix::fs::symlink(a.join("x.png"), dir.path().join("z.png")).unwrap();
        let listing = list_images(dir.path()).unwrap();
        assert_eq!(
            listing.files,
            [
                a.join("x.png"),
                dir.path().join("y.png"),
                dir.path().join("z.png")
            ]
        );
        assert_eq!(listing.skipped_links, [a.join("loop")]);
    }
}
