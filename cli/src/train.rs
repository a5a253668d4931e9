//! `gan train`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use gan_models::run_layout::read_manifest;
use gan_models::{ArchConfig, Dcgan, FastGan, Mlp, RunModel, SpectralNorm};
use gan_train::augment::{Augment, AugmentChance};
use gan_train::config::{Loss, Recipe};
use gan_train::{
    ClassifierConfig, ClassifierTask, Event, Observer, TrainConfig, TrainDevice, Trainer,
    train_classifier,
};

use crate::report::{self, TrainingReport};
use crate::scores::TrainingScores;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    Toy2d,
    Mlp,
    Dcgan,
    /// The few-shot GAN for small image sets (FastGAN: skip-layer excitation, a
    /// self-supervised discriminator; hinge loss and DiffAugment by default).
    Fastgan,
    /// The digit classifier that `gan eval` scores with (not a GAN; labelled data).
    Classifier,
    /// A feature network for scores on data without labels (not a GAN): the classifier
    /// trained to tell how far each image was turned; `gan eval fid|kid` and `--classifier`
    /// use its features.
    Features,
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
    /// Samples per step (default 64).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate of both networks (default 2e-4; toy2d: D 0.05, G 0.005).
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    lr_d: Option<f64>,
    #[arg(long)]
    lr_g: Option<f64>,
    /// Adam's β₁ (default 0.5).
    #[arg(long)]
    beta1: Option<f64>,
    /// Fixes weights, noise and shuffling (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Save a sample grid every N steps (default 500).
    #[arg(long)]
    sample_every: Option<u64>,
    /// Save a checkpoint every N steps, and always at the end (default 1000).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Keep only the newest N checkpoints (default 2).
    #[arg(long)]
    keep_checkpoints: Option<usize>,
    /// Image size: DCGAN a power of two from 16 to 256 (default 64); classifier default 28.
    #[arg(long)]
    image_size: Option<usize>,
    /// Channels: 1 (gray) or 3 (RGB); default 3 for DCGAN, 1 for the classifier.
    #[arg(long)]
    channels: Option<usize>,
    /// Classifier: fraction of the samples held out to measure accuracy (default 0.1).
    #[arg(long)]
    validation: Option<f64>,
    /// Latent size (mlp, dcgan; default 100).
    #[arg(long)]
    nz: Option<usize>,
    /// DCGAN generator width (default 64).
    #[arg(long)]
    ngf: Option<usize>,
    /// DCGAN discriminator width (default 64).
    #[arg(long)]
    ndf: Option<usize>,
    /// Remedy for a winning discriminator: generator updates per discriminator update
    /// (default 1).
    #[arg(long)]
    g_steps: Option<usize>,
    /// Remedy: one-sided label smoothing (real targets become 1 - S, e.g. 0.1; default 0).
    #[arg(long)]
    label_smoothing: Option<f64>,
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
    loss: Option<Loss>,
    /// Stabilisation preset: sets --loss, --ema-decay, --instance-noise, --mode-seeking and
    /// --spectral-norm (dcgan) or --batch-norm (mlp); explicit flags override it (default
    /// classic).
    #[arg(long, value_enum)]
    recipe: Option<Recipe>,
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
    spectral_norm: Option<SpectralNorm>,
    /// Train a conditional GAN on the data's classes (mnist:DIR's digits, shapes' disc and
    /// square, or a folder of class folders DIR/<class>/<image>): generate a chosen class.
    #[arg(long)]
    conditional: bool,
    /// DiffAugment: transforms applied to every batch D sees, real and generated, e.g.
    /// `color,translation,cutout` (default: none).
    #[arg(long, value_delimiter = ',')]
    augment: Option<Vec<Augment>>,
    /// What a feature network (--model features) learns: `contrastive` (the default: two
    /// views of one image among a batch's, SimCLR; it ranks sprite sets as a person does, see
    /// bench/quality/sprite_score.sh) or `rotation` (which way is up; fails that check).
    #[arg(long, value_enum)]
    task: Option<ClassifierTask>,
    /// How often each augment transform applies to a sample: a probability in [0, 1], or
    /// `auto` (adapts so that D's sign on real images stays near 0.6, as StyleGAN2-ADA;
    /// starts at 0). Default: every time.
    #[arg(long)]
    augment_p: Option<AugmentChance>,
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
            Some(Model::Features) => {
                let task = args.task.unwrap_or(ClassifierTask::Contrastive);
                if task == ClassifierTask::Classes {
                    bail!(
                        "--task classes is what --model classifier trains; --model features learns rotation or contrastive"
                    );
                }
                return run_classifier(&args, task);
            }
            _ => {}
        }
    }
    // The classifier and the real images are checked before a run folder is made.
    let scorer = training_scores(&args)?;
    let mut trainer = open_trainer(&args)?;
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
    print_summary(&summary, trainer.step());
    if let Some(path) = crate::progress_gif::write(trainer.run_dir())? {
        println!("progress animation: {}", path.display());
    }
    Ok(())
}

/// The scores to take while training (`--classifier`), against `--eval-real`, else the data.
fn training_scores(args: &TrainArgs) -> Result<Option<TrainingScores>> {
    let Some(classifier) = &args.classifier else {
        return Ok(None);
    };
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
    Ok(Some(TrainingScores::new(
        classifier,
        &real,
        args.eval_n as usize,
    )?))
}

