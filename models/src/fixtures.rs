//! Small data the tests of every crate make for themselves (feature `fixtures`, for
//! dev-dependencies only): an image folder and MNIST IDX files.

use crate::Dcgan;
use std::path::Path;

use image::{Rgb, RgbImage};

use crate::ArchConfig;
use crate::mnist::{IMAGES_MAGIC, LABELS_MAGIC};

/// A DCGAN small enough for tests: `image_size` px, `channels`, nz 8, widths 4.
pub fn tiny_dcgan(image_size: usize, channels: usize) -> ArchConfig {
    ArchConfig::Dcgan(Dcgan {
        image_size,
        channels,
        nz: 8,
        ngf: 4,
        ndf: 4,
        ..Dcgan::default()
    })
}

/// `n` different RGB pictures of `size`×`size` in `dir` (created): a colour per picture and a
/// dark bar whose position moves, so batches differ.
///
/// # Panics
/// When the folder or a file cannot be written (a test fixture).
pub fn write_image_folder(dir: &Path, n: usize, size: u32) {
    std::fs::create_dir_all(dir).expect("create the image folder");
    for i in 0..n {
        let mut img = RgbImage::from_pixel(
            size,
            size,
            Rgb([(i * 53 % 256) as u8, (i * 101 % 256) as u8, 180]),
        );
        let bar = (i as u32 * 3) % size;
        for y in 0..size {
            img.put_pixel(bar, y, Rgb([10, 10, 10]));
        }
        img.save(dir.join(format!("img_{i:03}.png")))
            .expect("write a fixture PNG");
    }
}

/// IDX bytes of `count` 28×28 digits (pixel `i` of the file is `i·7 mod 256`) and their labels
/// (`i mod 10`).
pub fn idx_bytes(count: u32) -> (Vec<u8>, Vec<u8>) {
    let mut images = IMAGES_MAGIC.to_be_bytes().to_vec();
    for d in [count, 28, 28] {
        images.extend(d.to_be_bytes());
    }
    images.extend((0..count as usize * 784).map(|i| (i * 7 % 256) as u8));
    let mut labels = LABELS_MAGIC.to_be_bytes().to_vec();
    labels.extend(count.to_be_bytes());
    labels.extend((0..count).map(|i| (i % 10) as u8));
    (images, labels)
}

/// [`idx_bytes`] written as `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` in `dir`;
/// returns the `mnist:DIR` data source.
///
/// # Panics
/// When the files cannot be written (a test fixture).
pub fn write_mnist(dir: &Path, count: u32) -> String {
    let (images, labels) = idx_bytes(count);
    std::fs::create_dir_all(dir).expect("create the MNIST folder");
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).expect("write IDX images");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).expect("write IDX labels");
    format!("mnist:{}", dir.display())
}

/// Damaged copies of `good` for fuzz-style tests: `truncations` prefixes of evenly spaced
/// lengths (the empty file included), then `flips` copies with 1 to 4 random bits flipped
/// (deterministic: the same cases on every run).
pub fn mutations(good: &[u8], truncations: usize, flips: usize) -> Vec<Vec<u8>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut cases: Vec<Vec<u8>> = (0..truncations)
        .map(|i| good[..good.len() * i / truncations.max(1)].to_vec())
        .collect();
    for _ in 0..flips {
        let mut bytes = good.to_vec();
        if !bytes.is_empty() {
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] ^= 1 << (next() % 8);
            }
        }
        cases.push(bytes);
    }
    cases
}
