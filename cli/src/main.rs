//! `gan`: train GANs, export them to ONNX, generate images. Each subcommand is a thin layer over
//! a library crate; this binary only parses arguments and reports.

mod train;

use clap::{Parser, Subcommand};

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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