/// The run to train: resumed from `--resume`, or a new one in `--out`.
fn open_trainer(args: &TrainArgs) -> Result<Trainer> {
    match &args.resume {
        Some(dir) => {
            if let Ok(manifest) = read_manifest(dir) {
                if matches!(manifest.model, RunModel::Classifier(_)) {
                    bail!(
                        "{} is a classifier run; classifier runs cannot be resumed, train a new one",
                        dir.display()
                    );
                }
                check_resume_matches(args, dir, &manifest)?;
            }
            Trainer::resume_on(dir, args.max_steps, args.epochs, args.device)
                .map_err(report::train_error)
                .with_context(|| format!("cannot resume the run in {}", dir.display()))
        }
        None => {
            let (config, out) = config_from(args)?;
            Trainer::create_on(config, &out, args.device)
                .map_err(report::train_error)
                .with_context(|| format!("cannot start a run in {}", out.display()))
        }
    }
}

/// The closing line of a run.
fn print_summary(summary: &gan_train::Summary, step: u64) {
    let per_step = if summary.steps_done > 0 {
        1e3 * summary.seconds / summary.steps_done as f64
    } else {
        0.0
    };
    let last = summary.last.as_ref().map_or_else(
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
        step,
        summary.total_steps,
        summary.seconds,
        summary
            .checkpoint
            .as_ref()
            .map_or_else(|| "none".into(), |p| p.display().to_string())
    );
}

/// The training report, plus a score at every checkpoint.
struct WithScores<'a> {
    report: &'a mut TrainingReport,
    scorer: TrainingScores,
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
        ClassifierTask::Rotation | ClassifierTask::Contrastive => (32, 3),
    };
    let mut config = ClassifierConfig::new(
        args.image_size.unwrap_or(size),
        args.channels.unwrap_or(channels),
        data,
    );
    config.task = task;
    config.model.validate()?;
    set(&mut config.seed, args.seed);
    set(&mut config.batch_size, args.batch_size);
    set(&mut config.epochs, args.epochs);
    set(&mut config.lr, args.lr);
    set(&mut config.validation_fraction, args.validation);
    let what = match task {
        ClassifierTask::Classes => "the classifier",
        ClassifierTask::Rotation => "the feature network (which way is up)",
        ClassifierTask::Contrastive => "the feature network (contrastive views)",
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
    let arch = arch_from(args, model);
    if args.batch_norm && model != Model::Mlp {
        bail!("--batch-norm applies to --model mlp (the DCGAN generator always has BatchNorm)");
    }
    // The library's defaults, then the recipe, then what the flags say: each flag left out
    // keeps the value before it.
    let mut config = TrainConfig::new(arch, data);
    args.recipe
        .unwrap_or_else(|| Recipe::default_for(&config.model))
        .apply(&mut config);
    config.conditional = args.conditional;
    if let Some(lr) = args.lr {
        (config.lr_d, config.lr_g) = (lr, lr);
    }
    set(&mut config.lr_d, args.lr_d);
    set(&mut config.lr_g, args.lr_g);
    set(&mut config.epochs, args.epochs);
    // A length the user gives (in epochs or steps) replaces the default length entirely.
    if args.epochs.is_some() || args.max_steps.is_some() {
        config.max_steps = args.max_steps;
    }
    set(&mut config.batch_size, args.batch_size);
    set(&mut config.beta1, args.beta1);
    set(&mut config.seed, args.seed);
    set(&mut config.sample_every, args.sample_every);
    set(
        &mut config.checkpoint_every,
        args.eval_every.or(args.checkpoint_every),
    );
    set(&mut config.keep_checkpoints, args.keep_checkpoints);
    set(&mut config.g_steps, args.g_steps);
    set(&mut config.label_smoothing, args.label_smoothing);
    if let Some(setting) = args.spectral_norm {
        config.model = config
            .model
            .clone()
            .with_spectral_norm(setting)
            .map_err(|e| anyhow::anyhow!("--spectral-norm: {e}"))?;
    }
    set(&mut config.mode_seeking, args.mode_seeking);
    set(&mut config.instance_noise, args.instance_noise);
    set(&mut config.instance_noise_steps, args.instance_noise_steps);
    config.flip = args.flip;
    set(&mut config.augment, args.augment.clone());
    config.augment_p = args.augment_p.or(config.augment_p);
    config.ema_decay = args.ema_decay.or(config.ema_decay);
    set(&mut config.loss, args.loss);
    config.skip_bad = args.skip_bad;
    config.kernels = crate::args::kernels_from_env()?;
    Ok((config, out))
}

/// The architecture `--model` names, with the flags' hyper-parameters over its defaults.
fn arch_from(args: &TrainArgs, model: Model) -> ArchConfig {
    match model {
        Model::Toy2d => ArchConfig::Toy2d,
        Model::Mlp => {
            let mut mlp = Mlp::default();
            set(&mut mlp.nz, args.nz);
            mlp.batch_norm = args.batch_norm;
            ArchConfig::Mlp(mlp)
        }
        Model::Classifier | Model::Features => unreachable!("handled by run_classifier"),
        Model::Dcgan => {
            let mut dcgan = Dcgan::default();
            set(&mut dcgan.image_size, args.image_size);
            set(&mut dcgan.channels, args.channels);
            set(&mut dcgan.nz, args.nz);
            set(&mut dcgan.ngf, args.ngf);
            set(&mut dcgan.ndf, args.ndf);
            ArchConfig::Dcgan(dcgan)
        }
        Model::Fastgan => {
            let mut fastgan = FastGan::default();
            set(&mut fastgan.image_size, args.image_size);
            set(&mut fastgan.channels, args.channels);
            set(&mut fastgan.nz, args.nz);
            set(&mut fastgan.ngf, args.ngf);
            set(&mut fastgan.ndf, args.ndf);
            ArchConfig::FastGan(fastgan)
        }
    }
}

/// A setting the user gave replaces the value before it; one left out keeps it.
fn set<T>(field: &mut T, given: Option<T>) {
    if let Some(value) = given {
        *field = value;
    }
}
