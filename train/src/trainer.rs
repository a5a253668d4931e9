//! The adversarial loop of the chapter: a discriminator step on a real and a (detached) fake
//! batch, then `g_steps` non-saturating generator steps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use gan_contract::metadata;
use gan_models::run_layout::{self, CONFIG_FILE, METRICS_FILE};

use crate::augment::augment;
use crate::checkpoint::{self, Checkpoint};
use crate::config::Loss;
use crate::config::TrainConfig;
use crate::data::{self, Dataset, LoadOptions};
use crate::device::TrainDevice;
use crate::error::{Result, TrainError};
use crate::events::{Event, Observer, Remedy, Warning};
use crate::kernels::Kernels;
use crate::kernels::profile::phase;
use crate::loss::{mean_probability, mode_seeking};
use crate::metrics::{MetricsLog, StepMetrics};
use crate::net::{Net, batch_tensor};
use crate::pictures;
use crate::rng::{SeededRng, Stream};

/// D(G(z)) under this for [`COLLAPSE_STRETCH`] steps in a row means the discriminator wins.
const COLLAPSE_PROBABILITY: f32 = 0.01;
const COLLAPSE_STRETCH: u32 = 100;
/// Samples in a grid (8×8); the toy GAN plots this many points instead.
const GRID_SAMPLES: usize = 64;
const GRID_COLUMNS: usize = 8;
/// A conditional run's grid shows this many classes at most, one per row.
const GRID_CLASS_ROWS: usize = 10;
const TOY_SAMPLES: usize = 1000;

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub steps_done: u64,
    pub total_steps: u64,
    pub seconds: f64,
    pub last: Option<StepMetrics>,
    pub checkpoint: Option<PathBuf>,
}

/// A training run bound to its run folder.
pub struct Trainer {
    pub config: TrainConfig,
    run_dir: PathBuf,
    data: Dataset,
    /// Each sample's class, for a conditional run.
    labels: Option<Vec<u8>>,
    steps_per_epoch: u64,
    ck: Checkpoint,
    rng: SeededRng,
    fixed_noise: Tensor,
    /// The class of each fixed-noise sample (a conditional run: one grid row per class).
    fixed_labels: Option<Tensor>,
    metrics: MetricsLog,
    epoch_order: (u64, Vec<usize>),
    device: Device,
    collapse_streak: u32,
    collapse_warned: bool,
    /// Warnings from loading the data, reported when the run starts.
    load_warnings: Vec<Warning>,
}

impl Trainer {
    /// Start a new run in `run_dir`. Everything is checked (configuration, data, networks)
    /// before the folder is touched. A folder that holds a run with a complete checkpoint is
    /// refused (resume it instead); one whose run never reached a checkpoint is reused, with a
    /// warning. Trains on the CPU; [`Self::create_on`] picks the device.
    pub fn create(config: TrainConfig, run_dir: &Path) -> Result<Self> {
        Self::create_on(config, run_dir, TrainDevice::Cpu)
    }

