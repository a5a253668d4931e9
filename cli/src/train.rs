//! `gan train`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use gan_models::run_layout::read_manifest;
use gan_models::{ArchConfig, RunModel, SpectralNorm};
use gan_train::augment::Augment;
use gan_train::config::{Loss, Recipe};
use gan_train::{
    ClassifierConfig, ClassifierTask, Event, Observer, TrainConfig, TrainDevice, Trainer,
    train_classifier,
};

use crate::report::{self, TrainingReport};
use crate::scores::Scorer;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    Toy2d,
    Mlp,
    Dcgan,
    /// The digit classifier that `gan eval` scores with (not a GAN; labelled data).
    Classifier,
    /// A feature network for scores on data without labels (not a GAN): the classifier
    /// trained to tell how far each image was turned; `gan eval fid|kid` and `--classifier`
    /// use its features.
    Features,
}

#[derive(Clone, Copy, ValueEnum)]
enum LossArg {
    Bce,
    Hinge,
}

#[derive(Clone, Copy, ValueEnum)]
enum SpectralNormArg {
    /// Neither network (overrides the stable recipe's).
    Off,
    /// The discriminator (its BatchNorm layers are dropped, as in SNGAN).
    D,
    /// The generator.
    G,
    Both,
}

#[derive(Clone, Copy, ValueEnum)]
enum RecipeArg {
    /// The chapter's: BCE, no EMA generator, no instance noise.
    Classic,
    /// Measured best on the digits: hinge loss, EMA generator 0.999, instance noise 0.1, and
    /// spectral norm on D (dcgan) or BatchNorm in G and mode seeking 1 (mlp).
    Stable,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Architecture to train.
    #[arg(long, value_enum, required_unless_present = "resume")]
    model: Option<Model>,
    /// Training data: `toy2d`, `shapes` (built in), `mnist:DIR` (IDX files) or a folder of images.
    #[arg(long, required_unless_present = "resume")]
    data: Option<String>,
    /// Run folder to create.
    #[arg(long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its newest checkpoint (--model, --data and --out
    /// may repeat the original command's values; different ones are refused).
    #[arg(long)]
    resume: Option<PathBuf>,
    #[arg(long)]
    epochs: Option<u64>,
    /// Stop after this many iterations (smoke runs).
    #[arg(long)]
    max_steps: Option<u64>,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rate of both networks (default 2e-4; toy2d: D 0.05, G 0.005).
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    lr_d: Option<f64>,
    #[arg(long)]
    lr_g: Option<f64>,
    #[arg(long, default_value_t = 0.5)]
    beta1: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Save a sample grid every N steps.
    #[arg(long, default_value_t = 500)]
    sample_every: u64,
    /// Save a checkpoint every N steps (and always at the end).
    #[arg(long, default_value_t = 1000)]
    checkpoint_every: u64,
    /// Keep only the newest N checkpoints.
    #[arg(long, default_value_t = 2)]
    keep_checkpoints: usize,
    /// Image size: DCGAN a power of two from 16 to 256 (default 64); classifier default 28.
    #[arg(long)]
    image_size: Option<usize>,
    /// Channels: 1 (gray) or 3 (RGB); default 3 for DCGAN, 1 for the classifier.
    #[arg(long)]
    channels: Option<usize>,
    /// Classifier: fraction of the samples held out to measure accuracy.
    #[arg(long, default_value_t = 0.1)]
    validation: f64,
    /// Latent size (mlp, dcgan).
    #[arg(long, default_value_t = 100)]
    nz: usize,
    #[arg(long, default_value_t = 64)]
    ngf: usize,
    #[arg(long, default_value_t = 64)]
    ndf: usize,
    /// Remedy for a winning discriminator: generator updates per discriminator update.
    #[arg(long, default_value_t = 1)]
    g_steps: usize,
    /// Remedy: one-sided label smoothing (real targets become 1 - S, e.g. 0.1).
    #[arg(long, default_value_t = 0.0)]
    label_smoothing: f64,
    /// Remedy: std of Gaussian noise on the discriminator's inputs, annealed to 0 (default: the
    /// recipe's).
    #[arg(long)]
    instance_noise: Option<f64>,
    /// Steps over which instance noise anneals to 0 (default: the whole run).
    #[arg(long)]
    instance_noise_steps: Option<u64>,
    /// Keep an EMA generator, the running average of G's weights with this decay (e.g. 0.999;
    /// warmed up over the first updates): sample grids and `gan export` use it.
    #[arg(long)]
    ema_decay: Option<f64>,
    /// The adversarial loss: bce (non-saturating) or hinge (SAGAN/BigGAN); default: the recipe's.
    #[arg(long, value_enum)]
    loss: Option<LossArg>,
    /// Stabilisation preset: sets --loss, --ema-decay, --instance-noise, --mode-seeking and
    /// --spectral-norm (dcgan) or --batch-norm (mlp); explicit flags override it.
    #[arg(long, value_enum, default_value = "classic")]
    recipe: RecipeArg,
    /// Randomly flip real images horizontally.
    #[arg(long)]
    flip: bool,
    /// Weight of the mode-seeking term (MSGAN, Mao et al. 2019) in the generator's loss, against
    /// a generator that ignores its latent (e.g. 1; 0: off; default: the recipe's).
    #[arg(long)]
    mode_seeking: Option<f64>,
    /// mlp: BatchNorm after the generator's hidden layers (the DCGAN generator always has it).
    #[arg(long)]
    batch_norm: bool,
    /// Spectral normalisation (Miyato et al. 2018) of every weight of these networks: one power
    /// iteration per step; the export folds W/σ into the weights (default: the recipe's).
    #[arg(long, value_enum)]
    spectral_norm: Option<SpectralNormArg>,
    /// Train a conditional GAN on the data's classes (mnist:DIR's digits, shapes' disc and
    /// square, or a folder of class folders DIR/<class>/<image>): generate a chosen class.
    #[arg(long)]
    conditional: bool,
    /// DiffAugment: transforms applied to every batch D sees, real and generated, e.g.
    /// `color,translation,cutout` (default: none).
    #[arg(long, value_delimiter = ',')]
    augment: Option<Vec<Augment>>,
    /// Skip unreadable images with a warning instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// Where to train: cpu, cuda (GPU 0) or cuda:N (a build with the `cuda` feature). A run
    /// resumes on any device.
    #[arg(long, default_value = "cpu")]
    device: TrainDevice,
    /// Score the generator at every checkpoint with this ONNX classifier (`gan export` of a
    /// `--model classifier` run): IS and FID into scores.csv and scores.png, the best checkpoint
    /// by FID kept in checkpoints/best.
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Score every N steps: sets a new run's checkpoint interval (default: --checkpoint-every).
    #[arg(long, requires = "classifier", value_parser = clap::value_parser!(u64).range(1..))]
    eval_every: Option<u64>,
    /// Real images for FID: `mnist:DIR` or a folder (default: the training data).
    #[arg(long, requires = "classifier")]
    eval_real: Option<String>,
    /// Generated images per score (at least 100: 10 per Inception Score split).
    #[arg(long, default_value_t = 2000, requires = "classifier", value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    eval_n: u64,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: TrainArgs) -> Result<()> {
    if args.resume.is_none() {
        match args.model {
            Some(Model::Classifier) => return run_classifier(&args, ClassifierTask::Classes),
            Some(Model::Features) => return run_classifier(&args, ClassifierTask::Rotation),
            _ => {}
        }
    }
    // The classifier and the real images are checked before a run folder is made.
    let scorer = match &args.classifier {
        Some(classifier) => {
            let real = match (&args.eval_real, &args.data, &args.resume) {
                (Some(real), _, _) | (None, Some(real), _) => real.clone(),
                (None, None, Some(dir)) => {
                    read_manifest(dir)
                        .with_context(|| format!("cannot resume the run in {}", dir.display()))?
                        .data
                }
                (None, None, None) => bail!("--classifier needs --eval-real or --data"),
            };
            eprintln!("scoring with {} against {real}", classifier.display());
            Some(Scorer::new(classifier, &real, args.eval_n as usize)?)
        }
        None => None,
    };
    let mut trainer = match &args.resume {
        Some(dir) => {
            if let Ok(manifest) = read_manifest(dir) {
                if matches!(manifest.model, RunModel::Classifier(_)) {
                    bail!(
                        "{} is a classifier run; classifier runs cannot be resumed, train a new one",
                        dir.display()
                    );
                }
                check_resume_matches(&args, dir, &manifest)?;
            }
            Trainer::resume_on(dir, args.max_steps, args.epochs, args.device)
                .map_err(report::train_error)
                .with_context(|| format!("cannot resume the run in {}", dir.display()))?
        }
        None => {
            let (config, out) = config_from(&args)?;
            Trainer::create_on(config, &out, args.device)
                .map_err(report::train_error)
                .with_context(|| format!("cannot start a run in {}", out.display()))?
        }
    };
    let config = &trainer.config;
    eprintln!(
        "training {} on {} ({} samples) on {}: steps {} → {}, batch {}",
        config.model.name(),
        config.data,
        trainer.dataset().len(),
        args.device,
        trainer.step(),
        trainer.total_steps(),
        config.batch_size
    );
    let mut report = TrainingReport::new(!args.quiet);
    let summary = match scorer {
        Some(scorer) => {
            let scorer = scorer.for_run(trainer.run_dir(), &trainer.config)?;
            trainer.run(&mut WithScores {
                report: &mut report,
                scorer,
            })
        }
        None => trainer.run(&mut report),
    }
    .map_err(report::train_error)?;
    let per_step = if summary.steps_done > 0 {
        1e3 * summary.seconds / summary.steps_done as f64
    } else {
        0.0
    };
    let last = summary.last.map_or_else(
        || "no steps".into(),
        |m| {
            format!(
                "loss_d {:.4}, loss_g {:.4}, D(x) {:.3}, D(G(z)) {:.3}",
                m.loss_d, m.loss_g, m.d_real, m.d_fake_after
            )
        },
    );
    println!(
        "trained {} steps ({} of {}) in {:.1} s, {per_step:.1} ms/step; {last}; checkpoint: {}",
        summary.steps_done,
        trainer.step(),
        summary.total_steps,
        summary.seconds,
        summary
            .checkpoint
            .map_or_else(|| "none".into(), |p| p.display().to_string())
    );
    Ok(())
}

