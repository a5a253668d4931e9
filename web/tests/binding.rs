//! The browser binding natively: the bytes it hands JavaScript are the runtime's pictures for
//! the same seeds, interpolation ends on the two seeds' pictures, a conditional generator draws
//! the class chosen, and bad input is an error naming the problem. (web/test/browser_test.py
//! checks the same in Chromium, on a trained generator.)

use gan_runtime::fixtures::{TINY_CLASSES, TINY_IMAGE, TINY_LATENT, tiny_generator};
use gan_runtime::{Generator, LoadOptions};
use gan_web::WebGenerator;

/// The runtime's own generator for the same bytes.
fn native(bytes: &[u8]) -> Generator {
    Generator::load_bytes("native.onnx", bytes, &LoadOptions::default()).unwrap()
}

/// `native`'s pictures of `seeds` (of class `class` for a conditional generator), as one RGBA
/// buffer.
fn native_pictures(native: &Generator, seeds: &[u64], class: Option<usize>) -> Vec<u8> {
    let pictures = match class {
        Some(c) => native.generate_class(seeds, c),
        None => native.generate(seeds),
    };
    pictures
        .unwrap()
        .into_iter()
        .flat_map(|p| p.pixels)
        .collect()
}

#[test]
fn the_binding_gives_the_runtimes_pictures_and_refuses_bad_input() {
    let bytes = tiny_generator(false);
    let web = WebGenerator::load("generator.onnx", &bytes).unwrap();
    let [_, height, width] = TINY_IMAGE;
    assert_eq!(
        (web.width(), web.height(), web.latent_dim()),
        (width, height, TINY_LATENT)
    );
    assert_eq!(
        web.pictures(&[42, 7]).unwrap(),
        native_pictures(&native(&bytes), &[42, 7], None)
    );
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
    let bytes = tiny_generator(true);
    let native = native(&bytes);
    let class = |seeds: &[u64], c: usize| native_pictures(&native, seeds, Some(c));
    let mut web = WebGenerator::load("generator.onnx", &bytes).unwrap();
    assert_eq!(web.classes(), TINY_CLASSES);
    assert_eq!(web.pictures(&[42, 7]).unwrap(), class(&[42, 7], 0));
    web.choose_class("fox").unwrap();
    assert_eq!(web.pictures(&[42, 7]).unwrap(), class(&[42, 7], 2));
    assert_eq!(web.between(42, 7, 0.0).unwrap(), class(&[42], 2));
    let [_, height, width] = TINY_IMAGE;
    assert_eq!(web.path(42, 7, 3).unwrap().len(), 3 * height * width * 4);
    web.choose_class("1").unwrap();
    assert_eq!(web.pictures(&[5]).unwrap(), class(&[5], 1));
    assert_ne!(class(&[5], 1), class(&[5], 2), "classes differ");
    let err = web.choose_class("zebra").unwrap_err().to_string();
    assert!(err.contains("cat, dog, fox"), "{err}");
}
