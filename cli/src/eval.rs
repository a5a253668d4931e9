//! `gan eval is`, `gan eval fid`, `gan eval kid` and `gan eval accuracy`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gan_eval::kernel::{DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS};
use gan_eval::pictures::{self, Picture};
use gan_eval::{EvalError, Normalize, Reference, Request, Rows, Scorer, ScorerOptions, Scores};
use gan_runtime::{Generator, LoadOptions};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// Below this many samples the Inception Score is biased (the reference implementations use
/// 50,000).
const SMALL_SAMPLE: usize = 5000;

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Inception Score: exp(E KL(p(y|x) || p(y))), mean ± std over splits.
    Is(IsArgs),
    /// Fréchet distance between the classifier features of real and generated images.
    Fid(FeatureArgs),
    /// Kernel Inception Distance: unbiased polynomial-kernel MMD² between the same features,
    /// mean ± std over subsets; fair at small sample counts, where FID is biased.
    Kid(KidArgs),
    /// A conditional generator's class accuracy: the share of its samples the classifier
    /// assigns to the class asked for, per class and overall; with the Inception Score of the
    /// same samples (and FID with --real).
    Accuracy(AccuracyArgs),
}

#[derive(Args)]
pub struct AccuracyArgs {
    #[command(flatten)]
    classifier: ClassifierArgs,
    /// The conditional ONNX generator.
    #[arg(long)]
    generator: PathBuf,
    /// Samples of each class (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    n_per_class: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Real images for the FID of the same samples: a folder, or `mnist:DIR`.
    #[arg(long)]
    real: Option<String>,
}

#[derive(Args)]
pub struct ClassifierArgs {
    /// The ONNX classifier (`gan-export` of a `--model classifier` run, or an Inception v3).
    #[arg(long)]
    classifier: PathBuf,
    /// Images per classifier run (a model with a fixed batch size uses its own).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=4096))]
    batch_size: u32,
    /// Input normalisation: minus1_1, zero_1 or imagenet (default: the classifier's metadata).
    #[arg(long, value_parser = |s: &str| s.parse::<Normalize>())]
    normalize: Option<Normalize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the classifier outputs used (.npy) into this folder, for outside checks.
    #[arg(long)]
    save_outputs: Option<PathBuf>,
}

#[derive(Args)]
pub struct SampleArgs {
    /// Score samples of this ONNX generator (with --n and --seed)...
    #[arg(long, conflicts_with = "images", requires = "n")]
    generator: Option<PathBuf>,
    /// Number of samples to generate.
    #[arg(long)]
    n: Option<usize>,
    /// First seed; sample i uses seed + i.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ...or score these images: a folder, or `mnist:DIR` for IDX files.
    #[arg(long, required_unless_present = "generator")]
    images: Option<String>,
}

#[derive(Args)]
pub struct IsArgs {
    #[command(flatten)]
    classifier: ClassifierArgs,
    #[command(flatten)]
    samples: SampleArgs,
    #[arg(long, default_value_t = 10)]
    splits: usize,
    /// The output holding logits or probabilities (default: the classifier's metadata, else
    /// its first output).
    #[arg(long)]
    logits_output: Option<String>,
}

#[derive(Args)]
pub struct FeatureArgs {
    #[command(flatten)]
    classifier: ClassifierArgs,
    #[command(flatten)]
    samples: SampleArgs,
    /// Real images: a folder, or `mnist:DIR` for IDX files.
    #[arg(long)]
    real: String,
    /// The output holding the feature vectors (default: the classifier's metadata).
    #[arg(long)]
    features_output: Option<String>,
}

#[derive(Args)]
pub struct KidArgs {
    #[command(flatten)]
    features: FeatureArgs,
    /// Random subsets averaged.
    #[arg(long, default_value_t = DEFAULT_SUBSETS as u32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    subsets: u32,
    /// Samples drawn from each set per subset (lowered to the smaller set's size).
    #[arg(long, default_value_t = DEFAULT_SUBSET_SIZE as u32, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    subset_size: u32,
}

