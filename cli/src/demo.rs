//! `gan demo`: the whole pipeline on built-in data, nothing downloaded — train the toy 2-D GAN,
//! then export it to ONNX with the self-check.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use gan_export::ExportOptions;
use gan_models::ArchConfig;
use gan_train::{TrainConfig, Trainer};

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the demo; if it exists, a fresh `-2`, `-3`… sibling is used instead.
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let root = fresh_folder(&args.out);
    let run_dir = root.join("toy2d");
    let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    config.seed = args.seed;
    let mut trainer = Trainer::create(config, &run_dir)
        .with_context(|| format!("cannot start a run in {}", run_dir.display()))?;
    eprintln!(
        "1/2 training the toy 2-D GAN ({} steps) in {}",
        trainer.total_steps(),
        run_dir.display()
    );
    let summary = trainer.run(true)?;
    println!(
        "trained {} steps in {:.1} s; scatter plot: {}",
        summary.steps_done,
        summary.seconds,
        run_dir.join("scatter.png").display()
    );

    let onnx_dir = root.join("onnx");
    eprintln!("2/2 exporting to ONNX in {}", onnx_dir.display());
    let reference =
        |role, ck: &Path, x: &[f32], n| crate::reference::candle_forward(&run_dir, role, ck, x, n);
    for model in gan_export::export_run(&run_dir, &onnx_dir, &ExportOptions::default(), &reference)?
    {
        println!(
            "{}: {} (self-check max difference vs candle {:.2e})",
            model.role.name(),
            model.path.display(),
            model.max_difference
        );
    }
    Ok(())
}

/// `out`, or the first of `out-2`, `out-3`, … that does not exist yet: a demo never overwrites.
fn fresh_folder(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "demo".into());
    std::iter::once(out.to_path_buf())
        .chain((2..).map(|i| out.with_file_name(format!("{name}-{i}"))))
        .find(|p| !p.exists())
        .expect("an unused name exists")
}
