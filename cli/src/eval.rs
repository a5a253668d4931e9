//! `gan eval is`, `gan eval fid`, `gan eval kid` and `gan eval accuracy`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use gan_eval::inception::in_split_order;
use gan_eval::kernel::{DEFAULT_SUBSET_SIZE, DEFAULT_SUBSETS};
use gan_eval::pictures::{self, Picture};
use gan_eval::{
    Classifier, FeatureStats, Normalize, Preprocess, frechet_distance, kernel_distance,
};
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
    let (classifier, preprocess) = load_classifier(&args.classifier)?;
    let generator = Generator::load(&args.generator, &LoadOptions::default())
        .map_err(crate::report::runtime_error)?;
    let names = generator.classes().to_vec();
    if names.is_empty() {
        bail!(
            "{} is not a conditional generator (it has no classes): class accuracy needs one; score it with `gan eval is` or `fid`",
            args.generator.display()
        );
    }
    let logits_output = match classifier.declared_logits_output() {
        Some(name) => classifier.output_index(name)?,
        None => 0,
    };
    let mut outputs = vec![logits_output];
    let features_output = match (&args.real, classifier.declared_features_output()) {
        (Some(_), Some(name)) => Some(classifier.output_index(name)?),
        (Some(_), None) => bail!(
            "{} does not say which output holds its features (gan.features_output), so FID cannot be computed; leave out --real",
            args.classifier.classifier.display()
        ),
        (None, _) => None,
    };
    outputs.extend(features_output);
    // Every class n_per_class times (pictures::sample_class).
    let n = args.n_per_class as usize * names.len();
    let bar = progress(n as u64, "generating");
    let pictures = pictures::from_generator(&generator, n, args.seed, 64, &mut |k| {
        bar.inc(k as u64);
    })?;
    bar.finish_and_clear();
    let intended: Vec<usize> = (0..n)
        .map(|i| pictures::sample_class(i, names.len()))
        .collect();
    let result = classify(&classifier, &pictures, &preprocess, &outputs, "classifying")?;
    let width = result.widths[0];
    let declared = classifier.declared_classes();
    let target = gan_eval::match_classes(&names, declared.as_deref(), width)?;
    let accuracy = gan_eval::class_accuracy(&result.values[0], width, &intended, &target)?;
    let splits = 10.min(n / 10).max(1);
    let probs = gan_eval::probabilities(&in_split_order(&result.values[0], width), width);
    let is = gan_eval::inception_score(&probs, width, splits)?;
    let fid = match (&args.real, features_output) {
        (Some(real), Some(_)) => {
            let real = pictures::from_source(real)?;
            let real_features = classify(
                &classifier,
                &real,
                &preprocess,
                &outputs[1..],
                "real images",
            )?;
            let f_width = result.widths[1];
            let stats = FeatureStats::from_rows(&real_features.values[0], f_width)?;
            let fake = FeatureStats::from_rows(&result.values[1], f_width)?;
            Some(frechet_distance(&stats, &fake)?.value)
        }
        _ => None,
    };
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
    } else {
        for (c, name) in names.iter().enumerate() {
            let (correct, total) = accuracy.per_class[c];
            println!(
                "class {name:>10}: {:6.2}% ({correct} of {total})",
                100.0 * accuracy.of(c)
            );
        }
        let fid = fid.map_or(String::new(), |f| format!(", FID {f:.2}"));
        println!(
            "class accuracy {:.2}% over {n} samples ({} per class); Inception Score {:.3} ± {:.3}{fid}",
            100.0 * accuracy.overall,
            args.n_per_class,
            is.mean,
            is.std
        );
    }
    Ok(())
}