pub fn run(command: EvalCommand) -> Result<()> {
    match command {
        EvalCommand::Is(args) => inception(args),
        EvalCommand::Fid(args) => fid(args),
        EvalCommand::Kid(args) => kid(args),
        EvalCommand::Accuracy(args) => accuracy(args),
    }
}

fn accuracy(args: AccuracyArgs) -> Result<()> {
    let scorer = open_scorer(&args.classifier, None, None)?;
    let generator = Generator::load(&args.generator, &LoadOptions::default())
        .map_err(crate::report::runtime_error)?;
    let names = generator.classes().to_vec();
    if names.is_empty() {
        bail!(
            "{} is not a conditional generator (it has no classes): class accuracy needs one; score it with `gan eval is` or `fid`",
            args.generator.display()
        );
    }
    let reference = match &args.real {
        Some(real) => Some(reference(&scorer, &pictures::from_source(real)?)?),
        None => None,
    };
    // Every class n_per_class times (pictures::sample_class).
    let n = args.n_per_class as usize * names.len();
    let pictures = generate(&generator, n, args.seed)?;
    let intended: Vec<usize> = (0..n)
        .map(|i| pictures::sample_class(i, names.len()))
        .collect();
    let request = Request {
        inception_splits: Some(10.min(n / 10).max(1)),
        fid: reference.as_ref(),
        accuracy: Some((&names, &intended)),
        ..Request::default()
    };
    let scores = score(&scorer, &pictures, &request, "classifying")?;
    let (Some(accuracy), Some(is)) = (scores.accuracy, scores.inception) else {
        bail!("the scorer returned no class accuracy");
    };
    let fid = scores.fid.map(|f| f.value);
    print_accuracy(&args, &names, &accuracy, &is, fid);
    Ok(())
}

/// `gan eval accuracy`'s report: per class and overall, as text or one JSON object.
fn print_accuracy(
    args: &AccuracyArgs,
    names: &[String],
    accuracy: &gan_eval::ClassAccuracy,
    is: &gan_eval::InceptionScore,
    fid: Option<f64>,
) {
    if args.classifier.json {
        let per_class: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .enumerate()
            .map(|(c, name)| (name.clone(), json!(accuracy.of(c))))
            .collect();
        println!(
            "{}",
            json!({
                "metric": "class_accuracy",
                "accuracy": accuracy.overall,
                "per_class": per_class,
                "n_per_class": args.n_per_class,
                "inception_score": is.mean,
                "inception_score_std": is.std,
                "fid": fid,
                "generator": args.generator,
                "classifier": args.classifier.classifier,
            })
        );
        return;
    }
    for (c, name) in names.iter().enumerate() {
        let (correct, total) = accuracy.per_class[c];
        println!(
            "class {name:>10}: {:6.2}% ({correct} of {total})",
            100.0 * accuracy.of(c)
        );
    }
    let fid = fid.map_or(String::new(), |f| format!(", FID {f:.2}"));
    println!(
        "class accuracy {:.2}% over {} samples ({} per class); Inception Score {:.3} ± {:.3}{fid}",
        100.0 * accuracy.overall,
        args.n_per_class as usize * names.len(),
        args.n_per_class,
        is.mean,
        is.std
    );
}

