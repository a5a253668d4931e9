//! Truncated, corrupted and hostile ONNX files: every truncation is refused, every bit-flipped
//! file is refused or loads and generates, nothing panics or aborts, and every reader (the
//! generator, gan-eval's classifier) refuses a hostile file the same way. (Own test binary: it
//! silences the panic hook.)

use gan_e2e::{export_generator, trained_run};
use gan_export::ExportOptions;
use gan_models::ArchConfig;
use gan_models::Mlp;
use gan_runtime::{Generator, LoadOptions};

#[test]
fn thousands_of_mutated_models_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let arch = gan_e2e::tiny_dcgan(16, 1);
    trained_run(&arch, dir.path(), &run);
    let model = export_generator(
        &run,
        &dir.path().join("onnx"),
        ExportOptions {
            pixels: true,
            ..ExportOptions::default()
        },
    );
    let good = std::fs::read(&model).unwrap();
    let options = LoadOptions {
        threads: Some(1),
        ..LoadOptions::default()
    };
    assert!(Generator::load(&model, &options).is_ok());

    // Panics inside tract are caught by the runtime; keep their messages out of the log.
    std::panic::set_hook(Box::new(|_| {}));
    let path = dir.path().join("mutant.onnx");
    let cases = gan_models::fixtures::mutations(&good, 400, 3000);
    let (truncations, flips) = cases.split_at(400);
    // Each case: Err(()) when refused, Ok(()) when it loaded; a model that loads must generate.
    let outcome = |what: &str, i: usize, bytes: &[u8]| -> Result<(), ()> {
        std::fs::write(&path, bytes).unwrap();
        let result = std::panic::catch_unwind(|| {
            Generator::load(&path, &options).map(|g| g.generate(&[1, 2]))
        });
        match result {
            Err(_) => panic!("{what} {i} panicked through the runtime"),
            Ok(Err(_)) => Err(()),
            Ok(Ok(Ok(images))) => {
                assert_eq!(images.len(), 2, "{what} {i}");
                Ok(())
            }
            Ok(Ok(Err(e))) => panic!("{what} {i} loaded but did not generate: {e}"),
        }
    };
    for (i, bytes) in truncations.iter().enumerate() {
        assert!(
            outcome("truncation", i, bytes).is_err(),
            "truncation {i} ({} of {} bytes) was accepted",
            bytes.len(),
            good.len()
        );
    }
    let loaded = flips
        .iter()
        .enumerate()
        .filter(|(i, bytes)| outcome("bit flip", *i, bytes).is_ok())
        .count();
    let _ = std::panic::take_hook();
    eprintln!(
        "{loaded} of {} bit-flipped models loaded and generated, the rest were refused",
        flips.len()
    );
}

/// `gan-eval` opens classifiers through the runtime's one ONNX boundary, so a hostile file is
/// refused by name as the generator loader refuses it (it used to reach tract unvalidated).
#[test]
fn a_hostile_classifier_is_refused_cleanly() {
    use gan_export::onnx::{Message, ModelProto};

    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    trained_run(&ArchConfig::Mlp(Mlp::default()), dir.path(), &run);
    let model = gan_e2e::export_model(
        &run,
        &dir.path().join("onnx"),
        gan_export::Which::Discriminator,
        ExportOptions::default(),
    );
    let mut proto = ModelProto::decode(&std::fs::read(&model).unwrap()[..]).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    // A weight that declares a billion elements but holds a few: tract would try to allocate it.
    graph.initializer[0].dims = vec![1 << 15, 1 << 15];
    let hostile = dir.path().join("hostile.onnx");
    std::fs::write(&hostile, proto.encode_to_vec()).unwrap();

    let err = gan_eval::Classifier::load(&hostile, 8)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hostile.onnx") && err.contains("too large"),
        "{err}"
    );
    let err = Generator::load(&hostile, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
}