fn inception(args: IsArgs) -> Result<()> {
    let (classifier, preprocess) = load_classifier(&args.classifier)?;
    let output = match args
        .logits_output
        .as_deref()
        .or(classifier.declared_logits_output())
    {
        Some(name) => classifier.output_index(name)?,
        None => 0,
    };
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
    let outputs = classify(
        &classifier,
        &pictures,
        &preprocess,
        &[output],
        "classifying",
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let k = outputs.widths[0];
    if k < 2 {
        bail!(
            "output `{}` of {} gives {k} value per image: the Inception Score needs class scores (2 or more); choose another with --logits-output",
            classifier.output_names()[output],
            args.classifier.classifier.display()
        );
    }
    let logits = in_split_order(&outputs.values[0], k);
    let probs = gan_eval::probabilities(&logits, k);
    let score = gan_eval::inception_score(&probs, k, args.splits)?;
    if let Some(dir) = &args.classifier.save_outputs {
        save(dir, "logits.npy", n, k, &logits)?;
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
                "output": classifier.output_names()[output],
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

/// Real and generated images through the classifier's feature output.
struct Features {
    real: Vec<f32>,
    generated: Vec<f32>,
    width: usize,
    n_real: usize,
    n_generated: usize,
    output: String,
    images_per_second: f64,
}

fn features(args: &FeatureArgs) -> Result<Features> {
    let (classifier, preprocess) = load_classifier(&args.classifier)?;
    let Some(name) = args
        .features_output
        .as_deref()
        .or(classifier.declared_features_output())
    else {
        bail!(
            "{} does not say which output holds its features: name it with --features-output (outputs: {})",
            args.classifier.classifier.display(),
            classifier.output_names().join(", ")
        );
    };
    let output = classifier.output_index(name)?;
    let real = pictures::from_source(&args.real)?;
    let generated = load_samples(&args.samples)?;
    let started = Instant::now();
    let real_features = classify(&classifier, &real, &preprocess, &[output], "real images")?;
    let fake_features = classify(&classifier, &generated, &preprocess, &[output], "samples")?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(dir) = &args.classifier.save_outputs {
        for (file, o) in [
            ("real_features.npy", &real_features),
            ("generated_features.npy", &fake_features),
        ] {
            save(
                dir,
                file,
                o.values[0].len() / o.widths[0],
                o.widths[0],
                &o.values[0],
            )?;
        }
    }
    let width = real_features.widths[0];
    let take = |mut o: gan_eval::ClassifierOutputs| o.values.swap_remove(0);
    Ok(Features {
        real: take(real_features),
        generated: take(fake_features),
        width,
        n_real: real.len(),
        n_generated: generated.len(),
        output: name.to_string(),
        images_per_second: (real.len() + generated.len()) as f64 / seconds,
    })
}

fn fid(args: FeatureArgs) -> Result<()> {
    let f = features(&args)?;
    let stats = |rows: &[f32], what: &str| {
        FeatureStats::from_rows(rows, f.width)
            .with_context(|| format!("cannot summarise the {what} features"))
    };
    let (real_stats, fake_stats) = (stats(&f.real, "real")?, stats(&f.generated, "generated")?);
    let distance = frechet_distance(&real_stats, &fake_stats)?;
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
    let f = features(&args.features)?;
    let kid = kernel_distance(
        &f.real,
        &f.generated,
        f.width,
        args.subsets as usize,
        args.subset_size as usize,
    )?;
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

fn load_classifier(args: &ClassifierArgs) -> Result<(Classifier, Preprocess)> {
    open_classifier(&args.classifier, args.batch_size as usize, args.normalize)
}

/// The classifier at `path` and how images become its input (`normalize`, else its metadata).
pub(crate) fn open_classifier(
    path: &Path,
    batch_size: usize,
    normalize: Option<Normalize>,
) -> Result<(Classifier, Preprocess)> {
    let classifier = Classifier::load(path, batch_size)?;
    let declared = classifier
        .declared_normalize()
        .map(str::parse::<Normalize>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{}: gan.normalize: {e}", path.display()))?;
    let Some(normalize) = normalize.or(declared) else {
        bail!(
            "{} does not say how its input is scaled: give --normalize minus1_1, zero_1 or imagenet (torchvision's Inception v3: imagenet)",
            path.display()
        );
    };
    let [channels, height, width] = classifier.input_shape();
    Ok((
        classifier,
        Preprocess {
            channels,
            height,
            width,
            normalize,
        },
    ))
}

fn load_samples(args: &SampleArgs) -> Result<Vec<Picture>> {
    match (&args.generator, &args.images) {
        (Some(path), _) => {
            let n = args.n.unwrap_or(0);
            if n == 0 {
                bail!("--n must be at least 1");
            }
            let generator = Generator::load(path, &LoadOptions::default())?;
            let bar = progress(n as u64, "generating");
            let pictures =
                pictures::from_generator(&generator, n, args.seed, 64, &mut |k| bar.inc(k as u64))?;
            bar.finish_and_clear();
            Ok(pictures)
        }
        (None, Some(source)) => Ok(pictures::from_source(source)?),
        (None, None) => bail!("give --generator G.onnx --n N or --images DIR"),
    }
}

fn classify(
    classifier: &Classifier,
    pictures: &[Picture],
    preprocess: &Preprocess,
    outputs: &[usize],
    what: &str,
) -> Result<gan_eval::ClassifierOutputs> {
    let bar = progress(pictures.len() as u64, what);
    let result = classifier.run(pictures, preprocess, outputs, &mut |k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    Ok(result)
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

fn save(dir: &Path, file: &str, rows: usize, cols: usize, values: &[f32]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    crate::npy::write_f32_matrix(&dir.join(file), rows, cols, values)
}
