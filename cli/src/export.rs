//! `gan export` and `gan-export --to onnx`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use gan_export::{Batch, ExportOptions, Which};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Onnx,
}

#[derive(Clone, Copy, ValueEnum)]
enum WhichArg {
    Generator,
    Discriminator,
    Both,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "onnx")]
    pub to: Format,
    /// The training run folder.
    #[arg(long)]
    run: PathBuf,
    /// Folder for generator.onnx and discriminator.onnx.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "both")]
    which: WhichArg,
    /// A checkpoint folder (or a file in one) instead of the newest; `best`: the best by FID
    /// (runs trained with --classifier).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// ONNX opset, 13 to 21.
    #[arg(long, default_value_t = 17)]
    opset: i64,
    /// Keep BatchNormalization nodes instead of folding them into the convolutions.
    #[arg(long)]
    no_fold_bn: bool,
    /// Rewrite stride-2 ConvTranspose into convolutions + DepthToSpace (the sub-pixel form):
    /// the same function, several times faster in tract.
    #[arg(long)]
    subpixel: bool,
    /// Batch axis: `dynamic` (symbolic) or a fixed size.
    #[arg(long, default_value = "dynamic", value_parser = crate::args::parse_batch)]
    batch: Batch,
    /// Export the raw generator weights instead of the EMA generator of a run trained with
    /// --ema-decay.
    #[arg(long)]
    no_ema: bool,
    /// Add a uint8 RGBA `pixels` output [batch, H, W, 4] to the generator.
    #[arg(long)]
    pixels: bool,
    /// Also lay out a Triton Inference Server model repository in this folder.
    #[arg(long)]
    triton_repo: Option<PathBuf>,
}

/// `best` (when no such path exists) is the run's best checkpoint by FID, kept by
/// `gan train --classifier` in `checkpoints/best`.
fn checkpoint_path(run: &std::path::Path, given: &std::path::Path) -> PathBuf {
    if given == std::path::Path::new(crate::scores::BEST) && !given.exists() {
        run.join(gan_models::run_layout::CHECKPOINTS_DIR)
            .join(crate::scores::BEST)
    } else {
        given.to_path_buf()
    }
}

pub fn run(args: ExportArgs) -> Result<()> {
    let options = ExportOptions {
        which: match args.which {
            WhichArg::Generator => Which::Generator,
            WhichArg::Discriminator => Which::Discriminator,
            WhichArg::Both => Which::Both,
        },
        checkpoint: args
            .checkpoint
            .as_ref()
            .map(|c| checkpoint_path(&args.run, c)),
        opset: args.opset,
        fold_bn: !args.no_fold_bn,
        subpixel: args.subpixel,
        batch: args.batch,
        pixels: args.pixels,
        ema: !args.no_ema,
        triton_repo: args.triton_repo.clone(),
    };
    let started = std::time::Instant::now();
    let reference = crate::reference::candle_reference(&args.run);
    let exported = gan_export::export_run(&args.run, &args.out, &options, &reference)
        .map_err(crate::report::export_error)
        .with_context(|| format!("cannot export the run in {}", args.run.display()))?;
    for model in &exported {
        println!(
            "{}: {} ({:.1} KiB), self-check max difference vs candle {:.2e}",
            model.role.name(),
            model.path.display(),
            model.bytes as f64 / 1024.0,
            model.max_difference
        );
    }
    if let Some(repo) = &args.triton_repo {
        println!("triton model repository: {}", repo.display());
    }
    println!("exported in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}
