//! The exporter end to end: trained runs → ONNX → independent checks.

use gan_models::Mlp;
use std::path::Path;
use std::process::Command;

use gan_cli::reference::candle_reference;
use gan_e2e::{
    architectures, conditional_architectures, spectral_architectures, trained_run, value_dims,
    write_f32,
};
use gan_export::onnx::{DimensionValue, ModelProto};
use gan_export::{Batch, ExportOptions, ReferenceInput, Role, Which, export_run};
use gan_models::ArchConfig;
use gan_models::run_layout::{self, GENERATOR_FILE};
use gan_train::rng::{SeededRng, Stream};
use gan_train::{ClassifierConfig, train_classifier};

fn variants(arch: &ArchConfig) -> Vec<(String, ExportOptions)> {
    let mut out = Vec::new();
    for fold_bn in [true, false] {
        for batch in [Batch::Dynamic, Batch::Fixed(5)] {
            for pixels in [false, true] {
                if pixels && !arch.is_image() {
                    continue;
                }
                let name = format!(
                    "{}_{}_{}",
                    if fold_bn { "folded" } else { "bn" },
                    match batch {
                        Batch::Dynamic => "dyn".into(),
                        Batch::Fixed(n) => format!("b{n}"),
                    },
                    if pixels { "px" } else { "plain" }
                );
                out.push((
                    name,
                    ExportOptions {
                        fold_bn,
                        batch,
                        pixels,
                        ..ExportOptions::default()
                    },
                ));
            }
        }
    }
    if arch.is_image() {
        // The sub-pixel rewrite of stride-2 transposed convolutions, with BatchNorm kept and the pixels output.
        out.push((
            "subpixel_bn_px".into(),
            ExportOptions {
                subpixel: true,
                fold_bn: false,
                pixels: true,
                ..ExportOptions::default()
            },
        ));
    }
    out
}

/// Every architecture (conditional and spectrally normalised ones too), folded and not, dynamic and fixed batch, with and without pixels, and the
/// sub-pixel rewrite: onnx's
/// checker, strict shape inference and onnxruntime (at batch 1 and 5) agree with candle.
#[test]
fn onnx_checker_and_onnxruntime_agree_with_candle() {
    let work = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    let every = architectures()
        .into_iter()
        .chain(conditional_architectures())
        .chain(spectral_architectures());
    for (a, arch) in every.enumerate() {
        let arch = &arch;
        let arch_dir = work.path().join(format!("arch{a}"));
        let run = arch_dir.join("run");
        trained_run(arch, &arch_dir, &run);
        let (_, ck) = run_layout::latest_checkpoint(&run).unwrap().unwrap();
        for (name, options) in variants(arch) {
            let out = arch_dir.join(&name);
            let exported = export_run(&run, &out, &options, &candle_reference(&run)).unwrap();
            assert_eq!(exported.len(), 2);
            let batches: &[usize] = if options.batch == Batch::Dynamic {
                &[1, 5]
            } else {
                &[5]
            };
            for role in [Role::Generator, Role::Discriminator] {
                let (input, shape, output_shape) = match role {
                    Role::Generator => ("z", vec![arch.latent_dim()], arch.sample_shape()),
                    _ => ("image", arch.sample_shape(), vec![1]),
                };
                for &batch in batches {
                    let n = batch * shape.iter().product::<usize>();
                    let x = SeededRng::new(batch as u64, Stream::FixedNoise).normal(n, 0.0, 0.7);
                    let classes = arch.classes().len() as i64;
                    let labels: Vec<i64> = (0..batch as i64)
                        .map(|i| (i + 1) % classes.max(1))
                        .collect();
                    let labels = (classes > 0).then_some(labels);
                    let expected = gan_cli::reference::candle_forward(
                        &run,
                        role,
                        None,
                        &ck.join(role.checkpoint_file()),
                        ReferenceInput {
                            values: &x,
                            labels: labels.as_deref(),
                            batch,
                        },
                    )
                    .unwrap();
                    let stem = format!("arch{a}/{name}/{}_{batch}", role.name());
                    write_f32(&work.path().join(format!("{stem}.in")), &x);
                    write_f32(&work.path().join(format!("{stem}.ref")), &expected);
                    let labels_file = labels.map(|labels| {
                        let file = format!("{stem}.labels");
                        let bytes: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
                        std::fs::write(work.path().join(&file), bytes).unwrap();
                        file
                    });
                    cases.push(serde_json::json!({
                        "labels_file": labels_file,
                        "model": format!("arch{a}/{name}/{}.onnx", role.name()),
                        "input": input,
                        "sample_shape": shape,
                        "output_shape": output_shape,
                        "batch": batch,
                        "input_file": format!("{stem}.in"),
                        "expected": format!("{stem}.ref"),
                        "tolerance": 1e-4,
                    }));
                }
            }
        }
    }
    cases.extend(classifier_cases(work.path()));
    let manifest = work.path().join("manifest.json");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&cases).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/check_onnx.py");
    let out = Command::new("python3").arg(&script).arg(&manifest).output().expect(
        "python3 runs (the ONNX checks need `python3 -m pip install onnx onnxruntime numpy`, as .ci/run does)",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{} passed, 0 failed", cases.len())),
        "{stdout}"
    );
}

