//! `gan generate`: images from an ONNX generator through gan-runtime — a grid, one file per
//! sample, or a sprite sheet with a JSON atlas.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use gan_contract::grid;
use gan_contract::limits::DEFAULT_MAX_PICTURE_PIXELS as DEFAULT_MAX_PIXELS;
use gan_models::atomic;
use gan_runtime::{Generator, LoadOptions, OutputRange, Rgba8, picture};

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
    /// Output PNG: a grid (or with --sheet, a sprite sheet). Default `grid.png`, unless --each
    /// or --gif is given without it (then only those are written).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Grid columns (default: a square-ish grid).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    cols: Option<u32>,
    /// Largest grid or sheet, in pixels: a bigger one is refused before any work, with the size
    /// it would need (write --each files instead, or raise this).
    #[arg(long, default_value_t = DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Also write one PNG per sample into this folder.
    #[arg(long)]
    each: Option<PathBuf>,
    /// Write a sprite sheet (no gutters) and a JSON atlas of frame rectangles beside it.
    #[arg(long)]
    sheet: bool,
    /// Also write the images as the frames of an animated GIF, in order (with --interpolate,
    /// a walk from seed A to seed B).
    #[arg(long)]
    gif: Option<PathBuf>,
    /// How long each GIF frame shows, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(10..=60_000))]
    frame_ms: u32,
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
    /// A conditional generator: the class of every image, by name or number (`seven` or `7`).
    #[arg(long, conflicts_with = "per_class")]
    class: Option<String>,
    /// A conditional generator: N images of every class, one row per class (the same N seeds
    /// in each row); with --sheet the atlas names each frame's class.
    #[arg(long, conflicts_with_all = ["interpolate", "latents", "cols"], value_parser = clap::value_parser!(u64).range(1..=4096))]
    per_class: Option<u64>,
    /// Foreign conditional models: the name of the int64 class label input (default `label`).
    #[arg(long)]
    label_input: Option<String>,
    /// Foreign conditional models without metadata: how many classes (named 0, 1, ...).
    #[arg(long)]
    class_count: Option<usize>,
}

/// Latents generated at once: memory stays bounded whatever `--n` is.
const BATCH: usize = 64;

