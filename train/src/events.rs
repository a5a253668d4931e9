//! What training reports while it runs. The library never prints: it hands [`Event`]s to an
//! [`Observer`] the caller supplies, as ripgrep's searcher hands matches to a sink; the `gan`
//! binary renders them as a progress bar and messages, a test can collect them.

use std::path::{Path, PathBuf};

use crate::metrics::StepMetrics;

/// One thing that happened during a run.
#[derive(Debug)]
pub enum Event<'a> {
    /// The loop begins (or resumes) at `done` of `total` steps.
    Started { done: u64, total: u64 },
    /// A GAN iteration finished.
    Step(&'a StepMetrics),
    /// A classifier iteration finished (`step` is 1-based).
    ClassifierStep { step: u64 },
    /// A classifier epoch finished, with its mean training loss and held-out accuracy.
    ClassifierEpoch {
        epoch: u64,
        train_loss: f64,
        validation_accuracy: f64,
    },
    /// A sample grid (or scatter plot) was written.
    SamplesWritten { step: u64, path: &'a Path },
    /// A checkpoint folder was written.
    CheckpointWritten { step: u64, path: &'a Path },
    /// Something the person running it should know; training goes on.
    Warning(Warning),
    /// The loop ended normally.
    Finished,
}

/// Warnings, with what the caller needs to word them (configuration fields, not flags).
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// D(G(z)) stayed under `probability` for `steps` steps: the discriminator overpowers the
    /// generator. `remedies` are the ones this run does not use yet.
    DiscriminatorWins {
        step: u64,
        probability: f32,
        steps: u32,
        remedies: Vec<Remedy>,
    },
    /// The run folder held a run that never reached a checkpoint; it is started over.
    ReusedRunFolder { path: PathBuf },
    /// Files skipped while loading, each with its reason: unreadable images (`skip_bad`) and
    /// links to folders (never followed).
    SkippedFiles {
        source: String,
        files: Vec<(PathBuf, String)>,
    },
    /// A 4-channel (RGBA) run on data without transparency: it trains on opaque images
    /// (every alpha 1).
    NoTransparency { source: String },
}

/// A change to the configuration that counters a discriminator that wins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Remedy {
    /// Set this field (of [`crate::TrainConfig`]) to this value.
    Set { field: &'static str, value: f64 },
    /// Make `lr_d` lower than `lr_g`.
    LowerDiscriminatorRate,
}

/// Receives a run's events.
pub trait Observer {
    fn event(&mut self, event: Event<'_>);
}

/// Ignores everything (for tests and programs that only want the result).
impl Observer for () {
    fn event(&mut self, _: Event<'_>) {}
}

/// Collects owned descriptions of the events, for tests.
impl Observer for Vec<String> {
    fn event(&mut self, event: Event<'_>) {
        self.push(format!("{event:?}"));
    }
}
