//! Truncated and corrupted ONNX files: every load either succeeds or returns an error — never a
//! panic or an abort. (Own test binary: it silences the panic hook.)

use gan_e2e::{export_generator, trained_run};
use gan_export::ExportOptions;
use gan_models::ArchConfig;
use gan_runtime::{Generator, LoadOptions};

#[test]
fn thousands_of_mutated_models_load_or_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let arch = ArchConfig::Dcgan {
        image_size: 16,
        channels: 1,
        nz: 8,
        ngf: 4,
        ndf: 4,
    };
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
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let path = dir.path().join("mutant.onnx");
    let (mut loaded, mut refused) = (0, 0);
    let mut cases: Vec<Vec<u8>> = (0..400)
        .map(|i| good[..good.len() * i / 400].to_vec())
        .collect();
    for _ in 0..3000 {
        let mut bytes = good.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % bytes.len() as u64) as usize;
            bytes[at] ^= 1 << (next() % 8);
        }
        cases.push(bytes);
    }
    for (i, bytes) in cases.iter().enumerate() {
        std::fs::write(&path, bytes).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            Generator::load(&path, &options).map(|g| g.generate(&[1, 2]).map(|_| ()))
        });
        match outcome {
            Ok(Ok(Ok(()))) => loaded += 1,
            Ok(Ok(Err(_))) | Ok(Err(_)) => refused += 1,
            Err(_) => panic!("case {i} panicked through the runtime"),
        }
    }
    let _ = std::panic::take_hook();
    assert_eq!(loaded + refused, 3400);
    assert!(
        refused >= 400,
        "every truncation must be refused: {refused}"
    );
    eprintln!("{loaded} mutants loaded and generated, {refused} refused");
}