/// The classifier, dynamic and fixed batch: both outputs (`logits`, and `features` against
/// candle's network cut at the tapped layer).
fn classifier_cases(work: &Path) -> Vec<serde_json::Value> {
    let mut config = ClassifierConfig::new(16, 3, "shapes");
    config.epochs = 1;
    let run = work.join("classifier");
    train_classifier(config, &run, &mut ()).unwrap();
    let gan_models::RunModel::Classifier(arch) = run_layout::read_manifest(&run).unwrap().model
    else {
        panic!("a classifier run's manifest names the classifier")
    };
    let (_, ck) = run_layout::latest_checkpoint(&run).unwrap().unwrap();
    let mut cases = Vec::new();
    for (name, batch) in [("dyn", Batch::Dynamic), ("b5", Batch::Fixed(5))] {
        let options = ExportOptions {
            batch,
            ..ExportOptions::default()
        };
        let exported =
            export_run(&run, &run.join(name), &options, &candle_reference(&run)).unwrap();
        assert_eq!(exported.len(), 1);
        let x = SeededRng::new(5, Stream::FixedNoise).normal(5 * 3 * 16 * 16, 0.0, 0.7);
        for (output, stop, width) in [
            ("logits", None, 2),
            (
                "features",
                Some(arch.features_layer()),
                gan_models::CLASSIFIER_FEATURES,
            ),
        ] {
            let expected = gan_cli::reference::candle_forward(
                &run,
                Role::Classifier,
                stop,
                &ck.join(Role::Classifier.checkpoint_file()),
                ReferenceInput {
                    values: &x,
                    labels: None,
                    batch: 5,
                },
            )
            .unwrap();
            let stem = format!("classifier/{name}_{output}");
            write_f32(&work.join(format!("{stem}.in")), &x);
            write_f32(&work.join(format!("{stem}.ref")), &expected);
            cases.push(serde_json::json!({
                "model": format!("classifier/{name}/classifier.onnx"),
                "input": "image",
                "sample_shape": [3, 16, 16],
                "output_shape": [width],
                "output": output,
                "batch": 5,
                "input_file": format!("{stem}.in"),
                "expected": format!("{stem}.ref"),
                "tolerance": 1e-4,
            }));
        }
    }
    cases
}

fn decode(path: &Path) -> ModelProto {
    use gan_export::onnx::Message;
    ModelProto::decode(std::fs::read(path).unwrap().as_slice()).unwrap()
}

