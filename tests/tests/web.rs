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

/// A conditional generator in the binding: it lists its classes, draws its first class until
/// another is chosen (by name or number), every picture is the runtime's for that class, and a
/// class it lacks is an error listing the classes.
#[test]
fn the_binding_draws_the_chosen_class_of_a_conditional_generator() {
    let dir = tempfile::tempdir().unwrap();
    let model = gan_e2e::tiny_conditional_generator(dir.path());
    let native = Generator::load(&model, &LoadOptions::default()).unwrap();
    let class = |seeds: &[u64], c: usize| -> Vec<u8> {
        native
            .generate_class(seeds, c)
            .unwrap()
            .into_iter()
            .flat_map(|p| p.pixels)
            .collect()
    };
    let mut web = WebGenerator::load("generator.onnx", &std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(web.classes(), ["a", "b", "c"]);
    assert_eq!(web.pictures(&[42, 7]).unwrap(), class(&[42, 7], 0));
    web.choose_class("c").unwrap();
    assert_eq!(web.pictures(&[42, 7]).unwrap(), class(&[42, 7], 2));
    assert_eq!(web.between(42, 7, 0.0).unwrap(), class(&[42], 2));
    assert_eq!(web.path(42, 7, 3).unwrap().len(), 3 * 32 * 32 * 4);
    web.choose_class("1").unwrap();
    assert_eq!(web.pictures(&[5]).unwrap(), class(&[5], 1));
    let err = web.choose_class("zebra").unwrap_err().to_string();
    assert!(err.contains("a, b, c"), "{err}");
}
