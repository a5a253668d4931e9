//! `gan demo`: the whole pipeline on built-in data, nothing downloaded — train the toy 2-D GAN
//! and a small DCGAN on the built-in `shapes` pictures, export both to ONNX with the
//! self-check, and generate a grid from the DCGAN's ONNX file through gan-runtime.

use gan_models::Dcgan;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use gan_export::ExportOptions;
use gan_models::ArchConfig;
use gan_runtime::{Generator, LoadOptions};
use gan_train::{TrainConfig, Trainer};

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the demo; if it exists, a fresh `-2`, `-3`… sibling is used instead.
    #[arg(long, default_value = "runs/demo")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training steps of the shapes DCGAN.
    #[arg(long, default_value_t = 800)]
    dcgan_steps: u64,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let root = fresh_folder(&args.out);

    let toy = root.join("toy2d");
    eprintln!("1/3 the toy 2-D GAN");
    let mut config = TrainConfig::new(ArchConfig::Toy2d, "toy2d");
    config.seed = args.seed;
    train(config, &toy)?;
    println!("scatter plot: {}", toy.join("scatter.png").display());
    export(&toy, &root.join("toy2d-onnx"))?;

    let dcgan = root.join("shapes-dcgan");
    eprintln!("2/3 a small DCGAN on the built-in shapes");
    let arch = ArchConfig::Dcgan(Dcgan {
        image_size: 16,
        channels: 3,
        nz: 32,
        ngf: 32,
        ndf: 32,
        ..Dcgan::default()
    });
    let mut config = TrainConfig::new(arch, "shapes");
    config.seed = args.seed;
    config.batch_size = 32;
    config.max_steps = Some(args.dcgan_steps);
    config.epochs = 1000;
    config.sample_every = 200;
    train(config, &dcgan)?;
    let onnx = root.join("shapes-onnx");
    export(&dcgan, &onnx)?;

    eprintln!("3/3 generating from the ONNX file");
    let generator = Generator::load(onnx.join("generator.onnx"), &LoadOptions::default())?;
    let images = generator.generate(&(0..64).collect::<Vec<u64>>())?;
    // Four times the size: the 16 px pictures are too small to see at their own size.
    let grid = root.join("grid.png");
    let tiled = gan_runtime::picture::tile(&images, 8, gan_contract::grid::GUTTER)?;
    crate::generate::save_png(&grid, &gan_runtime::picture::enlarge(&tiled, 4)?)?;
    println!(
        "grid of 64 generated pictures ({}): {}",
        generator.runs_on(),
        grid.display()
    );
    Ok(())
}

fn train(config: TrainConfig, run_dir: &Path) -> Result<()> {
    let mut trainer = Trainer::create(config, run_dir)
        .map_err(crate::report::train_error)
        .with_context(|| format!("cannot start a run in {}", run_dir.display()))?;
    let summary = trainer
        .run(&mut crate::report::TrainingReport::new(true))
        .map_err(crate::report::train_error)?;
    println!(
        "trained {} steps in {:.1} s: {}",
        summary.steps_done,
        summary.seconds,
        run_dir.display()
    );
    Ok(())
}

fn export(run_dir: &Path, out: &Path) -> Result<()> {
    let reference = crate::reference::candle_reference(run_dir);
    for model in gan_export::export_run(run_dir, out, &ExportOptions::default(), &reference)? {
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
        .map_or_else(|| "demo".into(), |n| n.to_string_lossy().into_owned());
    std::iter::once(out.to_path_buf())
        .chain((2..).map(|i| out.with_file_name(format!("{name}-{i}"))))
        .find(|p| !p.exists())
        .expect("an unused name exists")
}
