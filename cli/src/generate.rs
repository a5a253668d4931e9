//! `gan generate`: images from an ONNX generator through gan-runtime — a grid, one file per
//! sample, or a sprite sheet with a JSON atlas.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use gan_contract::grid;
use gan_models::atomic;
use gan_runtime::{Generator, LoadOptions, OutputRange, Rgba8};
use image::RgbaImage;

use crate::args::{BackendArg, DeviceArg};
use crate::npy;

#[derive(Args)]
pub struct GenerateArgs {
    /// The ONNX generator.
    #[arg(long)]
    model: PathBuf,
    /// How many images (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 64)]
    n: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output PNG: a grid (or with --sheet, a sprite sheet).
    #[arg(long, default_value = "grid.png")]
    out: PathBuf,
    /// Grid columns (default: a square-ish grid).
    #[arg(long)]
    cols: Option<usize>,
    /// Also write one PNG per sample into this folder.
    #[arg(long)]
    each: Option<PathBuf>,
    /// Write a sprite sheet (no gutters) and a JSON atlas of frame rectangles beside it.
    #[arg(long)]
    sheet: bool,
    /// Spherical interpolation between two seeds: A:B:STEPS.
    #[arg(long, conflicts_with = "latents")]
    interpolate: Option<String>,
    /// Generate from a float32 [N, nz] NumPy file instead of seeds.
    #[arg(long)]
    latents: Option<PathBuf>,
    /// Save the latents used as a float32 [N, nz] NumPy file.
    #[arg(long)]
    save_latents: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "tract")]
    backend: BackendArg,
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Run on the CPU (with a warning) if the device cannot be used.
    #[arg(long)]
    allow_fallback: bool,
    /// ONNX Runtime shared library (else ORT_DYLIB_PATH).
    #[arg(long)]
    ort_library: Option<PathBuf>,
    #[arg(long)]
    threads: Option<usize>,
    /// Foreign models: latent size.
    #[arg(long)]
    latent_dim: Option<usize>,
    /// Foreign models: image shape C,H,W.
    #[arg(long)]
    image_shape: Option<String>,
    /// Foreign models: output range: -1,1 | 0,1 | 0,255.
    #[arg(long, allow_hyphen_values = true)]
    output_range: Option<String>,
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let options = load_options(&args)?;
    let started = std::time::Instant::now();
    let generator = Generator::load(&args.model, &options)
        .map_err(crate::report::runtime_error)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    if let Some(reason) = generator.fallback() {
        eprintln!("warning: {reason}; running on the CPU as --allow-fallback permits");
    }
    let nz = generator.latent_dim();
    let (labels, latents) = latents(&args, &generator)?;
    if let Some(path) = &args.save_latents {
        npy::write_f32_matrix(path, labels.len(), nz, &latents)?;
    }
    let images = generator.generate_latents(&latents)?;
    let (w, h) = generator.image_size();
    let cols = args
        .cols
        .unwrap_or_else(|| (images.len() as f64).sqrt().ceil() as usize)
        .max(1);
    if args.sheet {
        write_sheet(&args.out, &images, &labels, cols, (w, h))?;
    } else {
        save_grid(&args.out, &images, cols)?;
    }
    if let Some(dir) = &args.each {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (image, label) in images.iter().zip(&labels) {
            save_png(
                &dir.join(format!("{label}.png")),
                &RgbaImage::from(image.clone()),
            )?;
        }
    }
    println!(
        "{} images {w}×{h} from {} ({}) in {:.2} s → {}",
        images.len(),
        args.model.display(),
        generator.runs_on(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

fn load_options(args: &GenerateArgs) -> Result<LoadOptions> {
    let image_shape = match &args.image_shape {
        None => None,
        Some(s) => {
            let dims: Vec<usize> = s
                .split(',')
                .map(|d| d.trim().parse())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--image-shape {s}: expected C,H,W"))?;
            let [c, h, w] = dims[..] else {
                bail!("--image-shape {s}: expected C,H,W")
            };
            Some((c, h, w))
        }
    };
    let output_range = match &args.output_range {
        None => None,
        Some(r) => Some(
            OutputRange::parse(r)
                .with_context(|| format!("--output-range {r}: expected -1,1 or 0,1 or 0,255"))?,
        ),
    };
    Ok(LoadOptions {
        backend: args.backend.into(),
        device: args.device.into(),
        allow_fallback: args.allow_fallback,
        ort_library: args.ort_library.clone(),
        threads: args.threads,
        latent_dim: args.latent_dim,
        image_shape,
        output_range,
        ..LoadOptions::default()
    })
}

/// The latents to generate from, each with a label used for file and frame names.
fn latents(args: &GenerateArgs, generator: &Generator) -> Result<(Vec<String>, Vec<f32>)> {
    let nz = generator.latent_dim();
    if let Some(path) = &args.latents {
        let (rows, cols, values) = npy::read_f32_matrix(path)?;
        if cols != nz {
            bail!(
                "{}: latents have {cols} values each; the model takes {nz}",
                path.display()
            );
        }
        return Ok((
            (0..rows).map(|i| format!("latent_{i:04}")).collect(),
            values,
        ));
    }
    if let Some(spec) = &args.interpolate {
        let parts: Vec<&str> = spec.split(':').collect();
        let [a, b, steps] = parts[..] else {
            bail!("--interpolate {spec}: expected A:B:STEPS")
        };
        let parse = |s: &str| {
            s.parse::<u64>()
                .with_context(|| format!("--interpolate {spec}: {s} is not a number"))
        };
        let (a, b, steps) = (parse(a)?, parse(b)?, parse(steps)? as usize);
        if steps < 2 {
            bail!("--interpolate {spec}: STEPS must be at least 2");
        }
        let path = gan_runtime::latent::slerp(
            &generator.latent_for_seed(a),
            &generator.latent_for_seed(b),
            steps,
        );
        return Ok((
            (0..steps)
                .map(|i| format!("interp_{a}_{b}_{i:03}"))
                .collect(),
            path.concat(),
        ));
    }
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    let seeds: Vec<u64> = (0..args.n as u64)
        .map(|i| args.seed.wrapping_add(i))
        .collect();
    Ok((
        seeds.iter().map(|s| format!("seed_{s}")).collect(),
        seeds
            .iter()
            .flat_map(|&s| generator.latent_for_seed(s))
            .collect(),
    ))
}

/// `images` (all the same size) as a PNG grid `cols` wide, laid out as `gan_contract::grid` says.
pub fn save_grid(path: &Path, images: &[Rgba8], cols: usize) -> Result<()> {
    save_png(path, &tile(images, cols, grid::GUTTER)?)
}

/// Images in rows of `cols`, `gutter` pixels apart.
fn tile(images: &[Rgba8], cols: usize, gutter: usize) -> Result<RgbaImage> {
    let size = images
        .first()
        .map_or((0, 0), |i| (i.width as usize, i.height as usize));
    if grid::canvas_size(images.len(), cols, size, gutter).is_none() {
        bail!(
            "a grid of {} images {}×{} in {cols} columns is too large",
            images.len(),
            size.0,
            size.1
        );
    }
    let canvas = grid::tile(
        images.iter().map(|i| i.pixels.as_slice()),
        images.len(),
        cols,
        size,
        gutter,
    );
    RgbaImage::from_raw(canvas.width as u32, canvas.height as u32, canvas.rgba)
        .context("the grid is too large for a PNG")
}

/// A gutter-less sheet and `<out>.json`: frame rectangles by name, as game engines import them.
fn write_sheet(
    out: &Path,
    images: &[Rgba8],
    labels: &[String],
    cols: usize,
    (w, h): (usize, usize),
) -> Result<()> {
    let sheet = tile(images, cols, 0)?;
    save_png(out, &sheet)?;
    let frames: Vec<serde_json::Value> = labels
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!({"name": name, "x": (i % cols) * w, "y": (i / cols) * h, "w": w, "h": h}))
        .collect();
    let atlas = serde_json::json!({
        "image": out.file_name().map(|n| n.to_string_lossy().into_owned()),
        "width": sheet.width(),
        "height": sheet.height(),
        "frames": frames,
    });
    let path = out.with_extension("json");
    atomic::write_file(&path, &serde_json::to_vec_pretty(&atlas)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Encode `image` as PNG and write it atomically.
fn save_png(path: &Path, image: &RgbaImage) -> Result<()> {
    atomic::write_file_with(path, |file| {
        image
            .write_to(file, image::ImageFormat::Png)
            .map_err(std::io::Error::other)
    })
    .with_context(|| format!("cannot write {}", path.display()))
}
