//! With the `cuda` feature, compile the CUDA kernels (`src/kernels/cuda/columns.cu`, by name: a
//! new kernel file needs its own nvcc call here and an `include_str!` where it is loaded) to PTX
//! with nvcc, which candle loads at run time; without it, nothing. The PTX targets `CUDA_COMPUTE_CAP`
//! (default 75, the oldest architecture nvcc 13 knows), and newer GPUs compile it when loading.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=src/kernels/cuda");
    println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "75".into());
    let source = "src/kernels/cuda/columns.cu";
    let target = out.join("columns.ptx");
    let status = Command::new("nvcc")
        .args([
            "--ptx",
            "-O3",
            &format!("-arch=compute_{cap}"),
            source,
            "-o",
        ])
        .arg(&target)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("nvcc failed on {source} ({s})"),
        Err(e) => panic!(
            "the `cuda` feature needs nvcc on PATH ({e}): run bench/gpu/cuda_toolchain.sh and \
             source the env.sh it prints"
        ),
    }
}
