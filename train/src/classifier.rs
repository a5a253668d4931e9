//! Supervised training of the classifier that `gan eval` scores samples with: cross-entropy,
//! Adam, a held-out validation split, and one checkpoint at the end (same run-folder layout as a
//! GAN run, with `classifier.safetensors` instead of the two GAN files).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{D, Device, Tensor};
use gan_contract::metadata;
use gan_models::ClassifierArch;
use gan_models::run_layout;
use gan_models::run_layout::{CLASSIFIER_FILE, CONFIG_FILE, METRICS_FILE, STATE_FILE};
use serde::{Deserialize, Serialize};

use crate::adam::Adam;
use crate::data::{self, DataSource, LabelledDataset};
use crate::error::{Result, TrainError};
use crate::events::{Event, Observer};
use crate::net::{Net, batch_tensor};
use crate::rng::{SeededRng, Stream};

/// A classifier run's `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// `config.json` format version (`gan_models::run_layout::CONFIG_FORMAT` when written).
    #[serde(default = "run_layout::unversioned_format")]
    pub format: u32,
    /// Its `classes` comes from the data.
    pub model: ClassifierArch,
    /// `mnist:DIR` or `shapes`.
    pub data: DataSource,
    pub seed: u64,
    pub batch_size: usize,
    pub epochs: u64,
    pub lr: f64,
    /// Fraction of the samples held out for validation.
    pub validation_fraction: f64,
    /// What the labels are.
    #[serde(default)]
    pub task: ClassifierTask,
}

/// What a classifier learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum ClassifierTask {
    /// The data's classes (MNIST labels, class folders, the shapes' disc/square).
    #[default]
    Classes,
    /// How far each image was turned ([`crate::data::rotation`]): a feature network for data
    /// without labels (`gan train --model features`).
    Rotation,
    /// Which of all the views of a batch is the other view of the same image
    /// ([`crate::contrastive`]): a feature network for data without labels
    /// (`gan train --model features --task contrastive`).
    Contrastive,
}

impl ClassifierConfig {
    /// Defaults for a classifier of `image_size` × `image_size` × `channels` on `data`.
    pub fn new(image_size: usize, channels: usize, data: impl Into<DataSource>) -> Self {
        ClassifierConfig {
            format: run_layout::CONFIG_FORMAT,
            model: ClassifierArch {
                image_size,
                channels,
                classes: 10,
            },
            data: data.into(),
            seed: 0,
            batch_size: 64,
            epochs: 10,
            lr: 1e-3,
            validation_fraction: 0.1,
            task: ClassifierTask::Classes,
        }
    }
}

/// What a finished classifier run reports.
#[derive(Debug, Clone)]
pub struct ClassifierSummary {
    pub train_samples: usize,
    pub validation_samples: usize,
    pub classes: usize,
    /// Accuracy on the held-out split after the last epoch.
    pub validation_accuracy: f64,
    pub train_loss: f64,
    pub seconds: f64,
    pub checkpoint: PathBuf,
}

