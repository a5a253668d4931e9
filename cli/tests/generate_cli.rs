//! `gan export` then `gan generate`, as a user runs them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{gan, path as s, text, train, write_mnist};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// A tiny trained and exported MLP generator.
fn model(dir: &Path) -> PathBuf {
    let data = write_mnist(dir, 64);
    let run = dir.join("run");
    ok(train("mlp", &data, &run, &["--max-steps", "2", "--quiet"]));
    let out = ok(gan(&[
        "export",
        "--run",
        s(&run),
        "--out",
        s(&dir.join("onnx")),
        "--which",
        "generator",
    ]));
    assert!(out.contains("self-check max difference"), "{out}");
    dir.join("onnx/generator.onnx")
}

#[test]
fn grids_files_sheets_interpolation_and_latents() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let grid = dir.path().join("grid.png");
    let out = ok(gan(&[
        "generate",
        "--model",
        s(&model),
        "--n",
        "6",
        "--cols",
        "3",
        "--seed",
        "10",
        "--out",
        s(&grid),
        "--each",
        s(&dir.path().join("each")),
        "--save-latents",
        s(&dir.path().join("z.npy")),
    ]));
    assert!(out.contains("6 images 28×28"), "{out}");
    let img = image::open(&grid).unwrap();
    assert_eq!((img.width(), img.height()), (3 * 30 + 2, 2 * 30 + 2));
    for seed in 10..16 {
        assert!(dir.path().join(format!("each/seed_{seed}.png")).is_file());
    }

    // The saved latents regenerate the same grid.
    let again = dir.path().join("again.png");
    ok(gan(&[
        "generate",
        "--model",
        s(&model),
        "--latents",
        s(&dir.path().join("z.npy")),
        "--cols",
        "3",
        "--out",
        s(&again),
    ]));
    assert_eq!(image::open(&again).unwrap().to_rgba8(), img.to_rgba8());

    let sheet = dir.path().join("sheet.png");
    ok(gan(&[
        "generate",
        "--model",
        s(&model),
        "--n",
        "5",
        "--cols",
        "2",
        "--sheet",
        "--out",
        s(&sheet),
    ]));
    let atlas: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sheet.json")).unwrap()).unwrap();
    assert_eq!(atlas["frames"].as_array().unwrap().len(), 5);
    assert_eq!(atlas["frames"][3]["x"], 28);
    assert_eq!(atlas["frames"][3]["y"], 28);
    assert_eq!(
        (atlas["width"].as_u64(), atlas["height"].as_u64()),
        (Some(56), Some(84))
    );
    assert_eq!(image::open(&sheet).unwrap().width(), 56);

    let interp = dir.path().join("interp.png");
    ok(gan(&[
        "generate",
        "--model",
        s(&model),
        "--interpolate",
        "3:9:5",
        "--cols",
        "5",
        "--out",
        s(&interp),
    ]));
    assert_eq!(image::open(&interp).unwrap().width(), 5 * 30 + 2);

    // The same walk as an animation: one frame per step, the generator's size, the delay asked
    // for, and each frame the interpolation's image (GIF's palette aside: within a few levels).
    let gif = dir.path().join("walk.gif");
    let frames_dir = dir.path().join("walk");
    ok(gan(&[
        "generate",
        "--model",
        s(&model),
        "--interpolate",
        "3:9:5",
        "--gif",
        s(&gif),
        "--frame-ms",
        "50",
        "--each",
        s(&frames_dir),
    ]));
    use image::AnimationDecoder;
    let file = std::io::BufReader::new(std::fs::File::open(&gif).unwrap());
    let frames = image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 5);
    let mut each: Vec<PathBuf> = std::fs::read_dir(&frames_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    each.sort();
    assert_eq!(each.len(), 5);
    for (frame, png) in frames.iter().zip(&each) {
        assert_eq!(frame.buffer().dimensions(), (28, 28));
        assert_eq!(frame.delay().numer_denom_ms(), (50, 1));
        let expected = image::open(png).unwrap().to_rgba8();
        let worst = frame
            .buffer()
            .as_raw()
            .iter()
            .zip(expected.as_raw())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(
            worst <= 8,
            "{}: a GIF pixel {worst} levels off",
            png.display()
        );
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let out = gan(&[
        "generate",
        "--model",
        s(&model),
        "--interpolate",
        "3-9",
        "--out",
        s(&dir.path().join("x.png")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("A:B:STEPS"));
    std::fs::write(
        dir.path().join("bad.npy"),
        b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'}",
    )
    .unwrap();
    let out = gan(&[
        "generate",
        "--model",
        s(&model),
        "--latents",
        s(&dir.path().join("bad.npy")),
    ]);
    assert!(
        text(&out.stderr).contains("float32"),
        "{}",
        text(&out.stderr)
    );
    let out = gan(&["generate", "--model", s(&dir.path().join("missing.onnx"))]);
    assert!(text(&out.stderr).contains("missing.onnx"));
}

/// Requests are bounded before any work: pictures over `--max-pixels` are refused with the size
/// they would need, `--cols 0` is refused, `--each` alone writes no grid, and a write that
/// fails exits non-zero and leaves no file.
#[test]
fn requests_are_bounded_and_failed_writes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let generate = |extra: &[&str]| {
        let mut args = vec!["generate", "--model", s(&model)];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_gan"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let refused = |out: &Output, needle: &str| {
        // 1: refused by gan; 2: refused by the argument parser.
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{}",
            text(&out.stdout)
        );
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{err}");
    };

    // A hundred million interpolation steps: refused at once, not grown to gigabytes.
    let started = std::time::Instant::now();
    let out = generate(&["--interpolate", "1:2:100000000", "--out", "walk.png"]);
    refused(&out, "--max-pixels");
    assert!(started.elapsed().as_secs() < 30);
    assert!(!dir.path().join("walk.png").exists());
    // A grid wider than any picture, and one over a lowered limit.
    refused(
        &generate(&["--n", "2", "--cols", "126322568"]),
        "--max-pixels",
    );
    refused(
        &generate(&["--n", "4", "--max-pixels", "1000", "--out", "g.png"]),
        "62×62 = 3844 pixels",
    );
    refused(&generate(&["--n", "2", "--cols", "0"]), "--cols");

    // --each alone: one file per sample, streamed in batches, and no grid.png.
    let each = dir.path().join("each");
    let out = ok(generate(&["--n", "150", "--each", s(&each)]));
    assert!(out.contains("150 files"), "{out}");
    assert_eq!(std::fs::read_dir(&each).unwrap().count(), 150);
    assert!(
        !dir.path().join("grid.png").exists(),
        "--each alone wrote a grid"
    );
    // A count past memory, with the picture limit lifted by hand: an error, not an abort.
    refused(
        &generate(&[
            "--n",
            "1000000000000",
            "--sheet",
            "--max-pixels",
            "18446744073709551615",
            "--out",
            "huge.png",
        ]),
        "do not fit in memory",
    );
    // --gif alone: the animation and no grid; too many frames for --max-pixels are refused.
    ok(generate(&["--n", "3", "--gif", "three.gif"]));
    assert!(dir.path().join("three.gif").is_file());
    assert!(
        !dir.path().join("grid.png").exists(),
        "--gif alone wrote a grid"
    );
    refused(
        &generate(&["--n", "100", "--gif", "many.gif", "--max-pixels", "1000"]),
        "--gif of 100 frames",
    );

    // An output that cannot be written (its folder is a file): an error, no file, no success.
    std::fs::write(dir.path().join("a-file"), "x").unwrap();
    for extra in [
        &["--n", "1", "--out", "a-file/one.png"][..],
        &["--n", "2", "--sheet", "--out", "a-file/sheet.png"],
        &[
            "--n",
            "1",
            "--save-latents",
            "a-file/z.npy",
            "--out",
            "ok.png",
        ],
        &["--n", "1", "--each", "a-file/each"],
    ] {
        let out = generate(extra);
        refused(&out, "a-file");
        assert!(
            !text(&out.stdout).contains("images"),
            "{extra:?} reported success"
        );
    }
}

/// A disk that fills up mid-write (simulated with a file-size limit, `ulimit -f`, whose signal
/// is ignored so the write fails with an error as on a full disk): every output is an error
/// with a non-zero exit, no partial file is left, and an existing file keeps its old content.
#[test]
fn a_failed_write_keeps_the_old_file_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let limited = |args: &str| {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f 4; exec \"$0\" generate --model \"$1\" {args}"
            ))
            .arg(env!("CARGO_BIN_EXE_gan"))
            .arg(&model)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    std::fs::write(dir.path().join("old.png"), b"the old picture").unwrap();
    for (args, file) in [
        ("--n 256 --out old.png", "old.png"),
        ("--n 256 --sheet --out sheet.png", "sheet.png"),
        ("--n 64 --out small.png --save-latents z.npy", "z.npy"),
    ] {
        let out = limited(args);
        assert_eq!(out.status.code(), Some(1), "{args}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(
            err.contains(file) && err.contains("cannot write"),
            "{args}: {err}"
        );
        assert!(
            !text(&out.stdout).contains("images"),
            "{args} reported success"
        );
    }
    assert_eq!(
        std::fs::read(dir.path().join("old.png")).unwrap(),
        b"the old picture"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("sheet") || n.contains(".tmp-") || n.ends_with(".npy"))
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");
}