/// The training report, plus a score at every checkpoint.
struct WithScores<'a> {
    report: &'a mut TrainingReport,
    scorer: Scorer,
}

impl Observer for WithScores<'_> {
    fn event(&mut self, event: Event<'_>) {
        if let Event::CheckpointWritten { step, path } = &event {
            let line = match self.scorer.score(*step, path) {
                Ok(outcome) => {
                    let s = outcome.score;
                    let mut line = format!(
                        "step {}: IS {:.2} ± {:.2}, FID {:.1}{}",
                        s.step,
                        s.inception,
                        s.inception_std,
                        s.fid,
                        if outcome.new_best {
                            " (best so far)"
                        } else {
                            ""
                        }
                    );
                    if let Some(stalled) = outcome.stalled {
                        line += &format!("\nwarning: {stalled}");
                    }
                    line
                }
                // Training goes on: the checkpoint is written, only its score is missing.
                Err(e) => format!("warning: cannot score step {step}: {e:#}"),
            };
            self.report.say(&line);
        }
        self.report.event(event);
    }
}

/// `--model`, `--data` and `--out` given with `--resume` must be the run's own.
fn check_resume_matches(
    args: &TrainArgs,
    dir: &std::path::Path,
    manifest: &gan_models::run_layout::RunManifest,
) -> Result<()> {
    let mut conflicts = Vec::new();
    if let Some(model) = args.model {
        let given = model.to_possible_value().map(|v| v.get_name().to_string());
        if given.as_deref() != Some(manifest.model.name()) {
            conflicts.push(format!(
                "--model {} (the run is {})",
                given.unwrap_or_default(),
                manifest.model.name()
            ));
        }
    }
    if let Some(data) = &args.data
        && *data != manifest.data
    {
        conflicts.push(format!(
            "--data {data} (the run trains on {})",
            manifest.data
        ));
    }
    if let Some(out) = &args.out {
        let same = |p: &std::path::Path| std::fs::canonicalize(p).ok();
        if same(out) != same(dir) {
            conflicts.push(format!(
                "--out {} (the run is in {})",
                out.display(),
                dir.display()
            ));
        }
    }
    if conflicts.is_empty() {
        Ok(())
    } else {
        bail!(
            "--resume {} continues that run as it was configured; these options differ from it: {}",
            dir.display(),
            conflicts.join(", ")
        )
    }
}

