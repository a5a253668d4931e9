//! gan-runtime on exported generators: agreement with candle and between backends, foreign
//! models, bad inputs, and the C ABI's checks (the C program itself runs in runtime/tests).

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
    ArchConfig::Dcgan {
        image_size: 32,
        channels: 3,
        nz: 16,
        ngf: 8,
        ndf: 8,
        classes: Vec::new(),
        spectral_norm: Default::default(),
    }
}

#[test]
fn runtime_matches_candle_and_reads_the_metadata() {
    let f = fixture(dcgan());
    let generator = Generator::load(&f.model, &tract()).unwrap();
    assert_eq!(
        (
            generator.latent_dim(),
            generator.image_size(),
            generator.channels()
        ),
        (16, (32, 32), 3)
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
    assert!(first.pixels.chunks_exact(4).all(|p| p[3] == 255));
    let byte = |x: f32| ((x + 1.0) * 127.5).round().clamp(0.0, 255.0) as i32;
    assert!(
        (first.pixels[0] as i32 - byte(expected[0])).abs() <= 1,
        "R of the first pixel"
    );
    assert!(
        (first.pixels[2] as i32 - byte(expected[2 * 32 * 32])).abs() <= 1,
        "B of the first pixel"
    );
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
    let f = fixture(ArchConfig::Mlp {
        nz: 100,
        classes: Vec::new(),
        batch_norm: false,
        spectral_norm: Default::default(),
    });
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
    for arch in [
        dcgan(),
        ArchConfig::Mlp {
            nz: 100,
            classes: Vec::new(),
            batch_norm: false,
            spectral_norm: Default::default(),
        },
    ] {
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
    let tensor = value
        .r#type
        .as_mut()
        .and_then(|t| t.tensor_type.as_mut())
        .unwrap();
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
    weight.data_location = 1;
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

#[test]
fn c_abi_rejects_null_pointers_bad_handles_and_small_buffers() {
    use gan_runtime::ffi::*;
    use std::ffi::{CStr, CString};
    let f = fixture(ArchConfig::Mlp {
        nz: 100,
        classes: Vec::new(),
        batch_norm: false,
        spectral_norm: Default::default(),
    });
    let last_error = || {
        unsafe { CStr::from_ptr(gan_last_error()) }
            .to_string_lossy()
            .into_owned()
    };
    unsafe {
        let mut handle: *mut GanGenerator = std::ptr::null_mut();
        assert_eq!(
            gan_generator_load(std::ptr::null(), std::ptr::null(), &mut handle),
            GanStatus::NullPointer
        );
        let missing = CString::new("/nonexistent/generator.onnx").unwrap();
        assert_eq!(
            gan_generator_load(missing.as_ptr(), std::ptr::null(), &mut handle),
            GanStatus::LoadFailed
        );
        assert!(
            last_error().contains("/nonexistent/generator.onnx"),
            "{}",
            last_error()
        );

        let path = CString::new(f.model.to_str().unwrap()).unwrap();
        assert_eq!(
            gan_generator_load(path.as_ptr(), std::ptr::null(), &mut handle),
            GanStatus::Ok
        );
        let mut nz = 0u32;
        assert_eq!(gan_generator_latent_dim(handle, &mut nz), GanStatus::Ok);
        assert_eq!(nz, 100);
        assert_eq!(
            gan_generator_latent_dim(handle, std::ptr::null_mut()),
            GanStatus::NullPointer
        );
        let bogus = 0x1000 as *const GanGenerator;
        assert_eq!(
            gan_generator_latent_dim(bogus, &mut nz),
            GanStatus::BadHandle
        );

        let seeds = [1u64, 2];
        let mut small = vec![0u8; 28 * 28 * 4];
        assert_eq!(
            gan_generator_generate_rgba8(
                handle,
                seeds.as_ptr(),
                2,
                small.as_mut_ptr(),
                small.len()
            ),
            GanStatus::BufferTooSmall
        );
        assert!(last_error().contains("need"), "{}", last_error());
        let mut out = vec![0u8; 2 * 28 * 28 * 4];
        assert_eq!(
            gan_generator_generate_rgba8(handle, seeds.as_ptr(), 2, out.as_mut_ptr(), out.len()),
            GanStatus::Ok
        );
        assert_eq!(
            gan_generator_generate_rgba8(handle, std::ptr::null(), 2, out.as_mut_ptr(), out.len()),
            GanStatus::NullPointer
        );

        let mut options = std::mem::zeroed::<GanLoadOptions>();
        assert_eq!(gan_options_default(&mut options), GanStatus::Ok);
        options.backend = 9;
        let mut other: *mut GanGenerator = std::ptr::null_mut();
        assert_eq!(
            gan_generator_load(path.as_ptr(), &options, &mut other),
            GanStatus::InvalidArgument
        );

        assert_eq!(gan_generator_free(handle), GanStatus::Ok);
        assert_eq!(gan_generator_free(handle), GanStatus::BadHandle);
        assert_eq!(
            gan_generator_latent_dim(handle, &mut nz),
            GanStatus::BadHandle
        );
    }
}

/// The use-after-free scenario: eight threads generate on one handle while another thread
/// frees it. Every call must return OK (it started before the free, or won the race) or
/// BAD_HANDLE (after it), never touch freed memory, and once the free has returned every call
/// is BAD_HANDLE. Run under valgrind or ASan, a use-after-free would also be reported there.
#[test]
fn freeing_a_handle_while_threads_generate_is_safe() {
    use gan_runtime::ffi::{
        GanGenerator, GanStatus, gan_generator_free, gan_generator_generate_rgba8,
        gan_generator_load,
    };
    use std::ffi::CString;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let f = fixture(ArchConfig::Mlp {
        nz: 100,
        classes: Vec::new(),
        batch_norm: false,
        spectral_norm: Default::default(),
    });
    let path = CString::new(f.model.to_str().unwrap()).unwrap();
    for round in 0..5 {
        let mut handle: *mut GanGenerator = std::ptr::null_mut();
        // SAFETY: valid C string and out pointer.
        assert_eq!(
            unsafe { gan_generator_load(path.as_ptr(), std::ptr::null(), &mut handle) },
            GanStatus::Ok
        );
        let address = handle as usize;
        let freed = AtomicBool::new(false);
        let (ok, bad) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let (freed, ok, bad) = (&freed, &ok, &bad);
                scope.spawn(move || {
                    let handle = address as *const GanGenerator;
                    let mut out = vec![0u8; 2 * 28 * 28 * 4];
                    let started = std::time::Instant::now();
                    for i in 0u64.. {
                        assert!(
                            started.elapsed().as_secs() < 60,
                            "thread {t}: the free never took effect"
                        );
                        let was_freed = freed.load(Ordering::SeqCst);
                        let seeds = [t * 1000 + i, i];
                        // SAFETY: valid seeds and buffer; the handle is checked by the callee.
                        let status = unsafe {
                            gan_generator_generate_rgba8(
                                handle,
                                seeds.as_ptr(),
                                2,
                                out.as_mut_ptr(),
                                out.len(),
                            )
                        };
                        match status {
                            GanStatus::Ok => {
                                assert!(!was_freed, "thread {t}: OK after the free returned");
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            GanStatus::BadHandle => {
                                bad.fetch_add(1, Ordering::Relaxed);
                                break;
                            }
                            other => panic!("thread {t}, call {i}: {other:?}"),
                        }
                    }
                });
            }
            let freed = &freed;
            scope.spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(5 + 5 * round));
                let handle = address as *mut GanGenerator;
                // SAFETY: any value is accepted.
                assert_eq!(unsafe { gan_generator_free(handle) }, GanStatus::Ok);
                freed.store(true, Ordering::SeqCst);
            });
        });
        // SAFETY: any value is accepted.
        assert_eq!(unsafe { gan_generator_free(handle) }, GanStatus::BadHandle);
        let (ok, bad) = (ok.into_inner(), bad.into_inner());
        assert_eq!(
            bad, 8,
            "round {round}: every thread ends on BAD_HANDLE ({ok} OK calls)"
        );
    }
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