fn inception(args: IsArgs) -> Result<()> {
    let scorer = open_scorer(&args.classifier, args.logits_output, None)?;
    let pictures = load_samples(&args.samples)?;
    let n = pictures.len();
    if n < 10 * args.splits {
        bail!(
            "{n} images are too few for {} splits: the Inception Score needs at least 10 per split ({}); add images or lower --splits",
            args.splits,
            10 * args.splits
        );
    }
    let mut warnings = Vec::new();
    if n < SMALL_SAMPLE {
        warnings.push(format!(
            "{n} images: the Inception Score is biased low at small N (the reference uses 50,000; at least {SMALL_SAMPLE} recommended)"
        ));
    }
    let started = Instant::now();
    let request = Request {
        inception_splits: Some(args.splits),
        ..Request::default()
    };
    let scores = score(&scorer, &pictures, &request, "classifying")?;
    let seconds = started.elapsed().as_secs_f64();
    let (Some(score), Some(logits)) = (scores.inception, scores.logits) else {
        bail!("the scorer returned no Inception Score");
    };
    let k = logits.width;
    if let Some(dir) = &args.classifier.save_outputs {
        save(dir, "logits.npy", &logits)?;
    }
    let images_per_second = n as f64 / seconds;
    if args.classifier.json {
        println!(
            "{}",
            json!({
                "metric": "inception_score",
                "mean": score.mean,
                "std": score.std,
                "per_split": score.per_split,
                "n": n,
                "splits": args.splits,
                "classes": k,
                "output": scorer.logits_output(),
                "classifier": args.classifier.classifier,
                "images_per_second": images_per_second,
                "warnings": warnings,
            })
        );
    } else {
        warnings.iter().for_each(|w| eprintln!("warning: {w}"));
        println!(
            "Inception Score {:.4} ± {:.4} ({n} images, {} splits, {k} classes; {images_per_second:.0} images/s)",
            score.mean, score.std, args.splits
        );
    }
    Ok(())
}

/// The scores of `gan eval fid` and `kid`, with what the report says about them.
struct FeatureScores {
    scores: Scores,
    width: usize,
    n_real: usize,
    n_generated: usize,
    output: String,
    images_per_second: f64,
}

/// Real and generated images through the classifier's feature output: FID, or KID when `kid`
/// gives its (subsets, subset size). The speed counts the classifier's time on both sets.
fn feature_scores(args: &FeatureArgs, kid: Option<(usize, usize)>) -> Result<FeatureScores> {
    let scorer = open_scorer(&args.classifier, None, args.features_output.clone())?;
    let real_pictures = pictures::from_source(&args.real)?;
    let started = Instant::now();
    let real = reference(&scorer, &real_pictures)?;
    let mut seconds = started.elapsed().as_secs_f64();
    let output = scorer.features_output().unwrap_or_default().to_string();
    let generated = load_samples(&args.samples)?;
    let started = Instant::now();
    let request = Request {
        fid: kid.is_none().then_some(&real),
        kid: kid.map(|(subsets, size)| (&real, subsets, size)),
        ..Request::default()
    };
    let scores = score(&scorer, &generated, &request, "samples")?;
    seconds += started.elapsed().as_secs_f64();
    let Some(features) = &scores.features else {
        bail!("the scorer returned no features");
    };
    if let Some(dir) = &args.classifier.save_outputs {
        save(dir, "real_features.npy", &real.features)?;
        save(dir, "generated_features.npy", features)?;
    }
    let n_real = real.features.len();
    Ok(FeatureScores {
        width: features.width,
        n_real,
        n_generated: generated.len(),
        output,
        images_per_second: (n_real + generated.len()) as f64 / seconds,
        scores,
    })
}

fn fid(args: FeatureArgs) -> Result<()> {
    let f = feature_scores(&args, None)?;
    let Some(distance) = &f.scores.fid else {
        bail!("the scorer returned no FID");
    };
    if args.classifier.json {
        println!(
            "{}",
            json!({
                "metric": "fid",
                "fid": distance.value,
                "n_real": f.n_real,
                "n_generated": f.n_generated,
                "features": f.width,
                "output": f.output,
                "classifier": args.classifier.classifier,
                "images_per_second": f.images_per_second,
                "warnings": distance.warnings,
            })
        );
    } else {
        distance
            .warnings
            .iter()
            .for_each(|w| eprintln!("warning: {w}"));
        println!(
            "FID {:.4} ({} real, {} generated images, {} features; {:.0} images/s)",
            distance.value, f.n_real, f.n_generated, f.width, f.images_per_second
        );
    }
    Ok(())
}

