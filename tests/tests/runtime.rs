//! gan-runtime on exported generators: agreement with candle and between backends, foreign
//! models, bad inputs, and the C ABI's checks (the C program itself runs in runtime/tests).

use gan_models::{Dcgan, Mlp};
use std::path::{Path, PathBuf};

use gan_e2e::{
    export_generator, export_model, max_rel, ort_library, tract, trained_run, value_dims,
};
use gan_export::ExportOptions;
use gan_export::Role;
use gan_export::Which;
use gan_export::onnx::{
    Dimension, DimensionValue, Message, ModelProto, NodeProto, StringStringEntryProto,
};
use gan_models::{ArchConfig, run_layout};
use gan_runtime::{Backend, Generator, LoadOptions, OutputRange, RuntimeError};

struct Fixture {
    _dir: tempfile::TempDir,
    run: PathBuf,
    model: PathBuf,
}

fn fixture(arch: ArchConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    trained_run(&arch, dir.path(), &run);
    let model = export_generator(&run, &dir.path().join("onnx"), ExportOptions::default());
    Fixture {
        _dir: dir,
        run,
        model,
    }
}

fn dcgan() -> ArchConfig {
    dcgan_with(3)
}

fn dcgan_with(channels: usize) -> ArchConfig {
    ArchConfig::Dcgan(Dcgan {
        image_size: 32,
        channels,
        nz: 16,
        ngf: 8,
        ndf: 8,
        ..Dcgan::default()
    })
}

/// RGB, and RGBA (`--channels 4`), whose fourth output plane is the pictures' alpha.
#[test]
fn runtime_matches_candle_and_reads_the_metadata() {
    for channels in [3, 4] {
        runtime_matches_candle(channels);
    }
}

fn runtime_matches_candle(channels: usize) {
    let f = fixture(dcgan_with(channels));
    let generator = Generator::load(&f.model, &tract()).unwrap();
    assert_eq!(
        (
            generator.latent_dim(),
            generator.image_size(),
            generator.channels()
        ),
        (16, (32, 32), channels)
    );
    let seeds = [0, 1, 2, 42, 7];
    let z: Vec<f32> = seeds
        .iter()
        .flat_map(|&s| generator.latent_for_seed(s))
        .collect();
    let (_, ck) = run_layout::latest_checkpoint(&f.run).unwrap().unwrap();
    let weights = ck.join(run_layout::GENERATOR_FILE);
    let expected = gan_cli::reference::candle_forward(
        &f.run,
        Role::Generator,
        None,
        &weights,
        gan_export::ReferenceInput {
            values: &z,
            labels: None,
            batch: seeds.len(),
        },
    )
    .unwrap();
    let got = generator.generate_floats(&z).unwrap();
    assert!(
        max_rel(&got, &expected) <= 1e-5,
        "{}",
        max_rel(&got, &expected)
    );

    let images = generator.generate(&seeds).unwrap();
    assert_eq!(images.len(), 5);
    let first = &images[0];
    assert_eq!(
        (first.width, first.height, first.pixels.len()),
        (32, 32, 32 * 32 * 4)
    );
    // Every byte is the pixel rule of the generator's own value (written out here, not taken
    // from gan-contract): round((x + 1) · 127.5) half to even, clamped; CHW to RGBA, alpha 255
    // unless the generator makes a fourth plane.
    let byte = |x: f32| ((x + 1.0) * 127.5).round_ties_even().clamp(0.0, 255.0) as u8;
    let plane = 32 * 32;
    if channels == 3 {
        assert!(first.pixels.chunks_exact(4).all(|p| p[3] == 255));
    } else {
        assert!(
            first.pixels.chunks_exact(4).any(|p| p[3] != 255),
            "the generated alpha varies"
        );
    }
    for (p, rgba) in first.pixels.chunks_exact(4).enumerate() {
        for c in 0..channels {
            assert_eq!(
                rgba[c],
                byte(got[c * plane + p]),
                "channel {c} of pixel {p} (value {})",
                got[c * plane + p]
            );
        }
    }
    // Same seed, same picture; batch composition does not matter.
    assert_eq!(generator.generate(&[42]).unwrap()[0], images[3]);
    let rgba: image::RgbaImage = images[3].clone().into();
    assert_eq!(rgba.dimensions(), (32, 32));
    assert_eq!(generator.interpolate(1, 2, 4).unwrap()[0], images[1]);
}

#[test]
fn generator_is_send_and_sync_and_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Generator>();
    let f = fixture(ArchConfig::Mlp(Mlp::default()));
    let generator = std::sync::Arc::new(Generator::load(&f.model, &tract()).unwrap());
    let solo = generator.generate(&[5]).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let g = generator.clone();
            std::thread::spawn(move || g.generate(&[5]).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), solo);
    }
}