fn run_classifier(args: &TrainArgs, task: ClassifierTask) -> Result<()> {
    let (Some(data), Some(out)) = (args.data.clone(), args.out.clone()) else {
        bail!("--data and --out are required");
    };
    // A feature network is for sprites and photos: RGB at 32 px unless told otherwise.
    let (size, channels) = match task {
        ClassifierTask::Classes => (28, 1),
        ClassifierTask::Rotation => (32, 3),
    };
    let mut config = ClassifierConfig::new(
        args.image_size.unwrap_or(size),
        args.channels.unwrap_or(channels),
        data,
    );
    config.task = task;
    config.model.validate()?;
    config.seed = args.seed;
    config.batch_size = args.batch_size;
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.lr = args.lr.unwrap_or(config.lr);
    config.validation_fraction = args.validation;
    let what = match task {
        ClassifierTask::Classes => "the classifier",
        ClassifierTask::Rotation => "the feature network (which way is up)",
    };
    eprintln!(
        "training {what} on {} for {} epochs, batch {}",
        config.data, config.epochs, config.batch_size
    );
    let summary = train_classifier(config, &out, &mut TrainingReport::new(!args.quiet))
        .map_err(report::train_error)
        .with_context(|| format!("cannot train a classifier in {}", out.display()))?;
    println!(
        "trained on {} samples ({} classes) in {:.1} s; train loss {:.4}; held-out accuracy {:.2}% on {} samples; checkpoint: {}",
        summary.train_samples,
        summary.classes,
        summary.seconds,
        summary.train_loss,
        100.0 * summary.validation_accuracy,
        summary.validation_samples,
        summary.checkpoint.display()
    );
    Ok(())
}

