//! MNIST in the IDX format, read by training (`mnist:DIR` data) and by evaluation (real digits)
//! alike (LeCun's): big-endian magic, dimensions, then raw bytes. Files may be
//! gzip-compressed (detected by content, not name).

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::FileError;

type Result<T> = std::result::Result<T, FileError>;

pub(crate) const IMAGES_MAGIC: u32 = 0x0000_0803;
pub(crate) const LABELS_MAGIC: u32 = 0x0000_0801;

/// Gray digits with their labels.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub rows: usize,
    pub cols: usize,
    /// `count × rows × cols` bytes, 0 = background.
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Mnist {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The digits as 8-bit gray images, in file order.
    pub fn images(&self) -> impl Iterator<Item = image::GrayImage> + '_ {
        self.pixels
            .chunks_exact(self.rows * self.cols)
            .filter_map(|pixels| {
                image::GrayImage::from_raw(self.cols as u32, self.rows as u32, pixels.to_vec())
            })
    }
}

/// Read `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (each optionally `.gz`) from `dir`.
pub fn read_mnist(dir: &Path) -> Result<Mnist> {
    if !dir.is_dir() {
        return Err(FileError::new(dir, "MNIST folder not found"));
    }
    let images_path = find(dir, "train-images-idx3-ubyte")?;
    let labels_path = find(dir, "train-labels-idx1-ubyte")?;
    let (dims, pixels) = read_idx(&images_path, IMAGES_MAGIC, 3)?;
    let (label_dims, labels) = read_idx(&labels_path, LABELS_MAGIC, 1)?;
    if label_dims[0] != dims[0] {
        return Err(FileError::new(
            &labels_path,
            format!(
                "{} labels for {} images in {}",
                label_dims[0],
                dims[0],
                images_path.display()
            ),
        ));
    }
    if let Some(bad) = labels.iter().find(|&&l| l > 9) {
        return Err(FileError::new(
            &labels_path,
            format!("label {bad} is not a digit"),
        ));
    }
    if dims[0] == 0 {
        return Err(FileError::new(&images_path, "holds no images"));
    }
    Ok(Mnist {
        rows: dims[1],
        cols: dims[2],
        pixels,
        labels,
    })
}

fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    [name.to_string(), format!("{name}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| FileError::new(&dir.join(name), "missing (also looked for .gz)"))
}

/// An IDX file of unsigned bytes with `rank` dimensions: its dimensions and data.
fn read_idx(path: &Path, magic: u32, rank: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let raw = std::fs::read(path).map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| FileError::new(path, format!("corrupt gzip data ({e})")))?;
        out
    } else {
        raw
    };
    let word = |i: usize| {
        bytes
            .get(4 * i..4 * i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let found = word(0).ok_or_else(|| FileError::new(path, "too short for an IDX header"))?;
    if found != magic {
        return Err(FileError::new(
            path,
            format!("bad IDX magic number 0x{found:08x}, expected 0x{magic:08x}"),
        ));
    }
    let dims = (1..=rank)
        .map(|i| word(i).map(|d| d as usize))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| FileError::new(path, "truncated IDX header"))?;
    let header = 4 * (rank + 1);
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match expected {
        Some(n) if bytes.len() - header == n => Ok((dims, bytes[header..].to_vec())),
        _ => Err(FileError::new(
            path,
            format!(
                "header says {dims:?} but the file holds {} data bytes",
                bytes.len() - header
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::idx_bytes;

    fn idx_files(count: usize) -> (Vec<u8>, Vec<u8>) {
        idx_bytes(count as u32)
    }

    fn write(dir: &Path, images: &[u8], labels: &[u8]) {
        std::fs::write(dir.join("train-images-idx3-ubyte"), images).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).unwrap();
    }

    #[test]
    fn reads_plain_and_gzip_files() {
        let (images, labels) = idx_files(5);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &images, &labels);
        let mnist = read_mnist(dir.path()).unwrap();
        assert_eq!((mnist.len(), mnist.rows, mnist.cols), (5, 28, 28));
        assert_eq!(mnist.pixels[300], (300 * 7 % 256) as u8);
        assert_eq!(mnist.labels, vec![0, 1, 2, 3, 4]);

        let gz = tempfile::tempdir().unwrap();
        let compress = |b: &[u8]| {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(b).unwrap();
            e.finish().unwrap()
        };
        std::fs::write(
            gz.path().join("train-images-idx3-ubyte.gz"),
            compress(&images),
        )
        .unwrap();
        std::fs::write(
            gz.path().join("train-labels-idx1-ubyte.gz"),
            compress(&labels),
        )
        .unwrap();
        assert_eq!(read_mnist(gz.path()).unwrap().pixels, mnist.pixels);
    }

    #[test]
    fn bad_files_are_named_errors() {
        let (images, labels) = idx_files(3);
        let cases: Vec<(Vec<u8>, Vec<u8>, &str, &str)> = vec![
            (
                labels.clone(),
                labels.clone(),
                "train-images-idx3-ubyte",
                "bad IDX magic",
            ),
            (
                images[..images.len() - 10].to_vec(),
                labels.clone(),
                "train-images-idx3-ubyte",
                "data bytes",
            ),
            (
                images[..10].to_vec(),
                labels.clone(),
                "train-images-idx3-ubyte",
                "truncated IDX header",
            ),
            (
                images.clone(),
                idx_files(4).1,
                "train-labels-idx1-ubyte",
                "4 labels for 3 images",
            ),
            (
                vec![0x1f, 0x8b, 1, 2, 3],
                labels.clone(),
                "train-images-idx3-ubyte",
                "corrupt gzip",
            ),
        ];
        for (imgs, lbls, file, needle) in cases {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), &imgs, &lbls);
            let msg = read_mnist(dir.path()).unwrap_err().to_string();
            assert!(msg.contains(file) && msg.contains(needle), "{msg}");
        }
        let empty = tempfile::tempdir().unwrap();
        let msg = read_mnist(empty.path()).unwrap_err().to_string();
        assert!(
            msg.contains("train-images-idx3-ubyte") && msg.contains("missing"),
            "{msg}"
        );
    }
}