/// Train a classifier into the new run folder `run_dir`, reporting to `observer`.
pub fn train_classifier(
    config: ClassifierConfig,
    run_dir: &Path,
    observer: &mut dyn Observer,
) -> Result<ClassifierSummary> {
    let (config, labelled) = prepare(config, run_dir)?;
    let (train, validation) = split(&labelled, config.validation_fraction, config.seed);
    if train.len() < config.batch_size || validation.is_empty() {
        return Err(TrainError::invalid(
            "batch_size",
            format!(
                "{} has {} samples: too few for batches of {} and a validation split",
                config.data,
                labelled.labels.len(),
                config.batch_size
            ),
        ));
    }
    std::fs::create_dir_all(run_dir).map_err(|e| TrainError::io(run_dir, e))?;
    let json = serde_json::to_vec_pretty(&config)
        .map_err(|e| TrainError::bad_file(run_dir, e.to_string()))?;
    crate::error::write_file(&run_dir.join(CONFIG_FILE), &json)?;

    let device = Device::Cpu;
    let mut init = SeededRng::new(config.seed, Stream::Init);
    let net = Net::init(config.model.network()?, &mut init, &device)?;
    let mut adam = Adam::new(&net, config.lr, 0.9, 0.999)?;
    let steps_per_epoch = train.len() / config.batch_size;
    observer.event(Event::Started {
        done: 0,
        total: config.epochs * steps_per_epoch as u64,
    });
    let metrics_path = run_dir.join(METRICS_FILE);
    let mut metrics = String::from("epoch,step,train_loss,validation_accuracy\n");
    let started = Instant::now();
    let (mut step, mut train_loss, mut accuracy) = (0u64, f64::NAN, 0.0);
    // The contrastive task's views (each epoch's draws follow the last's).
    let mut views_rng = SeededRng::new(config.seed, Stream::Training);
    for epoch in 0..config.epochs {
        let order = SeededRng::new(config.seed, Stream::Shuffle(epoch)).permutation(train.len());
        let mut loss_sum = 0.0;
        for chunk in order.chunks_exact(config.batch_size) {
            let indices: Vec<usize> = chunk.iter().map(|&k| train[k]).collect();
            let batch = Batch {
                labelled: &labelled,
                indices: &indices,
                task: config.task,
            };
            loss_sum += train_step(&net, &mut adam, &batch, step, &mut views_rng)?;
            step += 1;
            observer.event(Event::ClassifierStep { step });
        }
        train_loss = loss_sum / steps_per_epoch as f64;
        accuracy = evaluate(&net, &labelled, &validation, config.task, &device)?;
        observer.event(Event::ClassifierEpoch {
            epoch: epoch + 1,
            train_loss,
            validation_accuracy: accuracy,
        });
        metrics.push_str(&format!(
            "{},{step},{train_loss:.6},{accuracy:.6}\n",
            epoch + 1
        ));
        crate::error::write_file(&metrics_path, metrics.as_bytes())?;
    }
    let checkpoint = save(run_dir, &net, step, accuracy)?;
    observer.event(Event::CheckpointWritten {
        step,
        path: &checkpoint,
    });
    observer.event(Event::Finished);
    Ok(ClassifierSummary {
        train_samples: train.len(),
        validation_samples: validation.len(),
        classes: labelled.classes(),
        validation_accuracy: accuracy,
        train_loss,
        seconds: started.elapsed().as_secs_f64(),
        checkpoint,
    })
}

/// Check the configuration and load the labelled data; the returned configuration has the
/// data's class count.
fn prepare(
    mut config: ClassifierConfig,
    run_dir: &Path,
) -> Result<(ClassifierConfig, LabelledDataset)> {
    let ClassifierArch {
        image_size,
        channels,
        ..
    } = config.model;
    if !(0.0..1.0).contains(&config.validation_fraction) {
        return Err(TrainError::invalid(
            "validation_fraction",
            "must be in [0, 1)",
        ));
    }
    if config.batch_size == 0 {
        return Err(TrainError::invalid("batch_size", "must be at least 1"));
    }
    if run_dir.join(CONFIG_FILE).exists() {
        return Err(TrainError::RunExists {
            path: run_dir.to_path_buf(),
        });
    }
    let source = config.data.clone();
    let shape = vec![channels, image_size, image_size];
    let unlabelled = || {
        let options = data::LoadOptions {
            shape: shape.clone(),
            skip_bad: false,
            seed: config.seed,
        };
        data::load(&source, &options)
    };
    let labelled = match config.task {
        ClassifierTask::Classes => data::load_labelled(&source, &shape, config.seed, false)?,
        ClassifierTask::Rotation => {
            let (images, report) = unlabelled()?;
            data::rotation::rotation_task(&images, report)?
        }
        ClassifierTask::Contrastive => {
            let (images, report) = unlabelled()?;
            crate::contrastive::task(images, report)
        }
    };
    config.model.classes = labelled.classes();
    Ok((config, labelled))
}

/// The samples of one step and the task they are learnt for.
struct Batch<'a> {
    labelled: &'a LabelledDataset,
    indices: &'a [usize],
    task: ClassifierTask,
}

