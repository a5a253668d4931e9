//! Helpers shared by the CLI tests: run the real `gan` binary, make small data.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use std::path::Path;
use std::process::{Command, Output};

pub fn gan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gan"))
        .args(args)
        .output()
        .expect("gan runs")
}

/// The options of a DCGAN small enough for tests: 16 px, widths 4.
pub const TINY_DCGAN: [&str; 6] = ["--image-size", "16", "--ngf", "4", "--ndf", "4"];

/// `gan train --model MODEL --data DATA --out OUT` followed by `extra`.
pub fn train(model: &str, data: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--model",
        model,
        "--data",
        data,
        "--out",
        path(out),
    ];
    args.extend_from_slice(extra);
    gan(&args)
}

/// Assert that `out` is gan's refusal (exit 1) and that its message contains `needle`.
pub fn assert_refused(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `count` 28×28 digits with labels as IDX files in `dir`; returns the `mnist:DIR` data source.
pub fn write_mnist(dir: &Path, count: u32) -> String {
    gan_models::fixtures::write_mnist(dir, count)
}