#[test]
fn graphs_carry_metadata_shapes_and_the_opset_asked_for() {
    let work = tempfile::tempdir().unwrap();
    let arch = &architectures()[3];
    let run = work.path().join("run");
    trained_run(arch, work.path(), &run);
    for (opset, ir) in [(13, 7), (17, 8), (18, 8)] {
        let out = work.path().join(format!("opset{opset}"));
        let options = ExportOptions {
            opset,
            pixels: true,
            ..ExportOptions::default()
        };
        export_run(&run, &out, &options, &candle_reference(&run)).unwrap();
        let model = decode(&out.join("generator.onnx"));
        assert_eq!(
            (model.ir_version, model.opset_import[0].version),
            (ir, opset)
        );
        let meta: std::collections::HashMap<_, _> = model
            .metadata_props
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(meta["gan.role"], "generator");
        assert_eq!(meta["gan.arch"], "dcgan");
        assert_eq!(meta["gan.nz"], "16");
        assert_eq!(
            (meta["gan.channels"], meta["gan.height"], meta["gan.width"]),
            ("3", "32", "32")
        );
        assert_eq!(
            (
                meta["gan.range"],
                meta["gan.layout"],
                meta["gan.train_steps"]
            ),
            ("-1,1", "NCHW", "3")
        );
        assert!(meta["gan.dataset"].ends_with("images"));
        assert!(model.doc_string.contains("z") && model.doc_string.contains("N(0, 1)"));
        let graph = model.graph.unwrap();
        let image = value_dims(&graph.output[0]);
        assert_eq!(
            image[0].value,
            Some(DimensionValue::DimParam("batch".into()))
        );
        assert_eq!(
            image[1..]
                .iter()
                .map(|d| d.value.clone())
                .collect::<Vec<_>>(),
            [3, 32, 32].map(|d| Some(DimensionValue::DimValue(d)))
        );
        assert_eq!(graph.output[1].name, "pixels");
        for node in &graph.node {
            assert!(
                !node
                    .attribute
                    .iter()
                    .any(|a| a.name == "auto_pad" || a.name == "output_shape"),
                "{}",
                node.name
            );
        }
        let convs = graph
            .node
            .iter()
            .filter(|n| n.op_type.starts_with("Conv"))
            .count();
        assert_eq!(convs, 4);
        assert!(
            !graph.node.iter().any(|n| n.op_type == "BatchNormalization"),
            "folded by default"
        );
    }
}

#[test]
fn triton_repository_layout() {
    let work = tempfile::tempdir().unwrap();
    let arch = &architectures()[2];
    let run = work.path().join("run");
    trained_run(arch, work.path(), &run);
    let repo = work.path().join("triton");
    let options = ExportOptions {
        which: Which::Generator,
        pixels: true,
        triton_repo: Some(repo.clone()),
        ..ExportOptions::default()
    };
    export_run(
        &run,
        &work.path().join("out"),
        &options,
        &candle_reference(&run),
    )
    .unwrap();
    let config = std::fs::read_to_string(repo.join("dcgan_generator/config.pbtxt")).unwrap();
    for needle in [
        "platform: \"onnxruntime_onnx\"",
        "max_batch_size:",
        "name: \"z\"",
        "dims: [ 16 ]",
        "dims: [ 1, 16, 16 ]",
        "TYPE_UINT8",
        "dims: [ 16, 16, 4 ]",
        "dynamic_batching",
    ] {
        assert!(config.contains(needle), "{needle} missing from\n{config}");
    }
    assert_eq!(
        std::fs::read(repo.join("dcgan_generator/1/model.onnx")).unwrap(),
        std::fs::read(work.path().join("out/generator.onnx")).unwrap()
    );
}

fn assert_no_onnx_left(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn a_self_check_failure_names_the_difference_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    trained_run(&ArchConfig::Mlp(Mlp::default()), work.path(), &run);
    let out = work.path().join("out");
    let off_by_a_bit = |role, stop, ck: &Path, input: ReferenceInput| {
        gan_cli::reference::candle_forward(&run, role, stop, ck, input)
            .map(|v| v.iter().map(|y| y + 1e-3).collect())
    };
    let err = export_run(&run, &out, &ExportOptions::default(), &off_by_a_bit)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("differs from the reference by 1.0") && err.contains("generator.onnx"),
        "{err}"
    );
    assert_no_onnx_left(&out);
}