#[test]
fn ort_backend_agrees_with_tract() {
    let ort = LoadOptions {
        backend: Backend::Ort,
        ort_library: Some(ort_library()),
        threads: Some(2),
        ..LoadOptions::default()
    };
    for arch in [dcgan(), ArchConfig::Mlp(Mlp::default())] {
        let f = fixture(arch);
        let a = Generator::load(&f.model, &tract()).unwrap();
        let b = Generator::load(&f.model, &ort).unwrap();
        assert!(b.runs_on().contains("ONNX Runtime"));
        let z: Vec<f32> = (0..6).flat_map(|s| a.latent_for_seed(s)).collect();
        let (x, y) = (
            a.generate_floats(&z).unwrap(),
            b.generate_floats(&z).unwrap(),
        );
        assert!(max_rel(&x, &y) <= 1e-5, "tract vs ort {}", max_rel(&x, &y));
    }
}

fn dims_mut(value: &mut gan_export::onnx::ValueInfoProto) -> &mut Vec<Dimension> {
    let tensor = gan_export::onnx::tensor_type_mut(value).unwrap();
    &mut tensor.shape.as_mut().unwrap().dim
}

/// Rewrite an exported model into what another exporter might produce: no metadata, a
/// `[N, nz, 1, 1]` latent input and a flat `[N, C·H·W]` output.
fn foreign(model: &Path, out: &Path) {
    let mut proto = ModelProto::decode(std::fs::read(model).unwrap().as_slice()).unwrap();
    proto.metadata_props.clear();
    let graph = proto.graph.as_mut().unwrap();
    let reshape = graph.node.remove(0);
    assert_eq!(reshape.op_type, "Reshape");
    for node in &mut graph.node {
        for input in &mut node.input {
            if *input == reshape.output[0] {
                *input = "z".into();
            }
        }
    }
    let dims = dims_mut(&mut graph.input[0]);
    dims.extend([1, 1].map(|d| Dimension {
        value: Some(DimensionValue::DimValue(d)),
        ..Default::default()
    }));
    let image_dims = value_dims(&graph.output[0]);
    let flat: i64 = image_dims[1..]
        .iter()
        .map(|d| match d.value {
            Some(DimensionValue::DimValue(v)) => v,
            _ => 1,
        })
        .product();
    let shape_raw = [0i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    graph.initializer.push(gan_export::onnx::TensorProto {
        dims: vec![2],
        data_type: 7,
        name: "flat_shape".into(),
        raw_data: shape_raw,
        ..Default::default()
    });
    graph.node.push(NodeProto {
        input: vec!["image".into(), "flat_shape".into()],
        output: vec!["output".into()],
        name: "flatten".into(),
        op_type: "Reshape".into(),
        ..Default::default()
    });
    let out_dims = &mut graph.output[0];
    out_dims.name = "output".into();
    let d = dims_mut(out_dims);
    d.truncate(1);
    d.push(Dimension {
        value: Some(DimensionValue::DimValue(flat)),
        ..Default::default()
    });
    std::fs::write(out, proto.encode_to_vec()).unwrap();
}

#[test]
fn foreign_models_load_with_options_and_errors_name_the_missing_one() {
    let f = fixture(dcgan());
    let path = f.model.with_file_name("foreign.onnx");
    foreign(&f.model, &path);
    let err = Generator::load(&path, &tract()).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::MissingOption {
                option: "image_shape",
                ..
            }
        ) && err.to_string().contains("option image_shape"),
        "{err}"
    );
    let with_shape = LoadOptions {
        image_shape: Some((3, 32, 32)),
        ..tract()
    };
    let err = Generator::load(&path, &with_shape).unwrap_err().to_string();
    assert!(err.contains("option output_range"), "{err}");
    let complete = LoadOptions {
        output_range: Some(OutputRange::MinusOneToOne),
        ..with_shape
    };
    let theirs = Generator::load(&path, &complete).unwrap();
    let ours = Generator::load(&f.model, &tract()).unwrap();
    assert_eq!(theirs.latent_dim(), 16, "read from the [N, nz, 1, 1] input");
    assert_eq!(
        theirs.generate(&[3, 4]).unwrap(),
        ours.generate(&[3, 4]).unwrap()
    );

    let wrong = LoadOptions {
        latent_dim: Some(20),
        ..complete
    };
    let err = Generator::load(&path, &wrong).unwrap_err().to_string();
    assert!(err.contains("not 20"), "{err}");
}

