//! `gan bench generate`: generator latency, throughput and cold start through gan-runtime.
//! A benchmark, not a test: compare with `bench/ort_python.py` run on the same machine.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gan_runtime::{Backend, Generator, LoadOptions};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Time an ONNX generator: cold start, then the median of repeated batches.
    Generate(GenerateBench),
}

#[derive(Args)]
pub struct GenerateBench {
    #[arg(long)]
    model: PathBuf,
    /// tract or ort.
    #[arg(long, default_value = "tract")]
    backend: String,
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
    let BenchCommand::Generate(args) = command;
    let options = LoadOptions {
        backend: if args.backend == "ort" {
            Backend::Ort
        } else {
            Backend::Tract
        },
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
