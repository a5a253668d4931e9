//! Fixtures for the end-to-end tests in `tests/`: small training runs made on the spot.

use gan_models::{Dcgan, FastGan, Mlp};
use std::path::Path;

use gan_models::ArchConfig;
use gan_train::{TrainConfig, Trainer};

pub use gan_models::fixtures::tiny_dcgan;

/// Small versions of every architecture (narrow DCGANs, so tests stay fast).
pub fn architectures() -> Vec<ArchConfig> {
    let dcgan = |image_size, channels, width| {
        ArchConfig::Dcgan(Dcgan {
            image_size,
            channels,
            nz: 16,
            ngf: width,
            ndf: width,
            ..Dcgan::default()
        })
    };
    vec![
        ArchConfig::Toy2d,
        ArchConfig::Mlp(Mlp::default()),
        dcgan(16, 1, 8),
        dcgan(32, 3, 8),
        dcgan(64, 3, 8),
        dcgan(128, 3, 4),
        fastgan(32, 1),
        fastgan(64, 3),
        fastgan(32, 4),
    ]
}

/// A small FastGAN (narrow generator and discriminator) at `image_size`.
fn fastgan(image_size: usize, channels: usize) -> ArchConfig {
    ArchConfig::FastGan(FastGan {
        image_size,
        channels,
        nz: 16,
        ngf: 4,
        ndf: 8,
        ..FastGan::default()
    })
}

/// Small conditional versions of the MLP (with its BatchNorm generator) and the DCGAN (classes
/// `a`, `b`, `c`).
pub fn conditional_architectures() -> Vec<ArchConfig> {
    let classes: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    [
        ArchConfig::Mlp(Mlp {
            nz: 100,
            batch_norm: true,
            ..Mlp::default()
        }),
        tiny_dcgan(32, 3),
    ]
    .into_iter()
    .map(|arch| arch.with_classes(classes.clone()).expect("valid classes"))
    .collect()
}

/// Spectrally normalised versions of the MLP and a small DCGAN (both networks, so the
/// discriminator has no BatchNorm and the generator keeps it).
pub fn spectral_architectures() -> Vec<ArchConfig> {
    [
        ArchConfig::Mlp(Mlp {
            nz: 100,
            batch_norm: true,
            ..Mlp::default()
        }),
        tiny_dcgan(16, 3),
    ]
    .into_iter()
    .map(|arch| {
        arch.with_spectral_norm(gan_models::SpectralNorm::Both)
            .expect("mlp and dcgan have spectral norm")
    })
    .collect()
}

/// Train `arch` for a few steps in `run_dir` on data made in `work_dir`, so BatchNorm running
/// statistics and weights have moved away from their initial values. A conditional `arch`
/// trains on class folders named by its classes.
pub fn trained_run(arch: &ArchConfig, work_dir: &Path, run_dir: &Path) {
    let data = match arch {
        ArchConfig::Toy2d => "toy2d".to_string(),
        _ => {
            let dir = work_dir.join("images");
            if arch.classes().is_empty() {
                gan_models::fixtures::write_image_folder(&dir, 8, 24);
            }
            for class in arch.classes() {
                gan_models::fixtures::write_image_folder(&dir.join(class), 4, 24);
            }
            dir.to_str().expect("utf-8 temp path").to_string()
        }
    };
    let mut config = TrainConfig::new(arch.clone(), data);
    config.conditional = !arch.classes().is_empty();
    config.batch_size = 4;
    config.max_steps = Some(3);
    config.seed = 3;
    Trainer::create(config, run_dir)
        .and_then(|mut t| t.run(&mut ()))
        .expect("fixture run trains");
}

/// f32 values as a little-endian raw file (what NumPy's `fromfile` reads).
pub fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).expect("write raw floats");
}

/// The ONNX Runtime shared library for the `ort` backend tests: `ORT_DYLIB_PATH`, else the one
/// inside Python's `onnxruntime` package (which `.ci/run` installs).
pub fn ort_library() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        return path.into();
    }
    let script = "import onnxruntime, os, glob; print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so*')))[-1])";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "no ONNX Runtime library: set ORT_DYLIB_PATH or `python3 -m pip install onnxruntime==1.32.0` ({})",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().into()
}

/// Export the generator of `run_dir` to `out_dir/generator.onnx`.
pub fn export_generator(
    run_dir: &Path,
    out_dir: &Path,
    options: gan_export::ExportOptions,
) -> std::path::PathBuf {
    export_model(run_dir, out_dir, gan_export::Which::Generator, options)
}

/// A trained 16 px RGB [`tiny_dcgan`] run in `dir/run`, its generator exported to
/// `dir/onnx/generator.onnx` (returned): the small real model the serving and binding tests use.
pub fn tiny_generator(dir: &Path) -> std::path::PathBuf {
    exported_run(&tiny_dcgan(16, 3), dir)
}

/// The conditional DCGAN of [`conditional_architectures`] (classes `a`, `b`, `c`), trained
/// in `dir/run` and its generator exported to `dir/onnx/generator.onnx` (returned).
pub fn tiny_conditional_generator(dir: &Path) -> std::path::PathBuf {
    exported_run(&conditional_architectures()[1], dir)
}

/// `arch` trained a few steps in `dir/run`, its generator exported to `dir/onnx`.
fn exported_run(arch: &ArchConfig, dir: &Path) -> std::path::PathBuf {
    let run = dir.join("run");
    trained_run(arch, dir, &run);
    export_generator(
        &run,
        &dir.join("onnx"),
        gan_export::ExportOptions::default(),
    )
}

/// The largest difference between `a` and `b`, relative to `b`'s scale (at least 1).
pub fn max_rel(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// The tract backend on two threads: the runtime options of the backend tests.
pub fn tract() -> gan_runtime::LoadOptions {
    gan_runtime::LoadOptions {
        threads: Some(2),
        ..gan_runtime::LoadOptions::default()
    }
}

/// Export one network of `run_dir` into `out_dir` (self-checked against candle); its path.
pub fn export_model(
    run_dir: &Path,
    out_dir: &Path,
    which: gan_export::Which,
    options: gan_export::ExportOptions,
) -> std::path::PathBuf {
    let reference = gan_cli::reference::candle_reference(run_dir);
    let options = gan_export::ExportOptions { which, ..options };
    gan_export::export_run(run_dir, out_dir, &options, &reference).expect("export succeeds");
    let name = if which == gan_export::Which::Discriminator {
        "discriminator.onnx"
    } else {
        "generator.onnx"
    };
    out_dir.join(name)
}

/// The shape of a graph input or output as written in the file.
pub fn value_dims(value: &gan_export::onnx::ValueInfoProto) -> Vec<gan_export::onnx::Dimension> {
    let tensor = gan_export::onnx::tensor_type(value).expect("a tensor value");
    tensor.shape.as_ref().expect("a full shape").dim.clone()
}