fn config_from(args: &TrainArgs) -> Result<(TrainConfig, PathBuf)> {
    let (Some(model), Some(data), Some(out)) = (args.model, args.data.clone(), args.out.clone())
    else {
        bail!("--model, --data and --out are required unless --resume is given");
    };
    let arch = match model {
        Model::Toy2d => ArchConfig::Toy2d,
        Model::Mlp => ArchConfig::Mlp {
            nz: args.nz,
            classes: Vec::new(),
            batch_norm: args.batch_norm,
            spectral_norm: Default::default(),
        },
        Model::Classifier | Model::Features => unreachable!("handled by run_classifier"),
        Model::Dcgan => ArchConfig::Dcgan {
            image_size: args.image_size.unwrap_or(64),
            channels: args.channels.unwrap_or(3),
            nz: args.nz,
            ngf: args.ngf,
            ndf: args.ndf,
            classes: Vec::new(),
            spectral_norm: Default::default(),
        },
    };
    if args.batch_norm && model != Model::Mlp {
        bail!("--batch-norm applies to --model mlp (the DCGAN generator always has BatchNorm)");
    }
    let mut config = TrainConfig::new(arch, data);
    config.conditional = args.conditional;
    if let Some(lr) = args.lr {
        (config.lr_d, config.lr_g) = (lr, lr);
    }
    config.lr_d = args.lr_d.unwrap_or(config.lr_d);
    config.lr_g = args.lr_g.unwrap_or(config.lr_g);
    config.epochs = args.epochs.unwrap_or(config.epochs);
    config.max_steps = args.max_steps;
    config.batch_size = args.batch_size;
    config.beta1 = args.beta1;
    config.seed = args.seed;
    config.sample_every = args.sample_every;
    config.checkpoint_every = args.eval_every.unwrap_or(args.checkpoint_every);
    config.keep_checkpoints = args.keep_checkpoints;
    config.g_steps = args.g_steps;
    config.label_smoothing = args.label_smoothing;
    match args.recipe {
        RecipeArg::Classic => Recipe::Classic,
        RecipeArg::Stable => Recipe::Stable,
    }
    .apply(&mut config);
    if let Some(setting) = args.spectral_norm {
        let setting = match setting {
            SpectralNormArg::Off => SpectralNorm::Off,
            SpectralNormArg::D => SpectralNorm::D,
            SpectralNormArg::G => SpectralNorm::G,
            SpectralNormArg::Both => SpectralNorm::Both,
        };
        config.model = config
            .model
            .clone()
            .with_spectral_norm(setting)
            .map_err(|e| anyhow::anyhow!("--spectral-norm: {e}"))?;
    }
    config.mode_seeking = args.mode_seeking.unwrap_or(config.mode_seeking);
    config.instance_noise = args.instance_noise.unwrap_or(config.instance_noise);
    config.instance_noise_steps = args.instance_noise_steps.unwrap_or(0);
    config.flip = args.flip;
    if let Some(augment) = &args.augment {
        config.augment.clone_from(augment);
    }
    config.ema_decay = args.ema_decay.or(config.ema_decay);
    config.loss = match args.loss {
        Some(LossArg::Bce) => Loss::Bce,
        Some(LossArg::Hinge) => Loss::Hinge,
        None => config.loss,
    };
    config.skip_bad = args.skip_bad;
    Ok((config, out))
}
