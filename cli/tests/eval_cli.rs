//! `gan eval is` / `fid` / `kid` as a user runs them: known answers with classifiers whose
//! weights are set by hand, agreement with NumPy/SciPy, and bad input.

mod common;

use std::path::{Path, PathBuf};

use common::{TINY_DCGAN, gan, path, text, train};
use gan_models::ClassifierArch;
use gan_models::weights::{Tensor, Weights, to_safetensors};

const SIZE: usize = 16;

fn classifier_arch() -> ClassifierArch {
    ClassifierArch {
        image_size: SIZE,
        channels: 3,
        classes: 2,
    }
}

/// Train a 16 px disc-or-square classifier for one epoch, let `edit` change its tensors, and
/// export it; returns the ONNX file.
fn classifier(dir: &Path, edit: impl Fn(&str, &mut Tensor)) -> PathBuf {
    let run = dir.join("classifier-run");
    let out = gan(&[
        "train",
        "--model",
        "classifier",
        "--data",
        "shapes",
        "--image-size",
        "16",
        "--channels",
        "3",
        "--epochs",
        "1",
        "--out",
        path(&run),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ck = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let file = ck.join("classifier.safetensors");
    let mut weights = Weights::read(&file).unwrap();
    let tensors: Vec<(String, Tensor)> = classifier_arch()
        .network()
        .unwrap()
        .params()
        .into_iter()
        .map(|p| {
            let mut t = weights.take(&p.name, &p.spec.shape).unwrap();
            edit(&p.name, &mut t);
            (p.name, t)
        })
        .collect();
    std::fs::write(&file, to_safetensors(&tensors, weights.metadata.clone())).unwrap();
    let onnx = dir.join("onnx");
    let out = gan(&["export", "--run", path(&run), "--out", path(&onnx)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    onnx.join("classifier.onnx")
}

/// `n` 12×12 RGB pictures whose pixels `pixel(i, k)` gives (image i, byte k).
fn write_pictures(dir: &Path, n: usize, pixel: impl Fn(usize, usize) -> u8) -> String {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..n {
        let bytes: Vec<u8> = (0..12 * 12 * 3).map(|k| pixel(i, k)).collect();
        image::RgbImage::from_raw(12, 12, bytes)
            .unwrap()
            .save(dir.join(format!("{i:04}.png")))
            .unwrap();
    }
    path(dir).to_string()
}

fn noise(seed: u64) -> impl Fn(usize, usize) -> u8 {
    move |i, k| {
        let mut z = seed
            .wrapping_add(i as u64 * 1_000_003 + k as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z ^= z >> 29;
        (z.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 56) as u8
    }
}

fn json_of(args: &[&str]) -> serde_json::Value {
    let out = gan(args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("--json prints one object")
}

/// The command fails, and its error contains every one of `needles`.
fn assert_error(args: &[&str], needles: &[&str]) {
    let err = error_of(args);
    assert!(
        needles.iter().all(|n| err.contains(n)),
        "{needles:?}: {err}"
    );
}

fn error_of(args: &[&str]) -> String {
    let out = gan(args);
    assert!(
        !out.status.success(),
        "expected failure: {}",
        text(&out.stdout)
    );
    text(&out.stderr)
}

#[test]
fn a_uniform_classifier_scores_one_and_small_n_warns() {
    let dir = tempfile::tempdir().unwrap();
    // A zero last layer: every logit 0, every prediction uniform.
    let onnx = classifier(dir.path(), |name, t| {
        if name.starts_with("layers.7.") {
            t.values.fill(0.0);
        }
    });
    let images = write_pictures(&dir.path().join("images"), 100, noise(1));
    let report = json_of(&[
        "eval",
        "is",
        "--classifier",
        path(&onnx),
        "--images",
        &images,
        "--json",
    ]);
    assert!(
        (report["mean"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{report}"
    );
    assert_eq!(report["n"], 100);
    assert_eq!(report["classes"], 2);
    assert!(
        report["warnings"][0].as_str().unwrap().contains("biased"),
        "{report}"
    );
}

#[test]
fn one_hot_predictions_spread_evenly_over_two_classes_score_two() {
    let dir = tempfile::tempdir().unwrap();
    // Hand-set weights: feature 0 is the (ReLU'd) mean brightness; white images get logits
    // (≥ 500, ≤ 0), black ones (0, 500): one-hot in f64.
    let onnx = classifier(dir.path(), |name, t| {
        t.values.fill(0.0);
        match name {
            "layers.0.weight" => t.values[..48].fill(1.0 / 48.0),
            "layers.2.weight" => t.values[..16].fill(1.0 / 16.0),
            "layers.5.weight" => t.values[..16].fill(1.0 / 16.0),
            "layers.7.weight" => {
                t.values[0] = 1000.0;
                t.values[128] = -1000.0;
            }
            "layers.7.bias" => t.values[1] = 500.0,
            _ => {}
        }
    });
    let images = write_pictures(&dir.path().join("images"), 100, |i, _| {
        if i % 2 == 0 { 255 } else { 0 }
    });
    let report = json_of(&[
        "eval",
        "is",
        "--classifier",
        path(&onnx),
        "--images",
        &images,
        "--splits",
        "1",
        "--json",
    ]);
    assert!(
        (report["mean"].as_f64().unwrap() - 2.0).abs() < 1e-9,
        "{report}"
    );
}

#[test]
fn scores_agree_with_numpy_and_scipy_and_a_set_is_zero_from_itself() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = classifier(dir.path(), |_, _| {});
    let real = write_pictures(&dir.path().join("real"), 300, noise(2));
    // Darker, differently seeded pictures: a non-trivial distance.
    let dark = noise(3);
    let fake = write_pictures(&dir.path().join("fake"), 300, move |i, k| dark(i, k) / 2);
    let outputs = dir.path().join("outputs");
    let is_report = json_of(&[
        "eval",
        "is",
        "--classifier",
        path(&onnx),
        "--images",
        &fake,
        "--splits",
        "3",
        "--save-outputs",
        path(&outputs),
        "--json",
    ]);
    let fid_report = json_of(&[
        "eval",
        "fid",
        "--classifier",
        path(&onnx),
        "--real",
        &real,
        "--images",
        &fake,
        "--save-outputs",
        path(&outputs),
        "--json",
    ]);
    assert_eq!(fid_report["features"], gan_models::CLASSIFIER_FEATURES);
    assert!(fid_report["fid"].as_f64().unwrap() > 1e-3, "{fid_report}");
    // One subset holding every sample: the estimate numpy can recompute without our sampling.
    let kid_report = json_of(&[
        "eval",
        "kid",
        "--classifier",
        path(&onnx),
        "--real",
        &real,
        "--images",
        &fake,
        "--subsets",
        "1",
        "--subset-size",
        "300",
        "--json",
    ]);
    assert!(kid_report["kid"].as_f64().unwrap() > 0.0, "{kid_report}");
    let reports = [
        ("is", &is_report),
        ("fid", &fid_report),
        ("kid", &kid_report),
    ];
    for (kind, report) in reports {
        let file = outputs.join(format!("{kind}.json"));
        std::fs::write(&file, report.to_string()).unwrap();
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/python/check_scores.py"
    );
    let o = |f: &str| outputs.join(f).to_str().unwrap().to_string();
    for args in [
        vec!["is".into(), o("logits.npy"), "3".into(), o("is.json")],
        vec![
            "fid".into(),
            o("real_features.npy"),
            o("generated_features.npy"),
            o("fid.json"),
        ],
        vec![
            "kid".into(),
            o("real_features.npy"),
            o("generated_features.npy"),
            o("kid.json"),
        ],
    ] {
        let out = std::process::Command::new("python3")
            .arg(script)
            .args(&args)
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    let itself = json_of(&[
        "eval",
        "fid",
        "--classifier",
        path(&onnx),
        "--real",
        &real,
        "--images",
        &real,
        "--json",
    ]);
    assert!(itself["fid"].as_f64().unwrap().abs() < 1e-6, "{itself}");
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = classifier(dir.path(), |_, _| {});
    let onnx = path(&onnx);
    let images = write_pictures(&dir.path().join("images"), 30, noise(4));
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let garbage = dir.path().join("garbage.onnx");
    std::fs::write(&garbage, b"not a model at all").unwrap();

    assert_error(
        &["eval", "is", "--classifier", onnx, "--images", path(&empty)],
        &["no images found", "empty"],
    );
    assert_error(
        &["eval", "is", "--classifier", onnx, "--images", &images],
        &["30 images are too few for 10 splits"],
    );
    assert_error(
        &[
            "eval",
            "is",
            "--classifier",
            onnx,
            "--images",
            &images,
            "--splits",
            "2",
            "--logits-output",
            "probs",
        ],
        &["no output `probs`", "logits, features"],
    );
    assert_error(
        &[
            "eval",
            "is",
            "--classifier",
            path(&garbage),
            "--images",
            &images,
        ],
        &["garbage.onnx"],
    );
    assert_error(
        &[
            "eval",
            "fid",
            "--classifier",
            onnx,
            "--real",
            path(&empty),
            "--images",
            &images,
        ],
        &["no images found"],
    );

    // A discriminator is no classifier: one value per image.
    let run = dir.path().join("gan");
    let mut extra = TINY_DCGAN.to_vec();
    extra.extend(["--max-steps", "1", "--batch-size", "8", "--quiet"]);
    let out = train("dcgan", "shapes", &run, &extra);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let models = dir.path().join("gan-onnx");
    assert!(
        gan(&["export", "--run", path(&run), "--out", path(&models)])
            .status
            .success()
    );
    let d = models.join("discriminator.onnx");
    assert_error(
        &[
            "eval",
            "is",
            "--classifier",
            path(&d),
            "--images",
            &images,
            "--splits",
            "2",
            "--normalize",
            "minus1_1",
        ],
        &["output `logit`", "class"],
    );
    assert_error(
        &[
            "eval",
            "fid",
            "--classifier",
            path(&d),
            "--real",
            &images,
            "--images",
            &images,
            "--normalize",
            "minus1_1",
        ],
        &["--features-output"],
    );
    assert_error(
        &[
            "eval",
            "is",
            "--classifier",
            path(&d),
            "--images",
            &images,
            "--splits",
            "2",
        ],
        &["--normalize"],
    );
    // A generator's input is no image batch.
    let g = models.join("generator.onnx");
    let err = error_of(&[
        "eval",
        "is",
        "--classifier",
        path(&g),
        "--images",
        &images,
        "--normalize",
        "zero_1",
    ]);
    assert!(err.contains("[N, C, H, W]"), "{err}");
}

#[test]
fn scores_while_training_keep_the_best_checkpoint_and_survive_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = classifier(dir.path(), |_, _| {});
    let real = write_pictures(&dir.path().join("real"), 120, noise(5));
    let run = dir.path().join("run");
    let scoring = [
        "--classifier",
        path(&onnx),
        "--eval-real",
        &real,
        "--eval-n",
        "100",
    ];
    let mut extra: Vec<&str> = TINY_DCGAN.to_vec();
    extra.extend([
        "--batch-size",
        "8",
        "--max-steps",
        "4",
        "--eval-every",
        "2",
        "--quiet",
    ]);
    extra.extend(scoring);
    let out = train("dcgan", "shapes", &run, &extra);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("step 2: IS "),
        "{}",
        text(&out.stderr)
    );

    let rows = |run: &Path| -> Vec<Vec<f64>> {
        let csv = std::fs::read_to_string(run.join("scores.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("step,is,is_std,fid"));
        lines
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let scores = rows(&run);
    assert_eq!(scores.iter().map(|r| r[0]).collect::<Vec<_>>(), [2.0, 4.0]);
    for row in &scores {
        assert!(
            row[1] >= 1.0 && row[1] <= 2.0 + 1e-9,
            "IS of 2 classes: {row:?}"
        );
        assert!(row[3].is_finite() && row[3] >= 0.0, "FID: {row:?}");
    }
    let png = image::open(run.join("scores.png")).unwrap();
    assert!(png.width() > 100 && png.height() > 100);

    // The best checkpoint is the step with the lowest FID, and it exports by name.
    let best_step = scores
        .iter()
        .min_by(|a, b| a[3].total_cmp(&b[3]))
        .map(|r| r[0] as u64)
        .unwrap();
    let state = std::fs::read_to_string(run.join("checkpoints/best/state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["step"], best_step, "{state}");
    let exported = dir.path().join("best-onnx");
    let out = gan(&[
        "export",
        "--run",
        path(&run),
        "--checkpoint",
        "best",
        "--out",
        path(&exported),
        "--which",
        "generator",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let best = exported.join("generator.onnx");
    assert!(best.is_file());

    // The scores a run keeps are the scores `gan eval` gives its checkpoint: the same 100
    // samples (seeds 0..100), splits and real images.
    let best_row = scores.iter().find(|r| r[0] as u64 == best_step).unwrap();
    let eval = |metric: &str, extra: &[&str]| {
        let mut args = vec![
            "eval",
            metric,
            "--classifier",
            path(&onnx),
            "--generator",
            path(&best),
            "--n",
            "100",
            "--json",
        ];
        args.extend(extra);
        json_of(&args)
    };
    let is = eval("is", &[]);
    assert!(
        (is["mean"].as_f64().unwrap() - best_row[1]).abs() < 1e-9
            && (is["std"].as_f64().unwrap() - best_row[2]).abs() < 1e-9,
        "gan eval is: {is}, scores.csv: {best_row:?}"
    );
    let fid = eval("fid", &["--real", &real])["fid"].as_f64().unwrap();
    assert!(
        (fid - best_row[3]).abs() < 1e-9 * fid.max(1.0),
        "gan eval fid: {fid}, scores.csv: {best_row:?}"
    );

    // A resumed run appends to the same scores.
    let mut resume = vec![
        "train",
        "--resume",
        path(&run),
        "--max-steps",
        "6",
        "--quiet",
    ];
    resume.extend(scoring);
    let out = gan(&resume);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        rows(&run).iter().map(|r| r[0]).collect::<Vec<_>>(),
        [2.0, 4.0, 6.0]
    );
}

/// Both self-supervised tasks (contrastive, the default, and rotation) make a feature network
/// that tells the pictures from noise.
#[test]
fn a_feature_network_trained_on_unlabelled_images_scores_them() {
    for (task, classes) in [(None, 64), (Some("rotation"), 4)] {
        feature_network_scores(task, classes);
    }
}

fn feature_network_scores(task: Option<&str>, classes: usize) {
    let dir = tempfile::tempdir().unwrap();
    // Unlabelled pictures: a bright top half over a dark bottom, so the turn is learnable.
    let images = write_pictures(&dir.path().join("sprites"), 64, |i, k| {
        let row = k / (12 * 3);
        let base: u8 = if row < 6 { 220 } else { 30 };
        base.wrapping_add((i % 7) as u8)
    });
    let run = dir.path().join("features");
    let mut extra = vec![
        "--image-size",
        "12",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--quiet",
    ];
    extra.extend(task.iter().flat_map(|t| ["--task", *t]));
    let out = train("features", &images, &run, &extra);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("({classes} classes)")), "{stdout}");
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    let recorded = format!("\"task\": \"{}\"", task.unwrap_or("contrastive"));
    assert!(config.contains(&recorded), "{config}");

    let onnx = dir.path().join("features-onnx");
    let out = gan(&["export", "--run", path(&run), "--out", path(&onnx)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let features = onnx.join("classifier.onnx");
    // The pictures against themselves: KID near 0; against noise: clearly above.
    let kid = |other: &str| {
        json_of(&[
            "eval",
            "kid",
            "--classifier",
            path(&features),
            "--real",
            &images,
            "--images",
            other,
            "--subsets",
            "10",
            "--subset-size",
            "32",
            "--json",
        ])["kid"]
            .as_f64()
            .unwrap()
    };
    let noise_dir = write_pictures(&dir.path().join("noise"), 64, noise(9));
    let (same, different) = (kid(&images), kid(&noise_dir));
    assert!(
        different > same.abs() * 5.0 && different > 0.0,
        "{same} vs {different}"
    );
}

/// `gan eval accuracy` on a conditional generator, with a classifier that always says class 1
/// (`square`): every square counts, no disc does — 0% and 100% per class, 50% overall — and the
/// same samples' Inception Score is 1 (one class for all). An unconditional generator is refused.
#[test]
fn class_accuracy_of_a_conditional_generator_counts_hits_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let onnx = classifier(dir.path(), |name, t| {
        if name.starts_with("layers.7.") {
            t.values.fill(0.0);
            if name.ends_with("bias") {
                t.values[1] = 50.0;
            }
        }
    });
    let run = dir.path().join("cgan");
    let mut flags = vec!["--channels", "3", "--max-steps", "2"];
    flags.extend(TINY_DCGAN);
    let conditional = [flags.as_slice(), &["--conditional"]].concat();
    let out = train("dcgan", "shapes", &run, &conditional);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let export = dir.path().join("cgan-onnx");
    let out = gan(&["export", "--run", path(&run), "--out", path(&export)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let generator = export.join("generator.onnx");
    let report = json_of(&[
        "eval",
        "accuracy",
        "--classifier",
        path(&onnx),
        "--generator",
        path(&generator),
        "--n-per-class",
        "20",
        "--json",
    ]);
    assert_eq!(report["per_class"]["disc"], 0.0, "{report}");
    assert_eq!(report["per_class"]["square"], 1.0, "{report}");
    assert_eq!(report["accuracy"], 0.5, "{report}");
    assert!(
        (report["inception_score"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{report}"
    );

    let plain = dir.path().join("gan");
    let out = train("dcgan", "shapes", &plain, &flags);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = gan(&[
        "export",
        "--run",
        path(&plain),
        "--out",
        path(&plain.join("onnx")),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = error_of(&[
        "eval",
        "accuracy",
        "--classifier",
        path(&onnx),
        "--generator",
        path(&plain.join("onnx/generator.onnx")),
    ]);
    assert!(err.contains("not a conditional generator"), "{err}");
}
