//! Reading a user's image folder, shared by training (image-folder data) and evaluation (`--images`,
//! `--real`): which files count as images, in what order, and how transparency is flattened.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader, RgbaImage};

use crate::FileError;

/// File extensions (lower case) read as images.
pub const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "gif", "bmp", "webp"];

/// Every image file below `dir` (recursively), in sorted path order so that results are
/// reproducible. A folder without images is an error.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    if !dir.is_dir() {
        return Err(FileError::new(dir, "image folder not found"));
    }
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    if files.is_empty() {
        return Err(FileError::new(
            dir,
            format!(
                "no images found (searched recursively for {})",
                EXTENSIONS.join(", ")
            ),
        ));
    }
    files.sort();
    Ok(files)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FileError> {
    let fail = |e: std::io::Error| FileError::new(dir, format!("cannot list: {e}"));
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let path = entry.map_err(fail)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Decode one file (a GIF's first frame) with transparency composited onto white.
pub fn decode_on_white(path: &Path) -> Result<DynamicImage, String> {
    let image = ImageReader::open(path)
        .map_err(|e| format!("cannot open: {e}"))?
        .with_guessed_format()
        .map_err(|e| format!("cannot read: {e}"))?
        .decode()
        .map_err(|e| format!("cannot decode image: {e}"))?;
    if !image.color().has_alpha() {
        return Ok(image);
    }
    let mut rgba: RgbaImage = image.to_rgba8();
    for pixel in rgba.pixels_mut() {
        let alpha = pixel[3] as f32 / 255.0;
        for c in 0..3 {
            pixel[c] = (pixel[c] as f32 * alpha + 255.0 * (1.0 - alpha)).round() as u8;
        }
        pixel[3] = 255;
    }
    Ok(DynamicImage::ImageRgba8(rgba))
}
