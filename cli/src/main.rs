//! `gan`: train GANs, export them to ONNX. The subcommands live in the `gan_cli` library.

use clap::{Parser, Subcommand};
use gan_cli::{export, train};

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
    /// Train a GAN (toy2d, mlp or dcgan) and write a run folder.
    Train(train::TrainArgs),
    /// Export a run's generator and discriminator to ONNX (same as `gan-export`).
    Export(export::ExportArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
        Command::Export(args) => export::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
