//! `gan-export --to onnx --run RUN_DIR --out OUT_DIR`: the model compiler on its own.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "gan-export",
    version,
    about = "Export a trained GAN's generator and discriminator to ONNX"
)]
struct Cli {
    #[command(flatten)]
    args: gan_cli::export::ExportArgs,
}

fn main() {
    if let Err(error) = gan_cli::export::run(Cli::parse().args) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}
