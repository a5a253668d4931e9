//! Conditional generators from training to the runtime: a trained conditional DCGAN's export
//! equals candle for every class on both backends, classes give different images and a class
//! with a seed always the same one, a foreign conditional model loads once its label input is
//! named, and every misuse is a clear error.

use gan_e2e::{
    conditional_architectures, export_generator, max_rel, ort_library, tiny_conditional_generator,
    tract, trained_run,
};
use gan_export::onnx::{Message, ModelProto};
use gan_export::{ExportOptions, ReferenceInput, Role};
use gan_models::run_layout;
use gan_runtime::{Backend, Generator, LoadOptions, RuntimeError};

#[test]
fn classes_choose_the_image_on_both_backends_and_match_candle() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_conditional_generator(dir.path());
    let run = dir.path().join("run");
    let ours = Generator::load(&model, &tract()).unwrap();
    assert_eq!(ours.classes(), ["a", "b", "c"]);
    assert_eq!(ours.class_index("b").unwrap(), 1);
    assert_eq!(ours.class_index("2").unwrap(), 2);

    // Against candle's forward pass, classes 0, 1, 2, 1 for seeds 0..4.
    let seeds = [0, 1, 2, 3];
    let classes = [0, 1, 2, 1];
    let z: Vec<f32> = seeds
        .iter()
        .flat_map(|&s| ours.latent_for_seed(s))
        .collect();
    let (_, ck) = run_layout::latest_checkpoint(&run).unwrap().unwrap();
    let labels: Vec<i64> = classes.iter().map(|&c| c as i64).collect();
    let expected = gan_cli::reference::candle_forward(
        &run,
        Role::Generator,
        None,
        &ck.join(run_layout::GENERATOR_FILE),
        ReferenceInput {
            values: &z,
            labels: Some(&labels),
            batch: seeds.len(),
        },
    )
    .unwrap();
    let got = ours.generate_floats_labelled(&z, &classes).unwrap();
    assert!(
        max_rel(&got, &expected) <= 1e-5,
        "{}",
        max_rel(&got, &expected)
    );

    let ort = Generator::load(
        &model,
        &LoadOptions {
            backend: Backend::Ort,
            ort_library: Some(ort_library()),
            threads: Some(2),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(ort.classes(), ours.classes());
    let theirs = ort.generate_floats_labelled(&z, &classes).unwrap();
    assert!(
        max_rel(&theirs, &got) <= 1e-5,
        "tract vs ort {}",
        max_rel(&theirs, &got)
    );

    for generator in [&ours, &ort] {
        let a = generator.generate_class(&[5, 6], 0).unwrap();
        let b = generator.generate_class(&[5, 6], 1).unwrap();
        assert_ne!(a[0], b[0], "same seed, another class: another image");
        assert_eq!(a, generator.generate_class(&[5, 6], 0).unwrap());
        assert_eq!(
            generator.generate_labelled(&[5, 6], &[1, 0]).unwrap(),
            vec![b[0].clone(), a[1].clone()]
        );
    }

    // Misuse: no class for a conditional model, a class out of range, a class name it lacks.
    let err = ours.generate(&[1]).unwrap_err().to_string();
    assert!(
        err.contains("conditional generator") && err.contains("a, b, c"),
        "{err}"
    );
    let err = ours.generate_class(&[1], 3).unwrap_err().to_string();
    assert!(
        err.contains("class 3 is out of range") && err.contains("3 classes"),
        "{err}"
    );
    let err = ours.class_index("zebra").unwrap_err().to_string();
    assert!(
        err.contains("no class \"zebra\"") && err.contains("a, b, c"),
        "{err}"
    );
    assert!(ours.generate_labelled(&[1, 2], &[0]).is_err());
}

#[test]
fn an_unconditional_generator_takes_no_class() {
    let dir = tempfile::tempdir().unwrap();
    let model = gan_e2e::tiny_generator(dir.path());
    let plain = Generator::load(&model, &tract()).unwrap();
    assert!(plain.classes().is_empty());
    for err in [
        plain.generate_class(&[1], 0).unwrap_err(),
        plain.class_index("0").unwrap_err(),
    ] {
        assert!(
            matches!(err, RuntimeError::InvalidArgument(_))
                && err.to_string().contains("not a conditional generator"),
            "{err}"
        );
    }
}

/// What another exporter (PyTorch's) writes: no `gan.*` metadata and the label input under its
/// own name. Loading says which option names it, then that the class count is missing; with
/// both the images are ours.
#[test]
fn a_foreign_conditional_generator_loads_when_options_name_its_label_input() {
    let dir = tempfile::tempdir().unwrap();
    let arch = &conditional_architectures()[0];
    let run = dir.path().join("run");
    trained_run(arch, dir.path(), &run);
    let model = export_generator(&run, &dir.path().join("onnx"), ExportOptions::default());
    let mut proto = ModelProto::decode(std::fs::read(&model).unwrap().as_slice()).unwrap();
    proto.metadata_props.clear();
    let graph = proto.graph.as_mut().unwrap();
    for value in graph.input.iter_mut().filter(|v| v.name == "label") {
        value.name = "y".into();
    }
    for node in &mut graph.node {
        for input in node.input.iter_mut().filter(|i| *i == "label") {
            *input = "y".into();
        }
    }
    let foreign = dir.path().join("foreign.onnx");
    std::fs::write(&foreign, proto.encode_to_vec()).unwrap();
    let known = LoadOptions {
        image_shape: Some((1, 28, 28)),
        latent_dim: Some(100),
        output_range: Some(gan_runtime::OutputRange::MinusOneToOne),
        ..tract()
    };
    let err = Generator::load(&foreign, &known).unwrap_err().to_string();
    assert!(
        err.contains("none is named `label`") && err.contains("label_input"),
        "{err}"
    );
    let named = LoadOptions {
        label_input: Some("y".into()),
        ..known
    };
    let err = Generator::load(&foreign, &named).unwrap_err().to_string();
    assert!(err.contains("option class_count"), "{err}");
    let theirs = Generator::load(
        &foreign,
        &LoadOptions {
            class_count: Some(3),
            ..named
        },
    )
    .unwrap();
    assert_eq!(theirs.classes(), ["0", "1", "2"]);
    let ours = Generator::load(&model, &tract()).unwrap();
    assert_eq!(
        theirs.generate_class(&[4, 9], 2).unwrap(),
        ours.generate_class(&[4, 9], 2).unwrap()
    );
}