#[test]
fn wrong_models_and_files_are_errors_that_say_why() {
    let f = fixture(ArchConfig::Toy2d);
    let err = Generator::load(&f.model, &tract()).unwrap_err().to_string();
    assert!(
        err.contains("not a picture") || err.contains("image shape"),
        "points are not images: {err}"
    );

    let g = fixture(dcgan());
    let d = export_model(
        &g.run,
        &g.run.with_file_name("disc"),
        Which::Discriminator,
        ExportOptions::default(),
    );
    let err = Generator::load(&d, &tract()).unwrap_err().to_string();
    assert!(err.contains("discriminator, not a generator"), "{err}");

    let missing = g.model.with_file_name("nope.onnx");
    let err = Generator::load(&missing, &tract()).unwrap_err().to_string();
    assert!(
        err.contains("nope.onnx") && err.contains("cannot read"),
        "{err}"
    );

    let generator = Generator::load(&g.model, &tract()).unwrap();
    assert!(
        generator
            .generate_latents(&[0.0; 15])
            .unwrap_err()
            .to_string()
            .contains("not a whole number")
    );
    assert!(
        generator
            .generate_latents(&[f32::NAN; 16])
            .unwrap_err()
            .to_string()
            .contains("not finite")
    );
}

/// The model `bytes` with its first large weight moved to the external file `location`.
fn with_external_weight(bytes: &[u8], location: &str) -> Vec<u8> {
    let mut proto = ModelProto::decode(bytes).unwrap();
    let weight = proto
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.raw_data.len() > 1000)
        .unwrap();
    weight.raw_data.clear();
    weight.data_location = Some(1);
    weight.external_data = vec![StringStringEntryProto {
        key: "location".into(),
        value: location.into(),
    }];
    proto.encode_to_vec()
}

/// A generator loaded from the bytes of its file gives the very pixels the file does; bytes that
/// are not a generator, a model whose weights are in another file, and the ort backend (files
/// only) are errors that name the model.
#[test]
fn a_generator_loads_from_bytes_with_the_same_pixels() {
    let f = fixture(dcgan());
    let bytes = std::fs::read(&f.model).unwrap();
    let from_file = Generator::load(&f.model, &tract()).unwrap();
    let from_bytes = Generator::load_bytes("upload.onnx", &bytes, &tract()).unwrap();
    assert_eq!(from_bytes.latent_dim(), from_file.latent_dim());
    assert_eq!(
        from_bytes.generate(&[0, 42]).unwrap(),
        from_file.generate(&[0, 42]).unwrap()
    );

    let err = Generator::load_bytes("junk.onnx", b"not a model", &tract()).unwrap_err();
    assert!(err.to_string().starts_with("junk.onnx: "), "{err}");

    let split = with_external_weight(&bytes, "weights.bin");
    let err = Generator::load_bytes("split.onnx", &split, &tract())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("split.onnx") && err.contains("external data"),
        "{err}"
    );

    let ort = LoadOptions {
        backend: Backend::Ort,
        ..tract()
    };
    let err = Generator::load_bytes("upload.onnx", &bytes, &ort).unwrap_err();
    assert!(err.to_string().contains("use the tract backend"), "{err}");
}

#[test]
fn external_data_outside_the_model_folder_is_refused() {
    let f = fixture(dcgan());
    let escape = with_external_weight(&std::fs::read(&f.model).unwrap(), "../../etc/passwd");
    let path = f.model.with_file_name("escape.onnx");
    std::fs::write(&path, escape).unwrap();
    let err = Generator::load(&path, &tract()).unwrap_err().to_string();
    assert!(
        err.contains("outside the model's folder") && err.contains("escape.onnx"),
        "{err}"
    );
}

/// A foreign generator without metadata whose graph ends in Tanh needs no --output-range: the
/// range is read from the last op (and one whose last op says nothing still asks for it, above).
#[test]
fn the_output_range_of_a_foreign_model_is_read_from_its_last_op() {
    let f = fixture(dcgan());
    let mut proto = ModelProto::decode(std::fs::read(&f.model).unwrap().as_slice()).unwrap();
    proto.metadata_props.clear();
    let graph = proto.graph.as_ref().unwrap();
    let last = graph.node.last().unwrap();
    assert_eq!(
        (last.op_type.as_str(), last.output[0].as_str()),
        ("Tanh", "image")
    );
    let path = f.model.with_file_name("no-metadata.onnx");
    std::fs::write(&path, proto.encode_to_vec()).unwrap();
    let theirs = Generator::load(&path, &tract()).unwrap();
    assert_eq!(theirs.info().range, OutputRange::MinusOneToOne);
    let ours = Generator::load(&f.model, &tract()).unwrap();
    assert_eq!(theirs.generate(&[7]).unwrap(), ours.generate(&[7]).unwrap());
}
