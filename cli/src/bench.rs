//! `gan bench generate` (generator latency, throughput and cold start through gan-runtime) and
//! `gan bench train` (ms per training iteration, per kernel with `GAN_PROFILE=1`, on any device).
//! Benchmarks, not tests: compare with `bench/yardsticks/ort_python.py` and `bench/yardsticks/pytorch_train.py` run on
//! the same machine.

use gan_models::{Dcgan, FastGan, Mlp};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gan_models::ArchConfig;
use gan_runtime::{Generator, LoadOptions};
use gan_train::kernels::profile;
use gan_train::{TrainConfig, TrainDevice, Trainer};

use crate::args::{BackendArg, DeviceArg};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time an ONNX generator: cold start, then the median of repeated batches.
    Generate(GenerateBench),
    /// Time training iterations (DCGAN 32/64/128 px, MLP GAN) on the built-in data.
    Train(TrainBench),
}

#[derive(Args)]
pub struct TrainBench {
    /// Which models: any of dcgan32, dcgan64, dcgan128, fastgan64 (any size), mlp
    /// (comma-separated).
    #[arg(long, default_value = "dcgan32,dcgan64,dcgan128,mlp")]
    models: String,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// DCGAN widths (ngf = ndf).
    #[arg(long, default_value_t = 64)]
    width: usize,
    /// Timed iterations per model (after one warm-up iteration).
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Where to train: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: TrainDevice,
    /// Also print the first N steps' losses (to compare devices from the same seed).
    #[arg(long, default_value_t = 0)]
    show_losses: usize,
}

#[derive(Args)]
pub struct GenerateBench {
    #[arg(long)]
    model: PathBuf,
    #[arg(long, value_enum, default_value = "tract")]
    backend: BackendArg,
    /// Where ONNX Runtime runs (--backend ort); no fallback: a device that cannot be used fails.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Batch sizes to time, comma-separated.
    #[arg(long, default_value = "1,64")]
    batches: String,
    /// Timed repetitions per batch size (after two warm-up runs).
    #[arg(long, default_value_t = 20)]
    iters: usize,
    #[arg(long)]
    ort_library: Option<PathBuf>,
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Generate(args) => bench_generate(args),
        BenchCommand::Train(args) => bench_train(args),
    }
}

/// Per model: median ms per iteration and GFLOP/s, counting an iteration as PyTorch does its
/// work: G forward and backward (3 forward-equivalents), D forward on real, fake and fake again
/// with backward each time (9), two FLOPs per multiply-accumulate.
fn bench_train(args: TrainBench) -> Result<()> {
    println!(
        "training on {}, {} CPU threads",
        args.device,
        rayon_threads()
    );
    println!("| model | batch | median ms/iteration | GFLOP/iteration | GFLOP/s |");
    println!("|---|---:|---:|---:|---:|");
    for name in args.models.split(',') {
        let name = name.trim();
        let arch = bench_arch(name, args.width)?;
        let times = time_iterations(&args, &arch, name)?;
        let median = times[times.len() / 2];
        let g = arch.generator()?.macs_per_sample()? as f64;
        let d = arch.discriminator()?.macs_per_sample()? as f64;
        let gflop = 2.0 * args.batch_size as f64 * (3.0 * g + 9.0 * d) / 1e9;
        println!(
            "| {name} | {} | {median:.1} | {gflop:.1} | {:.1} |",
            args.batch_size,
            gflop / (median / 1e3)
        );
        print_kernel_times(&times, args.iters.max(1) as f64);
    }
    if let Some(peak) = peak_rss_mib() {
        println!("peak RSS {peak:.0} MiB");
    }
    Ok(())
}