#[test]
fn bad_runs_and_checkpoints_are_named_errors_and_leave_no_file() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    trained_run(&ArchConfig::Toy2d, work.path(), &run);
    let (_, ck) = run_layout::latest_checkpoint(&run).unwrap().unwrap();
    let generator = ck.join(GENERATOR_FILE);
    let good = std::fs::read(&generator).unwrap();
    let out = work.path().join("out");
    let export = || {
        export_run(
            &run,
            &out,
            &ExportOptions::default(),
            &candle_reference(&run),
        )
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };

    std::fs::write(&generator, &good[..good.len() - 7]).unwrap();
    let err = export();
    assert!(
        err.contains("generator.safetensors") && err.contains("not a valid safetensors"),
        "{err}"
    );
    assert_no_onnx_left(&out);

    std::fs::write(&generator, b"garbage").unwrap();
    assert!(export().contains("generator.safetensors"));

    std::fs::copy(ck.join(run_layout::DISCRIMINATOR_FILE), &generator).unwrap();
    let err = export();
    assert!(
        err.contains("layers.0.weight has shape [5, 2], expected [2, 2]"),
        "{err}"
    );

    // A checkpoint that lacks a tensor.
    let mut partial =
        gan_models::weights::Weights::read(&ck.join(run_layout::DISCRIMINATOR_FILE)).unwrap();
    let w = partial.take("layers.0.weight", &[5, 2]).unwrap();
    std::fs::write(
        &generator,
        gan_models::weights::to_safetensors(
            &[(
                "layers.0.weight".into(),
                gan_models::weights::Tensor {
                    shape: vec![2, 2],
                    values: w.values[..4].to_vec(),
                },
            )],
            Default::default(),
        ),
    )
    .unwrap();
    let err = export();
    assert!(
        err.contains("tensor layers.0.bias is missing") && err.contains("generator.safetensors"),
        "{err}"
    );

    std::fs::remove_file(&generator).unwrap();
    assert!(export().contains("generator.safetensors"));
    std::fs::write(&generator, &good).unwrap();

    let missing = ExportOptions {
        checkpoint: Some(run.join("checkpoints/step_999999")),
        ..ExportOptions::default()
    };
    let err = export_run(&run, &out, &missing, &candle_reference(&run))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step_999999") && err.contains("not found"),
        "{err}"
    );

    let no_run = work.path().join("not-a-run");
    std::fs::create_dir_all(&no_run).unwrap();
    let err = export_run(
        &no_run,
        &out,
        &ExportOptions::default(),
        &candle_reference(&run),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("config.json"), "{err}");

    let blocked = work.path().join("a-file");
    std::fs::write(&blocked, "not a folder").unwrap();
    let err = export_run(
        &run,
        &blocked.join("out"),
        &ExportOptions::default(),
        &candle_reference(&run),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("a-file") && err.contains("cannot create"),
        "{err}"
    );

    let err = export_run(
        &run,
        &out,
        &ExportOptions {
            pixels: true,
            ..ExportOptions::default()
        },
        &candle_reference(&run),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("pixels: needs an image model"), "{err}");
    let err = export_run(
        &run,
        &out,
        &ExportOptions {
            opset: 9,
            ..ExportOptions::default()
        },
        &candle_reference(&run),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("opset: 9 is not supported"), "{err}");
    assert_no_onnx_left(&out);
}

/// A run trained with an EMA generator exports it by default (self-checked against candle on
/// the same tensors) and the raw generator with `ema: false`: two different, both valid files.
#[test]
fn the_ema_generator_is_exported_by_default() {
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let mut config = gan_train::TrainConfig::new(gan_e2e::tiny_dcgan(16, 3), "shapes");
    config.batch_size = 8;
    config.max_steps = Some(4);
    config.ema_decay = Some(0.5);
    gan_train::Trainer::create(config, &run)
        .unwrap()
        .run(&mut ())
        .unwrap();
    let export = |name: &str, ema: bool| {
        let options = ExportOptions {
            which: Which::Generator,
            ema,
            ..ExportOptions::default()
        };
        let out = work.path().join(name);
        export_run(&run, &out, &options, &candle_reference(&run)).unwrap();
        let generator = gan_runtime::Generator::load(
            out.join("generator.onnx"),
            &gan_runtime::LoadOptions::default(),
        )
        .unwrap();
        generator.generate(&[1, 2]).unwrap()
    };
    assert_ne!(export("ema", true), export("raw", false));
}
