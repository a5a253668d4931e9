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

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// `count` 28×28 digits with labels as IDX files in `dir`; returns the `mnist:DIR` data source.
pub fn write_mnist(dir: &Path, count: u32) -> String {
    let mut images = vec![0, 0, 8, 3];
    for d in [count, 28, 28] {
        images.extend(d.to_be_bytes());
    }
    images.extend((0..count as usize * 784).map(|i| (i * 7 % 256) as u8));
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(count.to_be_bytes());
    labels.extend((0..count).map(|i| (i % 10) as u8));
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).expect("write IDX images");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).expect("write IDX labels");
    format!("mnist:{}", path(dir))
}
