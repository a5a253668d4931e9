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

pub use gan_contract::limits::MAX_IDX_BYTES;

/// An IDX file of unsigned bytes with `rank` dimensions: its dimensions and data. The header is
/// read first and the data read up to what it promises, so a gzip bomb cannot expand further
/// than the header's (capped) size.
fn read_idx(path: &Path, magic: u32, rank: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    let fail = |reason: String| FileError::new(path, reason);
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let mut file = std::io::BufReader::new(file);
    let gzip = {
        use std::io::BufRead;
        file.fill_buf()
            .map_err(|e| fail(format!("cannot read: {e}")))?
            .starts_with(&[0x1f, 0x8b])
    };
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let corrupt = |e: std::io::Error| {
        if gzip {
            fail(format!("corrupt gzip data ({e})"))
        } else {
            fail(format!("cannot read: {e}"))
        }
    };
    let mut header = vec![0u8; 4 * (rank + 1)];
    let mut got = 0;
    while got < header.len() {
        match reader.read(&mut header[got..]).map_err(corrupt)? {
            0 => break,
            n => got += n,
        }
    }
    let word = |i: usize| {
        u32::from_be_bytes([
            header[4 * i],
            header[4 * i + 1],
            header[4 * i + 2],
            header[4 * i + 3],
        ])
    };
    if got < 4 {
        return Err(fail("too short for an IDX header".into()));
    }
    if word(0) != magic {
        return Err(fail(format!(
            "bad IDX magic number 0x{:08x}, expected 0x{magic:08x}",
            word(0)
        )));
    }
    if got < header.len() {
        return Err(fail("truncated IDX header".into()));
    }
    let dims: Vec<usize> = (1..=rank).map(|i| word(i) as usize).collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            fail(format!(
                "header declares {dims:?}, more than the {MAX_IDX_BYTES}-byte limit"
            ))
        })?;
    // One byte more than promised tells a longer file from an exact one.
    let mut data = Vec::with_capacity(expected);
    reader
        .take(expected as u64 + 1)
        .read_to_end(&mut data)
        .map_err(corrupt)?;
    if data.len() != expected {
        let held = if data.len() > expected {
            "more".to_string()
        } else {
            data.len().to_string()
        };
        return Err(fail(format!(
            "header says {dims:?} but the file holds {held} data bytes"
        )));
    }
    Ok((dims, data))
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

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A small `.gz` whose header promises 3 digits but which expands to 256 MiB of zeros: the
    /// read stops one byte past the promise instead of inflating it all.
    #[test]
    fn a_gzip_bomb_is_refused_after_what_the_header_promises() {
        let (images, labels) = idx_files(3);
        let mut bomb = images[..16].to_vec();
        bomb.resize(256 << 20, 0);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), gzip(&bomb)).unwrap();
        std::fs::write(dir.path().join("train-labels-idx1-ubyte"), &labels).unwrap();
        let started = std::time::Instant::now();
        let msg = read_mnist(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("holds more data bytes"), "{msg}");
        assert!(
            started.elapsed().as_secs() < 5,
            "it inflated the whole bomb"
        );
        // A header that declares more than the limit is refused before any data is read.
        let mut huge = images[..4].to_vec();
        for d in [u32::MAX, 28, 28] {
            huge.extend(d.to_be_bytes());
        }
        std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), gzip(&huge)).unwrap();
        let msg = read_mnist(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("limit"), "{msg}");
    }

    /// Truncations and bit flips of plain and gzip IDX files: each is read or refused with a
    /// message naming the file, never a panic.
    #[test]
    fn mutated_idx_files_are_read_or_refused_by_name() {
        let (images, labels) = idx_files(4);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train-labels-idx1-ubyte"), &labels).unwrap();
        let path = dir.path().join("train-images-idx3-ubyte");
        let plain = crate::fixtures::mutations(&images, 100, 200);
        let gzipped = crate::fixtures::mutations(&gzip(&images), 100, 200);
        for (case, bytes) in plain.iter().chain(&gzipped).enumerate() {
            std::fs::write(&path, bytes).unwrap();
            if let Err(e) = read_mnist(dir.path()) {
                assert!(e.to_string().contains("train-"), "case {case}: {e}");
            }
        }
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
