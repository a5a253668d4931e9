//! Fixtures for the end-to-end tests in `tests/`: small training runs made on the spot.

use std::path::Path;

use gan_models::ArchConfig;
use gan_train::{TrainConfig, Trainer};
use image::{Rgb, RgbImage};

/// Small versions of every architecture (narrow DCGANs, so tests stay fast).
pub fn architectures() -> Vec<ArchConfig> {
    let dcgan = |image_size, channels, width| ArchConfig::Dcgan {
        image_size,
        channels,
        nz: 16,
        ngf: width,
        ndf: width,
    };
    vec![
        ArchConfig::Toy2d,
        ArchConfig::Mlp { nz: 100 },
        dcgan(16, 1, 8),
        dcgan(32, 3, 8),
        dcgan(64, 3, 8),
        dcgan(128, 3, 4),
    ]
}

/// Train `arch` for a few steps in `run_dir` on data made in `work_dir`, so BatchNorm running
/// statistics and weights have moved away from their initial values.
pub fn trained_run(arch: &ArchConfig, work_dir: &Path, run_dir: &Path) {
    let data = match arch {
        ArchConfig::Toy2d => "toy2d".to_string(),
        _ => {
            let dir = work_dir.join("images");
            write_images(&dir, 8);
            dir.to_str().expect("utf-8 temp path").to_string()
        }
    };
    let mut config = TrainConfig::new(arch.clone(), data);
    config.batch_size = 4;
    config.max_steps = Some(3);
    config.seed = 3;
    Trainer::create(config, run_dir)
        .and_then(|mut t| t.run(false))
        .expect("fixture run trains");
}

/// `n` colourful 24×24 PNGs in `dir`.
pub fn write_images(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("create image folder");
    for i in 0..n {
        let mut img = RgbImage::from_pixel(
            24,
            24,
            Rgb([(i * 53 % 256) as u8, (i * 101 % 256) as u8, 180]),
        );
        for y in 0..24 {
            img.put_pixel(((i * 3) % 24) as u32, y, Rgb([10, 10, 10]));
        }
        img.save(dir.join(format!("{i}.png")))
            .expect("write fixture image");
    }
}

/// f32 values as a little-endian raw file (what NumPy's `fromfile` reads).
pub fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write raw floats");
}