/// One step on a batch (cross-entropy on the labels, or NT-Xent on two views of each image);
/// returns the loss.
fn train_step(
    net: &Net,
    adam: &mut Adam,
    batch: &Batch,
    step: u64,
    rng: &mut SeededRng,
) -> Result<f64> {
    let (x, y) = samples(batch.labelled, batch.indices, &net.device())?;
    let loss = match batch.task {
        ClassifierTask::Contrastive => {
            crate::contrastive::loss(net, &crate::contrastive::two_views(&x, rng)?)?
        }
        ClassifierTask::Classes | ClassifierTask::Rotation => {
            candle_nn::loss::cross_entropy(&net.forward(&x, None, true)?, &y)?
        }
    };
    let value = f64::from(loss.to_scalar::<f32>()?);
    if !value.is_finite() {
        return Err(TrainError::NonFiniteLoss {
            step: step + 1,
            loss_d: value as f32,
            loss_g: f32::NAN,
            last_checkpoint: None,
        });
    }
    adam.step(net, &loss.backward()?)?;
    Ok(value)
}

/// Indices of the training and validation samples: a seeded shuffle, the last `fraction` held out.
fn split(data: &LabelledDataset, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n = data.labels.len();
    let mut order = SeededRng::new(seed, Stream::ValidationSplit).permutation(n);
    let held_out = ((n as f64 * fraction).round() as usize).min(n);
    let validation = order.split_off(n - held_out);
    (order, validation)
}

fn samples(data: &LabelledDataset, indices: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
    let values: Vec<f32> = indices
        .iter()
        .flat_map(|&k| data.data.sample(k).iter().copied())
        .collect();
    let x = batch_tensor(values, indices.len(), &data.data.shape, device)?;
    let labels: Vec<u32> = indices.iter().map(|&k| data.labels[k] as u32).collect();
    Ok((x, Tensor::from_vec(labels, indices.len(), device)?))
}

/// Fraction of `indices` whose arg-max logit (eval mode) is the label; for the contrastive
/// task, of their views whose nearest other view is their partner (in chunks of 250 images,
/// views drawn from a fixed seed).
fn evaluate(
    net: &Net,
    data: &LabelledDataset,
    indices: &[usize],
    task: ClassifierTask,
    device: &Device,
) -> Result<f64> {
    if task == ClassifierTask::Contrastive {
        let mut rng = SeededRng::new(0, Stream::ValidationSplit);
        let (mut hits, mut total) = (0.0, 0usize);
        for chunk in indices.chunks(250) {
            let (x, _) = samples(data, chunk, device)?;
            let views = crate::contrastive::two_views(&x, &mut rng)?;
            hits += crate::contrastive::retrieval_accuracy(net, &views)? * (2 * chunk.len()) as f64;
            total += 2 * chunk.len();
        }
        return Ok(hits / total.max(1) as f64);
    }
    let mut correct = 0usize;
    for chunk in indices.chunks(500) {
        let (x, y) = samples(data, chunk, device)?;
        let predicted = net.forward(&x, None, false)?.argmax(D::Minus1)?;
        correct += predicted
            .eq(&y)?
            .to_dtype(candle_core::DType::U32)?
            .sum_all()?
            .to_scalar::<u32>()? as usize;
    }
    Ok(correct as f64 / indices.len() as f64)
}

fn save(run_dir: &Path, net: &Net, step: u64, accuracy: f64) -> Result<PathBuf> {
    let metadata = HashMap::from([
        (
            metadata::ARCH.to_string(),
            metadata::role::CLASSIFIER.to_string(),
        ),
        (metadata::STEP.to_string(), step.to_string()),
        (
            metadata::VALIDATION_ACCURACY.to_string(),
            format!("{accuracy}"),
        ),
    ]);
    crate::checkpoint::write_folder(run_dir, step, |tmp_dir| {
        net.save(&tmp_dir.join(CLASSIFIER_FILE), metadata)?;
        let state = serde_json::json!({ "step": step, "validation_accuracy": accuracy });
        crate::error::write_file(&tmp_dir.join(STATE_FILE), state.to_string().as_bytes())
    })
}
