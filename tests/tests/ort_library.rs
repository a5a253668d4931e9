//! A missing or wrong ONNX Runtime library is an error, not a panic. (Own test binary: the
//! library is loaded once per process.)

use gan_e2e::{export_generator, trained_run};
use gan_export::ExportOptions;
use gan_models::ArchConfig;
use gan_models::Mlp;
use gan_runtime::{Backend, Generator, LoadOptions};

#[test]
fn missing_or_wrong_library_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    trained_run(&ArchConfig::Mlp(Mlp::default()), dir.path(), &run);
    let model = export_generator(&run, &dir.path().join("onnx"), ExportOptions::default());
    let with = |lib: std::path::PathBuf| LoadOptions {
        backend: Backend::Ort,
        ort_library: Some(lib),
        ..LoadOptions::default()
    };

    let err = Generator::load(&model, &with(dir.path().join("libonnxruntime.so")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("libonnxruntime.so") && err.contains("not found"),
        "{err}"
    );

    let fake = dir.path().join("fake.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let err = Generator::load(&model, &with(fake))
        .unwrap_err()
        .to_string();
    assert!(err.contains("fake.so"), "{err}");
}