pub fn run(args: GenerateArgs) -> Result<()> {
    let options = load_options(&args)?;
    let started = std::time::Instant::now();
    let generator = Generator::load(&args.model, &options)
        .map_err(crate::report::runtime_error)
        .with_context(|| format!("cannot load {}", args.model.display()))?;
    if let Some(reason) = generator.fallback() {
        eprintln!("warning: {reason}; running on the CPU as --allow-fallback permits");
    }
    let classes = ClassPlan::new(&args, &generator)?;
    let source = LatentSource::new(&args, &generator, &classes)?;
    let count = source.len();
    let (w, h) = generator.image_size();
    let out_picture = match (&args.out, args.each.is_some() || args.gif.is_some()) {
        (Some(out), _) => Some(out.clone()),
        (None, true) => None,
        (None, false) => Some(PathBuf::from("grid.png")),
    };
    let cols = match classes {
        ClassPlan::PerClass { per, .. } => per,
        _ => args
            .cols
            .map_or_else(|| picture::default_cols(count), |c| c as usize),
    }
    .max(1);
    if out_picture.is_some() {
        check_picture_size(count, cols, (w, h), args.sheet, args.max_pixels)?;
    }
    if args.gif.is_some() {
        check_animation_size(count, (w, h), args.max_pixels)?;
    }
    if let Some(path) = &args.save_latents {
        save_latents(path, &source, generator.latent_dim())?;
    }
    if let Some(dir) = &args.each {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let keep = out_picture.is_some() || args.gif.is_some();
    let kept = generate_all(&args, &generator, &classes, &source, keep)?;
    let mut written = Vec::new();
    if let Some(out) = &out_picture {
        write_picture(out, &args, &generator, &classes, &source, &kept, cols)?;
        written.push(out.display().to_string());
    }
    if let Some(path) = &args.gif {
        save_gif(path, &kept, args.frame_ms)?;
        written.push(path.display().to_string());
    }
    let each = args
        .each
        .as_ref()
        .map(|d| format!("{} files in {}", count, d.display()));
    println!(
        "{count} images {w}×{h} from {} ({}) in {:.2} s → {}",
        args.model.display(),
        generator.runs_on(),
        started.elapsed().as_secs_f64(),
        written
            .into_iter()
            .chain(each)
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// The latents of every image as one `.npy` matrix, written in batches as they are drawn.
fn save_latents(path: &Path, source: &LatentSource, nz: usize) -> Result<()> {
    let count = source.len();
    let mut batches = (0..count)
        .step_by(BATCH)
        .map(|first| source.latents(first..(first + BATCH).min(count)));
    npy::write_f32_matrix_streamed(path, count, nz, || batches.next().transpose())
}

/// Every image `source` asks for, in batches of [`BATCH`] under a progress bar, each written to
/// `--each` as it comes; the images themselves are kept only when `keep` (for one picture).
fn generate_all(
    args: &GenerateArgs,
    generator: &Generator,
    classes: &ClassPlan,
    source: &LatentSource,
    keep: bool,
) -> Result<Vec<Rgba8>> {
    let count = source.len();
    let bar = crate::report::progress_bar(count > 4 * BATCH, count as u64);
    let mut kept = Vec::new();
    if keep {
        // Fallible: a count raised past memory by --max-pixels is an error, not an abort.
        kept.try_reserve_exact(count).map_err(|_| {
            anyhow::anyhow!(
                "{count} images do not fit in memory at once for one picture: write them with \
                 --each instead, or ask for fewer"
            )
        })?;
    }
    for first in (0..count).step_by(BATCH) {
        let range = first..(first + BATCH).min(count);
        let z = source.latents(range.clone())?;
        let images = match classes.of(range.clone()) {
            Some(labels) => generator.generate_latents_labelled(&z, &labels)?,
            None => generator.generate_latents(&z)?,
        };
        if let Some(dir) = &args.each {
            for (i, image) in range.clone().zip(&images) {
                let name = classes.frame_name(generator, i, source.label(i));
                save_png(&dir.join(format!("{name}.png")), image)?;
            }
        }
        if keep {
            kept.extend(images);
        }
        bar.inc(range.len() as u64);
    }
    bar.finish_and_clear();
    Ok(kept)
}

/// The one picture of `images` at `out`: a sprite sheet with its atlas (`--sheet`) or a grid.
fn write_picture(
    out: &Path,
    args: &GenerateArgs,
    generator: &Generator,
    classes: &ClassPlan,
    source: &LatentSource,
    images: &[Rgba8],
    cols: usize,
) -> Result<()> {
    if !args.sheet {
        return save_grid(out, images, cols);
    }
    let frames: Vec<Frame> = (0..images.len())
        .map(|i| Frame {
            name: classes.frame_name(generator, i, source.label(i)),
            class: classes.class_of(i).map(|c| generator.classes()[c].clone()),
        })
        .collect();
    write_sheet(out, images, &frames, cols, generator.image_size())
}

/// Refuse a grid or sheet larger than `max_pixels` before generating anything.
fn check_picture_size(
    count: usize,
    cols: usize,
    tile: (usize, usize),
    sheet: bool,
    max_pixels: u64,
) -> Result<()> {
    let gutter = if sheet { 0 } else { grid::GUTTER };
    let what = if sheet { "sheet" } else { "grid" };
    let size = grid::canvas_size(count, cols, tile, gutter)
        .filter(|&(w, h)| w <= u32::MAX as usize && h <= u32::MAX as usize);
    match size {
        Some((w, h)) if (w as u64).saturating_mul(h as u64) <= max_pixels => Ok(()),
        Some((w, h)) => bail!(
            "a {what} of {count} images in {cols} columns would be {w}×{h} = {} pixels ({:.1} GiB), over --max-pixels {max_pixels}; write --each files instead, use fewer images, or raise --max-pixels",
            w as u64 * h as u64,
            (w as f64 * h as f64 * 4.0) / f64::from(1u32 << 30)
        ),
        None => bail!("a {what} of {count} images in {cols} columns is too large for any picture"),
    }
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
        label_input: args.label_input.clone(),
        class_count: args.class_count,
        ..LoadOptions::default()
    })
}

/// The class of each image, for a conditional generator.
enum ClassPlan {
    /// An unconditional generator.
    None,
    /// Every image of one class (`--class`).
    One(usize),
    /// `per` images of each of `classes` classes, class by class (`--per-class`).
    PerClass { per: usize, classes: usize },
}

impl ClassPlan {
    fn new(args: &GenerateArgs, generator: &Generator) -> Result<Self> {
        let names = generator.classes();
        let plan = match (&args.class, args.per_class) {
            (Some(class), _) => ClassPlan::One(
                generator
                    .class_index(class)
                    .map_err(crate::report::runtime_error)
                    .with_context(|| format!("--class {class}"))?,
            ),
            (None, Some(_)) if names.is_empty() => bail!(
                "--per-class: {} is not a conditional generator (it has no classes)",
                args.model.display()
            ),
            (None, Some(per)) => ClassPlan::PerClass {
                per: per as usize,
                classes: names.len(),
            },
            (None, None) if !names.is_empty() => bail!(
                "{} is a conditional generator: choose a class with --class (one of {}) or ask for every class with --per-class N",
                args.model.display(),
                names.join(", ")
            ),
            (None, None) => ClassPlan::None,
        };
        Ok(plan)
    }

    /// The classes of samples `range`; `None` for an unconditional generator.
    fn of(&self, range: std::ops::Range<usize>) -> Option<Vec<usize>> {
        match self {
            ClassPlan::None => None,
            _ => range.map(|i| self.class_of(i)).collect(),
        }
    }

    /// The class of sample `i`.
    fn class_of(&self, i: usize) -> Option<usize> {
        match *self {
            ClassPlan::None => None,
            ClassPlan::One(class) => Some(class),
            ClassPlan::PerClass { per, .. } => Some(i / per),
        }
    }

    /// Sample `i`'s file or frame name: its latent's, after its class's.
    fn frame_name(&self, generator: &Generator, i: usize, latent: String) -> String {
        match self.class_of(i) {
            Some(class) => format!("{}_{latent}", generator.classes()[class]),
            None => latent,
        }
    }
}

/// Where the latents come from: seeds, a spherical path between two seeds, or a NumPy file.
/// Latent `i` is computed when asked for, so memory does not grow with the count.
enum LatentSource {
    Seeds {
        first: u64,
        n: usize,
        /// Seeds repeat after this many samples (`--per-class`), else `n`.
        period: usize,
        nz: usize,
    },
    Path {
        a: u64,
        b: u64,
        ends: (Vec<f32>, Vec<f32>),
        steps: usize,
    },
    File {
        values: Vec<f32>,
        nz: usize,
    },
}

impl LatentSource {
    fn new(args: &GenerateArgs, generator: &Generator, classes: &ClassPlan) -> Result<Self> {
        let nz = generator.latent_dim();
        if let Some(path) = &args.latents {
            let (_, cols, values) = npy::read_f32_matrix(path)?;
            if cols != nz {
                bail!(
                    "{}: latents have {cols} values each; the model takes {nz}",
                    path.display()
                );
            }
            if values.is_empty() {
                bail!("{}: holds no latents", path.display());
            }
            return Ok(LatentSource::File { values, nz });
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
            let (a, b) = (parse(a)?, parse(b)?);
            let steps = usize::try_from(parse(steps)?)
                .with_context(|| format!("--interpolate {spec}: too many steps"))?;
            if steps < 2 {
                bail!("--interpolate {spec}: STEPS must be at least 2");
            }
            let ends = (generator.latent_for_seed(a), generator.latent_for_seed(b));
            return Ok(LatentSource::Path { a, b, ends, steps });
        }
        if let ClassPlan::PerClass { per, classes } = *classes {
            // Each row (class) uses the same seeds.
            return Ok(LatentSource::Seeds {
                first: args.seed,
                n: per * classes,
                period: per,
                nz,
            });
        }
        if args.n == 0 {
            bail!("--n must be at least 1");
        }
        Ok(LatentSource::Seeds {
            first: args.seed,
            n: args.n,
            period: args.n,
            nz,
        })
    }

    /// The seed of sample `i` of a seeded source.
    fn seed(first: u64, period: usize, i: usize) -> u64 {
        first.wrapping_add((i % period) as u64)
    }

    fn len(&self) -> usize {
        match self {
            LatentSource::Seeds { n, .. } => *n,
            LatentSource::Path { steps, .. } => *steps,
            LatentSource::File { values, nz } => values.len() / nz,
        }
    }

    /// The name of sample `i`, for files and atlas frames.
    fn label(&self, i: usize) -> String {
        match self {
            LatentSource::Seeds { first, period, .. } => {
                format!("seed_{}", Self::seed(*first, *period, i))
            }
            LatentSource::Path { a, b, .. } => format!("interp_{a}_{b}_{i:03}"),
            LatentSource::File { .. } => format!("latent_{i:04}"),
        }
    }

    /// The latents of samples `range`, concatenated.
    fn latents(&self, range: std::ops::Range<usize>) -> Result<Vec<f32>> {
        Ok(match self {
            LatentSource::Seeds {
                first, period, nz, ..
            } => range
                .flat_map(|i| gan_runtime::latent_for_seed(Self::seed(*first, *period, i), *nz))
                .collect(),
            LatentSource::Path { ends, steps, .. } => range
                .flat_map(|i| {
                    let t = i as f64 / (*steps - 1) as f64;
                    gan_runtime::latent::slerp_point(&ends.0, &ends.1, t)
                })
                .collect(),
            LatentSource::File { values, nz } => values[range.start * nz..range.end * nz].to_vec(),
        })
    }
}

/// `images` (all the same size) as a PNG grid `cols` wide, laid out as `gan_contract::grid` says.
fn save_grid(path: &Path, images: &[Rgba8], cols: usize) -> Result<()> {
    save_png(path, &picture::tile(images, cols, grid::GUTTER)?)
}

/// One frame of a sprite sheet's atlas.
struct Frame {
    name: String,
    /// A conditional generator's class of the frame.
    class: Option<String>,
}

/// A gutter-less sheet and `<out>.json`: frame rectangles by name (and class), as game engines
/// import them.
fn write_sheet(
    out: &Path,
    images: &[Rgba8],
    frames: &[Frame],
    cols: usize,
    (w, h): (usize, usize),
) -> Result<()> {
    let sheet = picture::tile(images, cols, 0)?;
    save_png(out, &sheet)?;
    let frames: Vec<serde_json::Value> = frames
        .iter()
        .enumerate()
        .map(|(i, frame)| {
            let mut json = serde_json::json!({"name": frame.name, "x": (i % cols) * w, "y": (i / cols) * h, "w": w, "h": h});
            if let Some(class) = &frame.class {
                json["class"] = class.clone().into();
            }
            json
        })
        .collect();
    let atlas = serde_json::json!({
        "image": out.file_name().map(|n| n.to_string_lossy().into_owned()),
        "width": sheet.width,
        "height": sheet.height,
        "frames": frames,
    });
    let path = out.with_extension("json");
    atomic::write_file(&path, &serde_json::to_vec_pretty(&atlas)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Refuse an animation whose frames together exceed `max_pixels` before generating anything
/// (every frame is held until the GIF is encoded).
fn check_animation_size(count: usize, (w, h): (usize, usize), max_pixels: u64) -> Result<()> {
    let pixels = (count as u64)
        .saturating_mul(w as u64)
        .saturating_mul(h as u64);
    if pixels > max_pixels {
        bail!(
            "--gif of {count} frames of {w}×{h} would hold {pixels} pixels, over --max-pixels \
             {max_pixels}: ask for fewer frames"
        );
    }
    Ok(())
}

/// `frames` as an animated GIF (`gan_runtime::picture::gif`), written atomically.
pub(crate) fn save_gif(path: &Path, frames: &[Rgba8], frame_ms: u32) -> Result<()> {
    let bytes = picture::gif(frames, frame_ms)?;
    atomic::write_file(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Encode `image` as PNG (`gan_runtime::picture`, as `gan serve` does) and write it atomically.
pub(crate) fn save_png(path: &Path, image: &Rgba8) -> Result<()> {
    let bytes = picture::png(image)?;
    atomic::write_file(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}