    /// [`Self::create`] on `device` (opened before the folder is touched).
    pub fn create_on(mut config: TrainConfig, run_dir: &Path, device: TrainDevice) -> Result<Self> {
        config.validate()?;
        let device = device.open()?;
        let reused = run_dir.join(CONFIG_FILE).exists();
        if reused
            && run_layout::latest_checkpoint(run_dir)
                .map_err(|e| TrainError::io(run_dir, e))?
                .is_some()
        {
            return Err(TrainError::RunExists {
                path: run_dir.to_path_buf(),
            });
        }
        let mut data = load_data(&config)?;
        adopt_classes(&mut config, &data)?;
        check_batch_fits(&config, &data.samples)?;
        if reused {
            data.warnings.push(Warning::ReusedRunFolder {
                path: run_dir.to_path_buf(),
            });
        }
        for dir in [run_dir.to_path_buf(), run_dir.join("samples")] {
            std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        }
        run_layout::remove_stale_temporaries(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        let mut init = SeededRng::new(config.seed, Stream::Init);
        let rng = SeededRng::new(config.seed, Stream::Training);
        let ck = Checkpoint::fresh(&config, &mut init, rng.position(), &device)?;
        save_config(&config, run_dir)?;
        let metrics = MetricsLog::create(&run_dir.join(METRICS_FILE), config.augment_p.is_some())?;
        Self::assemble(config, run_dir, data, ck, rng, metrics, device)
    }

    /// Continue the run in `run_dir` from its newest checkpoint. `max_steps` and `epochs`, when
    /// given, replace the saved ones (to train longer); everything else is as saved. Trains on
    /// the CPU; [`Self::resume_on`] picks the device.
    pub fn resume(run_dir: &Path, max_steps: Option<u64>, epochs: Option<u64>) -> Result<Self> {
        Self::resume_on(run_dir, max_steps, epochs, TrainDevice::Cpu)
    }

    /// [`Self::resume`] on `device`, which need not be the one the run started on.
    pub fn resume_on(
        run_dir: &Path,
        max_steps: Option<u64>,
        epochs: Option<u64>,
        device: TrainDevice,
    ) -> Result<Self> {
        let device = device.open()?;
        let mut config = read_config(run_dir)?;
        if max_steps.is_some() {
            config.max_steps = max_steps;
        }
        config.epochs = epochs.unwrap_or(config.epochs);
        config.validate()?;
        let (_, dir) = run_layout::latest_checkpoint(run_dir)
            .map_err(|e| TrainError::io(run_dir, e))?
            .ok_or_else(|| {
                TrainError::bad_file(
                    &run_dir.join("checkpoints"),
                    "no complete checkpoint to resume from",
                )
            })?;
        run_layout::remove_stale_temporaries(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
        let betas = (config.lr_d, config.lr_g, config.beta1, config.beta2);
        let ck = checkpoint::load(
            &dir,
            config.model.generator()?,
            config.model.discriminator()?,
            betas,
            config.ema_decay.is_some(),
            &device,
        )?;
        let mut rng = SeededRng::new(config.seed, Stream::Training);
        let position = ck.state.rng_position.parse::<u128>().map_err(|_| {
            TrainError::bad_file(
                &dir.join(run_layout::STATE_FILE),
                "rng_position is not a number",
            )
        })?;
        rng.seek(position);
        let data = load_data(&config)?;
        adopt_classes(&mut config, &data)?;
        check_batch_fits(&config, &data.samples)?;
        save_config(&config, run_dir)?;
        let metrics = MetricsLog::resume(
            &run_dir.join(METRICS_FILE),
            ck.state.step,
            config.augment_p.is_some(),
        )?;
        Self::assemble(config, run_dir, data, ck, rng, metrics, device)
    }

    fn assemble(
        config: TrainConfig,
        run_dir: &Path,
        data: LoadedData,
        mut ck: Checkpoint,
        rng: SeededRng,
        metrics: MetricsLog,
        device: Device,
    ) -> Result<Self> {
        let kernels = Kernels::choose(config.kernels, &device)?;
        ck.generator.kernels = kernels;
        ck.discriminator.kernels = kernels;
        if let Some(ema) = &mut ck.generator_ema {
            ema.kernels = kernels;
        }
        let steps_per_epoch = (data.samples.len() / config.batch_size) as u64;
        let nz = config.model.latent_dim();
        let mut noise = SeededRng::new(config.seed, Stream::FixedNoise);
        let classes = config.model.classes().len();
        let (fixed_noise, fixed_labels) = if classes > 0 {
            // One row per class (up to ten), each row the same GRID_COLUMNS latents: a column
            // shows one latent through the classes.
            let rows = classes.min(GRID_CLASS_ROWS);
            let row = noise.normal(GRID_COLUMNS * nz, 0.0, 1.0);
            let latents = row.repeat(rows);
            let labels = (0..rows as u32)
                .flat_map(|class| [class; GRID_COLUMNS])
                .collect::<Vec<_>>();
            (
                batch_tensor(latents, rows * GRID_COLUMNS, &[nz], &device)?,
                Some(Tensor::from_vec(labels, rows * GRID_COLUMNS, &device)?),
            )
        } else {
            let samples = if config.model.is_image() {
                GRID_SAMPLES
            } else {
                TOY_SAMPLES
            };
            let latents = noise.normal(samples * nz, 0.0, 1.0);
            (batch_tensor(latents, samples, &[nz], &device)?, None)
        };
        Ok(Trainer {
            config,
            run_dir: run_dir.to_path_buf(),
            data: data.samples,
            labels: data.labels,
            steps_per_epoch,
            ck,
            rng,
            fixed_noise,
            fixed_labels,
            metrics,
            epoch_order: (u64::MAX, Vec::new()),
            device,
            collapse_streak: 0,
            collapse_warned: false,
            load_warnings: data.warnings,
        })
    }

    /// Iterations the configuration asks for in all (epochs, capped by `max_steps`).
    pub fn total_steps(&self) -> u64 {
        let by_epochs = self.config.epochs * self.steps_per_epoch;
        self.config
            .max_steps
            .map_or(by_epochs, |m| m.min(by_epochs))
    }

    pub fn step(&self) -> u64 {
        self.ck.state.step
    }

    pub fn generator(&self) -> &Net {
        &self.ck.generator
    }

    pub fn discriminator(&self) -> &Net {
        &self.ck.discriminator
    }

    /// Run both networks on `kernels` (the default is the fast kernels on the CPU).
    pub fn set_kernels(&mut self, kernels: crate::kernels::Kernels) {
        self.ck.generator.kernels = kernels;
        self.ck.discriminator.kernels = kernels;
    }

    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// The run folder.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// Train until [`Self::total_steps`], reporting to `observer` as it goes.
    pub fn run(&mut self, observer: &mut dyn Observer) -> Result<Summary> {
        let total = self.total_steps();
        let start = self.step();
        let started = Instant::now();
        for warning in std::mem::take(&mut self.load_warnings) {
            observer.event(Event::Warning(warning));
        }
        observer.event(Event::Started { done: start, total });
        if start == 0 {
            self.save_samples(observer)?;
        }
        let mut last_checkpoint = run_layout::latest_checkpoint(&self.run_dir)
            .ok()
            .flatten()
            .map(|(_, p)| p);
        while self.step() < total {
            let row = self
                .train_step()
                .map_err(|e| e.with_last_checkpoint(last_checkpoint.as_deref()))?;
            self.metrics.append(row)?;
            observer.event(Event::Step(&row));
            if let Some(warning) = self.watch_for_collapse(row.d_fake_after) {
                observer.event(Event::Warning(warning));
            }
            let step = self.step();
            if step.is_multiple_of(self.config.sample_every) || step == total {
                self.save_samples(observer)?;
            }
            if step.is_multiple_of(self.config.checkpoint_every) || step == total {
                let dir = self.save_checkpoint()?;
                observer.event(Event::CheckpointWritten { step, path: &dir });
                last_checkpoint = Some(dir);
            }
        }
        observer.event(Event::Finished);
        Ok(Summary {
            steps_done: self.step() - start,
            total_steps: total,
            seconds: started.elapsed().as_secs_f64(),
            last: self.metrics.rows.last().copied(),
            checkpoint: last_checkpoint,
        })
    }

    /// One iteration: the discriminator step, then the generator step(s).
    pub fn train_step(&mut self) -> Result<StepMetrics> {
        let i = self.step();
        let epoch = i / self.steps_per_epoch;
        let batch = self.config.batch_size;
        let nz = self.config.model.latent_dim();
        let (real, real_labels) = self.real_batch(epoch, (i % self.steps_per_epoch) as usize)?;
        let fake_labels = self.fake_labels(i)?;
        let (real_labels, fake_labels) = (real_labels.as_ref(), fake_labels.as_ref());
        let sigma = self.config.instance_noise_at(i, self.total_steps());
        let z = latent_batch(&mut self.rng, batch, nz, &self.device)?;
        let (g, d) = (&self.ck.generator, &self.ck.discriminator);
        // Spectral normalisation's power iteration, once per step (no-ops without it).
        g.power_iteration()?;
        d.power_iteration()?;
        let device = &self.device;
        let mut fake = phase(device, "G forward", || g.forward(&z, fake_labels, true))?;
        let mut z_of_fake = z;

        let policy = &self.config.augment;
        let p = self.augment_p();
        let real = augment(&real, policy, p, &mut self.rng)?;
        let real = add_noise(&mut self.rng, &real, sigma)?;
        let rng = &mut self.rng;
        let (d_real, reconstruction) = phase(device, "D forward", || {
            crate::reconstruction::real_pass(d, &real, real_labels, rng)
        })?;
        let detached = augment(&fake.detach(), policy, p, &mut self.rng)?;
        let detached = add_noise(&mut self.rng, &detached, sigma)?;
        let d_fake = phase(device, "D forward", || {
            d.forward(&detached, fake_labels, true)
        })?;
        let mut loss_d =
            self.config
                .loss
                .discriminator(&d_real, &d_fake, self.config.label_smoothing)?;
        if let Some(term) = reconstruction {
            loss_d = (loss_d + term)?;
        }
        let loss_d_value = loss_d.to_scalar::<f32>()?;
        if !loss_d_value.is_finite() {
            return Err(diverged(i + 1, loss_d_value, f32::NAN));
        }
        let grads = phase(device, "backward", || loss_d.backward())?;
        self.ck.opt_d.step(d, &grads)?;

        let (mut loss_g_value, mut d_fake_after) = (0.0, 0.0);
        for k in 0..self.config.g_steps {
            if k > 0 {
                z_of_fake = latent_batch(&mut self.rng, batch, nz, &self.device)?;
                fake = phase(device, "G forward", || {
                    g.forward(&z_of_fake, fake_labels, true)
                })?;
            }
            let seen = augment(&fake, policy, p, &mut self.rng)?;
            let noisy = add_noise(&mut self.rng, &seen, sigma)?;
            let logits = phase(device, "D forward", || {
                d.forward_frozen(&noisy, fake_labels, true)
            })?;
            let mut loss_g = self.config.loss.generator(&logits)?;
            if self.config.mode_seeking > 0.0 {
                let term = mode_seeking(&fake.flatten_from(1)?, &z_of_fake)?;
                loss_g = (loss_g + (term * self.config.mode_seeking)?)?;
            }
            loss_g_value = loss_g.to_scalar::<f32>()?;
            if !loss_g_value.is_finite() {
                return Err(diverged(i + 1, loss_d_value, loss_g_value));
            }
            let grads = phase(device, "backward", || loss_g.backward())?;
            self.ck.opt_g.step(g, &grads)?;
            if let (Some(ema), Some(decay)) = (&self.ck.generator_ema, self.config.ema_decay) {
                let decay = crate::ema::warmed_decay(decay, self.ck.opt_g.steps);
                crate::ema::update(ema, g, decay)?;
            }
            d_fake_after = mean_probability(&logits)?;
        }
        let state = &mut self.ck.state;
        if let Some(p) = &mut state.augment_p {
            *p = crate::augment::adapt(*p, mean_sign(&d_real)?, batch);
        }
        state.step = i + 1;
        state.epoch = (i + 1) / self.steps_per_epoch;
        state.rng_position = self.rng.position().to_string();
        state.adam_steps_g = self.ck.opt_g.steps;
        state.adam_steps_d = self.ck.opt_d.steps;
        Ok(StepMetrics {
            step: i + 1,
            epoch,
            loss_d: loss_d_value,
            loss_g: loss_g_value,
            d_real: mean_probability(&d_real)?,
            d_fake_before: mean_probability(&d_fake)?,
            d_fake_after,
            augment_p: self.config.augment_p.map(|_| p as f32),
        })
    }

    /// The probability each augmentation applies with at this step.
    fn augment_p(&self) -> f64 {
        self.ck
            .state
            .augment_p
            .unwrap_or_else(|| self.config.initial_augment_p())
    }

    /// A conditional run's classes for step `step`'s generated batch: balanced (each class
    /// `batch / classes` times, the remainder rotating with the step), and the second half of
    /// the batch of the same classes as the first (what the mode-seeking term compares).
    fn fake_labels(&self, step: u64) -> Result<Option<Tensor>> {
        let classes = self.config.model.classes().len() as u64;
        if classes == 0 {
            return Ok(None);
        }
        let batch = self.config.batch_size as u64;
        let half = (batch / 2).max(1);
        let labels: Vec<u32> = (0..batch)
            .map(|j| ((step * half + j % half) % classes) as u32)
            .collect();
        Ok(Some(Tensor::from_vec(
            labels,
            batch as usize,
            &self.device,
        )?))
    }

    /// Batch `index` of `epoch`'s shuffled order, with random flips if enabled, and the
    /// samples' classes in a conditional run.
    fn real_batch(&mut self, epoch: u64, index: usize) -> Result<(Tensor, Option<Tensor>)> {
        if self.epoch_order.0 != epoch {
            let order = SeededRng::new(self.config.seed, Stream::Shuffle(epoch))
                .permutation(self.data.len());
            self.epoch_order = (epoch, order);
        }
        let batch = self.config.batch_size;
        let flip = self.config.flip && self.config.model.is_image();
        let mut values = Vec::with_capacity(batch * self.data.sample_size());
        let picked = &self.epoch_order.1[index * batch..(index + 1) * batch];
        let labels = match &self.labels {
            Some(all) => {
                let labels: Vec<u32> = picked.iter().map(|&k| u32::from(all[k])).collect();
                Some(Tensor::from_vec(labels, batch, &self.device)?)
            }
            None => None,
        };
        for &k in picked {
            let sample = self.data.sample(k);
            if flip && self.rng.coin() {
                let width = self.data.shape[2];
                values.extend(sample.chunks_exact(width).flat_map(|row| row.iter().rev()));
            } else {
                values.extend_from_slice(sample);
            }
        }
        let samples = batch_tensor(values, batch, &self.data.shape, &self.device)?;
        Ok((samples, labels))
    }

    /// A warning the first time D(G(z)) has stayed low for [`COLLAPSE_STRETCH`] steps.
    fn watch_for_collapse(&mut self, d_fake: f32) -> Option<Warning> {
        self.collapse_streak = if d_fake < COLLAPSE_PROBABILITY {
            self.collapse_streak + 1
        } else {
            0
        };
        if self.collapse_streak < COLLAPSE_STRETCH || self.collapse_warned {
            return None;
        }
        self.collapse_warned = true;
        let c = &self.config;
        // Suggest only the remedies this run does not use yet.
        let remedies = [
            (
                c.label_smoothing == 0.0 && c.loss == Loss::Bce,
                Remedy::Set {
                    field: "label_smoothing",
                    value: 0.1,
                },
            ),
            (
                c.instance_noise == 0.0,
                Remedy::Set {
                    field: "instance_noise",
                    value: 0.1,
                },
            ),
            (
                c.g_steps == 1,
                Remedy::Set {
                    field: "g_steps",
                    value: 2.0,
                },
            ),
            (c.lr_d >= c.lr_g, Remedy::LowerDiscriminatorRate),
        ]
        .into_iter()
        .filter_map(|(unused, remedy)| unused.then_some(remedy))
        .collect();
        Some(Warning::DiscriminatorWins {
            step: self.step(),
            probability: COLLAPSE_PROBABILITY,
            steps: COLLAPSE_STRETCH,
            remedies,
        })
    }

    /// The fixed-noise samples (a grid, or for points a scatter against the real data) and the
    /// loss curves so far.
    pub fn save_samples(&self, observer: &mut dyn Observer) -> Result<()> {
        let step = self.step();
        let path = self
            .run_dir
            .join("samples")
            .join(format!("step_{step:06}.png"));
        // The EMA generator is what gets exported, so it is what the grids show.
        let generator = self.ck.generator_ema.as_ref().unwrap_or(&self.ck.generator);
        let fake = generator
            .forward(&self.fixed_noise, self.fixed_labels.as_ref(), false)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        if self.config.model.is_image() {
            pictures::save_grid(&path, &fake, &self.data.shape, GRID_COLUMNS)?;
        } else {
            let title = format!("real vs generated, step {step}");
            pictures::plot_scatter(&path, &title, self.data.values(), &fake)?;
            pictures::plot_scatter(
                &self.run_dir.join("scatter.png"),
                &title,
                self.data.values(),
                &fake,
            )?;
        }
        observer.event(Event::SamplesWritten { step, path: &path });
        let rows = &self.metrics.rows;
        if rows.is_empty() {
            return Ok(());
        }
        let steps: Vec<u64> = rows.iter().map(|r| r.step).collect();
        let series = [
            ("loss_d", rows.iter().map(|r| r.loss_d).collect()),
            ("loss_g", rows.iter().map(|r| r.loss_g).collect()),
            ("D(x)", rows.iter().map(|r| r.d_real).collect()),
            ("D(G(z))", rows.iter().map(|r| r.d_fake_after).collect()),
        ];
        let p: Vec<f32> = rows.iter().filter_map(|r| r.augment_p).collect();
        let series: Vec<(&str, Vec<f32>)> = if p.len() == rows.len() {
            series.into_iter().chain([("augment p", p)]).collect()
        } else {
            series.into()
        };
        pictures::plot_losses(&self.run_dir.join("losses.png"), &steps, &series)
    }

    fn save_checkpoint(&self) -> Result<PathBuf> {
        let metadata = HashMap::from([
            (
                metadata::ARCH.to_string(),
                self.config.model.name().to_string(),
            ),
            (metadata::STEP.to_string(), self.step().to_string()),
        ]);
        let dir = checkpoint::save(&self.run_dir, &self.ck, &metadata)?;
        checkpoint::prune(&self.run_dir, self.config.keep_checkpoints)?;
        Ok(dir)
    }
}

fn diverged(step: u64, loss_d: f32, loss_g: f32) -> TrainError {
    TrainError::NonFiniteLoss {
        step,
        loss_d,
        loss_g,
        last_checkpoint: None,
    }
}

/// The mean sign of D's logits (ADA's r_t: +1 when D calls every image real).
fn mean_sign(logits: &Tensor) -> Result<f64> {
    let signs: Vec<f32> = logits.flatten_all()?.to_vec1()?;
    let sum: f64 = signs
        .iter()
        .map(|&v| f64::from(v.signum() * f32::from(v != 0.0)))
        .sum();
    Ok(sum / signs.len().max(1) as f64)
}

/// `batch` standard-normal latents of size `nz`.
fn latent_batch(rng: &mut SeededRng, batch: usize, nz: usize, device: &Device) -> Result<Tensor> {
    batch_tensor(rng.normal(batch * nz, 0.0, 1.0), batch, &[nz], device)
}

fn add_noise(rng: &mut SeededRng, x: &Tensor, sigma: f64) -> Result<Tensor> {
    if sigma <= 0.0 {
        return Ok(x.clone());
    }
    let noise = Tensor::from_vec(rng.normal(x.elem_count(), 0.0, sigma), x.dims(), x.device())?;
    Ok((x + noise)?)
}

/// A batch needs at least as many samples.
fn check_batch_fits(config: &TrainConfig, data: &Dataset) -> Result<()> {
    if data.len() < config.batch_size {
        return Err(TrainError::invalid(
            "batch_size",
            format!(
                "{} is larger than the {} samples of {}",
                config.batch_size,
                data.len(),
                config.data
            ),
        ));
    }
    Ok(())
}

/// A run's data as loaded: the samples, for a conditional run their classes, and warnings.
struct LoadedData {
    samples: Dataset,
    /// Each sample's class and the classes' names (a conditional run).
    labels: Option<Vec<u8>>,
    class_names: Vec<String>,
    warnings: Vec<Warning>,
}

/// The run's data (with labels for a conditional run), and a warning naming the files that
/// `skip_bad` skipped.
fn load_data(config: &TrainConfig) -> Result<LoadedData> {
    let source = config.data.clone();
    let shape = config.model.sample_shape();
    let (samples, labels, class_names, report) = if config.conditional {
        let labelled = data::load_labelled(&source, &shape, config.seed, config.skip_bad)?;
        (
            labelled.data,
            Some(labelled.labels),
            labelled.class_names,
            labelled.report,
        )
    } else {
        let options = LoadOptions {
            shape,
            skip_bad: config.skip_bad,
            seed: config.seed,
        };
        let (samples, report) = data::load(&source, &options)?;
        (samples, None, Vec::new(), report)
    };
    let mut warnings = Vec::new();
    if !report.skipped.is_empty() {
        warnings.push(Warning::SkippedFiles {
            source: source.to_string(),
            files: report.skipped,
        });
    }
    if report.opaque {
        warnings.push(Warning::NoTransparency {
            source: source.to_string(),
        });
    }
    Ok(LoadedData {
        samples,
        labels,
        class_names,
        warnings,
    })
}

/// A conditional run takes its classes from its data when it starts; later (a resumed run)
/// the data must still have the same classes.
fn adopt_classes(config: &mut TrainConfig, data: &LoadedData) -> Result<()> {
    if !config.conditional {
        return Ok(());
    }
    if config.model.classes().is_empty() {
        config.model = config
            .model
            .clone()
            .with_classes(data.class_names.clone())?;
        return Ok(());
    }
    if config.model.classes() != data.class_names {
        return Err(TrainError::invalid(
            "data",
            format!(
                "{} has the classes {:?}, but the run was trained on {:?}",
                config.data,
                data.class_names,
                config.model.classes()
            ),
        ));
    }
    Ok(())
}

fn save_config(config: &TrainConfig, run_dir: &Path) -> Result<()> {
    let path = run_dir.join(CONFIG_FILE);
    let json = serde_json::to_vec_pretty(config)
        .map_err(|e| TrainError::bad_file(&path, format!("cannot encode: {e}")))?;
    crate::error::write_file(&path, &json)
}

/// The configuration saved in `run_dir/config.json` (refused when a newer version wrote it).
pub fn read_config(run_dir: &Path) -> Result<TrainConfig> {
    Ok(run_layout::read_config(run_dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--instance-noise σ` without `--instance-noise-steps` anneals over the whole run: the
    /// discriminator's inputs get noise of standard deviation σ at step 0 and σ/2 half way
    /// (it used to be 0 at every step).
    #[test]
    fn instance_noise_without_a_length_lasts_the_whole_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TrainConfig::new(gan_models::ArchConfig::Toy2d, "toy2d");
        config.instance_noise = 0.5;
        let trainer = Trainer::create(config, dir.path()).unwrap();
        let total = trainer.total_steps();
        let sigma = |step| trainer.config.instance_noise_at(step, total);
        assert!((sigma(0) - 0.5).abs() < 1e-12);
        assert!((sigma(total / 2) - 0.25).abs() < 1e-3);
        assert!(sigma(total).abs() < 1e-12);
        // What train_step does to D's inputs with that σ.
        let zeros = Tensor::zeros((20_000, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut rng = SeededRng::new(1, Stream::Training);
        let noisy: Vec<f32> = add_noise(&mut rng, &zeros, sigma(0))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let mean_square = noisy.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        let std = (mean_square / noisy.len() as f64).sqrt();
        assert!((std - 0.5).abs() < 0.01, "noise std {std}");
    }
}
