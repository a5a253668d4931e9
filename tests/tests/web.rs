//! The browser binding (gan-web) natively: the bytes it hands JavaScript are the runtime's
//! pictures for the same seeds, interpolation ends on the two seeds' pictures, and bad input is
//! an error naming the problem. (web/test/browser_test.py checks the same in Chromium.)

use gan_e2e::tiny_generator;
use gan_runtime::{Generator, LoadOptions};
use gan_web::WebGenerator;

#[test]
fn the_binding_gives_the_runtimes_pictures_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_generator(dir.path());
    let bytes = std::fs::read(&model).unwrap();
    let native = Generator::load(&model, &LoadOptions::default()).unwrap();

    let web = WebGenerator::load("generator.onnx", &bytes).unwrap();
    assert_eq!((web.width(), web.height(), web.latent_dim()), (16, 16, 8));
    let expected: Vec<u8> = native
        .generate(&[42, 7])
        .unwrap()
        .into_iter()
        .flat_map(|p| p.pixels)
        .collect();
    assert_eq!(web.pictures(&[42, 7]).unwrap(), expected);
    assert_eq!(
        web.between(42, 7, 0.0).unwrap(),
        web.pictures(&[42]).unwrap()
    );
    assert_eq!(
        web.between(42, 7, 1.0).unwrap(),
        web.pictures(&[7]).unwrap()
    );
    assert_ne!(
        web.between(42, 7, 0.5).unwrap(),
        web.pictures(&[42]).unwrap()
    );

    let outside = web.between(42, 7, 1.5).unwrap_err().to_string();
    assert!(outside.contains("1.5 is outside [0, 1]"), "{outside}");
    let garbage = WebGenerator::load("notes.onnx", b"not a model at all")
        .err()
        .unwrap()
        .to_string();
    assert!(garbage.contains("notes.onnx"), "{garbage}");
}