/// `mlp`, `dcgan<SIZE>` at widths `width`, or `fastgan<SIZE>` at its default widths.
fn bench_arch(name: &str, width: usize) -> Result<ArchConfig> {
    if name == "mlp" {
        return Ok(ArchConfig::Mlp(Mlp::default()));
    }
    let size = |prefix: &str| name.strip_prefix(prefix).and_then(|s| s.parse().ok());
    if let Some(image_size) = size("fastgan") {
        return Ok(ArchConfig::FastGan(FastGan {
            image_size,
            ..FastGan::default()
        }));
    }
    let image_size = size("dcgan").with_context(|| format!("unknown model {name}"))?;
    Ok(ArchConfig::Dcgan(Dcgan {
        image_size,
        ngf: width,
        ndf: width,
        ..Dcgan::default()
    }))
}

/// Milliseconds of `args.iters` training iterations of `arch` after one warm-up, sorted.
fn time_iterations(args: &TrainBench, arch: &ArchConfig, name: &str) -> Result<Vec<f64>> {
    // A scratch run folder (config and metrics only: iterations write no files).
    let work = std::env::temp_dir().join(format!("gan-bench-{}-{name}", std::process::id()));
    let mut config = TrainConfig::new(arch.clone(), "shapes");
    config.batch_size = args.batch_size;
    config.kernels = crate::args::kernels_from_env()?;
    let mut trainer =
        Trainer::create_on(config, &work, args.device).map_err(crate::report::train_error)?;
    for _ in 0..args.show_losses {
        let m = trainer.train_step()?;
        println!(
            "    step {} loss_d {:.7} loss_g {:.7}",
            m.step, m.loss_d, m.loss_g
        );
    }
    trainer.train_step()?;
    profile::take();
    let mut times: Vec<f64> = (0..args.iters.max(1))
        .map(|_| {
            let t = Instant::now();
            trainer
                .train_step()
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    std::fs::remove_dir_all(&work).ok();
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// Where the time went (`GAN_PROFILE=1`), per iteration, and what the kernels do not cover.
fn print_kernel_times(times: &[f64], iters: f64) {
    let kernels = profile::take();
    if kernels.is_empty() {
        return;
    }
    let mut total = 0.0;
    for (kernel, time, calls) in kernels {
        let ms = time.as_secs_f64() * 1e3 / iters;
        total += ms;
        println!(
            "    {kernel:<20} {ms:8.1} ms/iteration ({:.0} calls)",
            calls as f64 / iters
        );
    }
    println!(
        "    {:<20} {:8.1} ms/iteration (mean)",
        "everything else",
        times.iter().sum::<f64>() / iters - total
    );
}

/// The threads the CPU kernels and candle's matrix products use (`RAYON_NUM_THREADS`, else one
/// per core).
fn rayon_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// The process's peak resident set (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn bench_generate(args: GenerateBench) -> Result<()> {
    let options = LoadOptions {
        backend: args.backend.into(),
        device: args.device.into(),
        threads: Some(args.threads),
        ort_library: args.ort_library.clone(),
        max_batch: Some(1024),
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let generator = Generator::load(&args.model, &options)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    generator.generate(&[0])?;
    let cold = started.elapsed().as_secs_f64() * 1e3;
    println!("{} — {}", args.model.display(), generator.runs_on());
    println!("cold start (load + first image): {cold:.1} ms");
    println!("| batch | median ms | min ms | images/s |");
    println!("|---:|---:|---:|---:|");
    for batch in args.batches.split(',') {
        let batch: usize = batch
            .trim()
            .parse()
            .with_context(|| format!("--batches: {batch} is not a number"))?;
        let z: Vec<f32> = (0..batch as u64)
            .flat_map(|s| generator.latent_for_seed(s))
            .collect();
        for _ in 0..2 {
            generator.generate_floats(&z)?;
        }
        let mut times: Vec<f64> = (0..args.iters.max(1))
            .map(|_| {
                let t = Instant::now();
                generator
                    .generate_floats(&z)
                    .map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_, _>>()?;
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "| {batch} | {median:.2} | {:.2} | {:.0} |",
            times[0],
            batch as f64 * 1e3 / median
        );
    }
    Ok(())
}
