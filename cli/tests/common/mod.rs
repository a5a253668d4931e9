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