fn kid(args: KidArgs) -> Result<()> {
    let subsets = (args.subsets as usize, args.subset_size as usize);
    let f = feature_scores(&args.features, Some(subsets))?;
    let Some(kid) = &f.scores.kid else {
        bail!("the scorer returned no KID");
    };
    if args.features.classifier.json {
        println!(
            "{}",
            json!({
                "metric": "kid",
                "kid": kid.mean,
                "kid_std": kid.std,
                "subsets": kid.subsets,
                "subset_size": kid.subset_size,
                "n_real": f.n_real,
                "n_generated": f.n_generated,
                "features": f.width,
                "output": f.output,
                "classifier": args.features.classifier.classifier,
                "images_per_second": f.images_per_second,
                "warnings": kid.warnings,
            })
        );
    } else {
        kid.warnings.iter().for_each(|w| eprintln!("warning: {w}"));
        println!(
            "KID {:.6} ± {:.6} ({} subsets of {}, {} real, {} generated images, {} features)",
            kid.mean, kid.std, kid.subsets, kid.subset_size, f.n_real, f.n_generated, f.width
        );
    }
    Ok(())
}

/// The scorer for `--classifier` and its options.
fn open_scorer(
    args: &ClassifierArgs,
    logits_output: Option<String>,
    features_output: Option<String>,
) -> Result<Scorer> {
    let options = ScorerOptions {
        batch_size: args.batch_size as usize,
        normalize: args.normalize,
        logits_output,
        features_output,
    };
    Scorer::open(&args.classifier, &options).map_err(as_flags)
}

/// A scorer's error, with an option it names (a [`ScorerOptions`] field) as the flag that sets
/// it.
pub(crate) fn as_flags(error: EvalError) -> anyhow::Error {
    match error {
        EvalError::NeedsOption {
            path,
            reason,
            option,
        } => anyhow::anyhow!(
            "{}: {reason}; give --{}",
            path.display(),
            option.replace('_', "-")
        ),
        other => other.into(),
    }
}

/// The real images' features, under a progress bar.
fn reference(scorer: &Scorer, real: &[Picture]) -> Result<Reference> {
    let bar = progress(real.len() as u64, "real images");
    let reference = scorer
        .reference(real, &mut |k| bar.inc(k as u64))
        .map_err(as_flags)?;
    bar.finish_and_clear();
    Ok(reference)
}

/// `request`'s scores of `pictures`, under a progress bar.
fn score(scorer: &Scorer, pictures: &[Picture], request: &Request, what: &str) -> Result<Scores> {
    let bar = progress(pictures.len() as u64, what);
    let scores = scorer
        .score(pictures, request, &mut |k| bar.inc(k as u64))
        .map_err(as_flags)?;
    bar.finish_and_clear();
    Ok(scores)
}

/// `n` samples of `generator` from seed `seed` on, under a progress bar.
fn generate(generator: &Generator, n: usize, seed: u64) -> Result<Vec<Picture>> {
    let bar = progress(n as u64, "generating");
    let pictures = pictures::from_generator(generator, n, seed, 64, &mut |k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    Ok(pictures)
}

fn load_samples(args: &SampleArgs) -> Result<Vec<Picture>> {
    match (&args.generator, &args.images) {
        (Some(path), _) => {
            let n = args.n.unwrap_or(0);
            if n == 0 {
                bail!("--n must be at least 1");
            }
            let generator = Generator::load(path, &LoadOptions::default())?;
            generate(&generator, n, args.seed)
        }
        (None, Some(source)) => Ok(pictures::from_source(source)?),
        (None, None) => bail!("give --generator G.onnx --n N or --images DIR"),
    }
}

fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}")
            .expect("template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn save(dir: &Path, file: &str, rows: &Rows) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::npy::write_f32_matrix(&dir.join(file), rows.len(), rows.width, &rows.values)
}
