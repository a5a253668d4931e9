//! How the binaries show what the libraries report: training events as a progress bar and
//! messages, and library errors that name configuration fields reworded with the flags a
//! person typed.

use gan_train::{Event, Observer, Remedy, TrainError, Warning};
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar for a loop of `total` steps (hidden unless `visible`).
pub fn progress_bar(visible: bool, total: u64) -> ProgressBar {
    let bar = if visible {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} ETA {eta} {msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Renders training events on the terminal: a bar with the latest losses, warnings above it.
pub struct TrainingReport {
    bar: ProgressBar,
    visible: bool,
}

impl TrainingReport {
    pub fn new(visible: bool) -> Self {
        TrainingReport {
            bar: ProgressBar::hidden(),
            visible,
        }
    }

    /// A line for the person watching, printed above the progress bar.
    pub fn say(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Observer for TrainingReport {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Started { done, total } => {
                self.bar = progress_bar(self.visible, total);
                self.bar.set_position(done);
            }
            Event::Step(m) => {
                self.bar.set_message(format!(
                    "loss_d {:.3} loss_g {:.3} D(x) {:.2} D(G(z)) {:.2}",
                    m.loss_d, m.loss_g, m.d_real, m.d_fake_after
                ));
                self.bar.set_position(m.step);
            }
            Event::ClassifierStep { step } => self.bar.set_position(step),
            Event::ClassifierEpoch {
                epoch,
                train_loss,
                validation_accuracy,
            } => self.bar.set_message(format!(
                "epoch {epoch} loss {train_loss:.4} validation accuracy {:.2}%",
                100.0 * validation_accuracy
            )),
            Event::Warning(warning) => {
                let text = warning_text(&warning);
                self.bar.suspend(|| eprintln!("warning: {text}"));
            }
            Event::Finished => self.bar.finish(),
            Event::SamplesWritten { .. } | Event::CheckpointWritten { .. } => {}
        }
    }
}

/// The command-line flag that sets a configuration field.
pub fn flag(field: &str) -> String {
    match field {
        "validation_fraction" => "--validation".into(),
        "model" => "--model".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

/// A warning in the flags' words.
pub fn warning_text(warning: &Warning) -> String {
    match warning {
        Warning::DiscriminatorWins {
            step,
            probability,
            steps,
            remedies,
        } => {
            let advice = if remedies.is_empty() {
                "Stronger settings of the remedies in use may help.".to_string()
            } else {
                let list: Vec<String> = remedies
                    .iter()
                    .map(|remedy| match remedy {
                        Remedy::Set { field, value } => format!("{} {value}", flag(field)),
                        Remedy::LowerDiscriminatorRate => {
                            format!("a lower {} than {}", flag("lr_d"), flag("lr_g"))
                        }
                    })
                    .collect();
                format!("Try {}.", list.join(", "))
            };
            format!(
                "D(G(z)) has stayed under {probability} for {steps} steps (now step {step}): the discriminator overpowers the generator. {advice}"
            )
        }
        Warning::ReusedRunFolder { path } => format!(
            "{} held a run without a checkpoint; starting it over",
            path.display()
        ),
        Warning::SkippedFiles { source, files } => {
            let mut text = format!("skipped {} file(s) in {source}:", files.len());
            for (path, reason) in files.iter().take(10) {
                text.push_str(&format!("\n  {}: {reason}", path.display()));
            }
            text
        }
        Warning::NoTransparency { source } => format!(
            "{source} has no transparent pixels: --channels 4 trains on opaque sprites (alpha 1); \
             `gan data sprites --keep-alpha` keeps the npm sprites' transparency"
        ),
    }
}

/// A training error in the flags' words.
pub fn train_error(error: TrainError) -> anyhow::Error {
    match error {
        TrainError::InvalidConfig { field, reason } => {
            anyhow::anyhow!("{}: {reason}", flag(field))
        }
        TrainError::UnreadableImage { path, reason } => anyhow::anyhow!(
            "{}: {reason} (use {} to skip it)",
            path.display(),
            flag("skip_bad")
        ),
        TrainError::RunExists { path } => anyhow::anyhow!(
            "{}: already holds a run (config.json); continue it with --resume or choose another --out",
            path.display()
        ),
        TrainError::DeviceUnavailable { device, reason } if !gan_train::device::CUDA_BUILT => {
            anyhow::anyhow!(
                "--device {device}: {reason}; build gan with CUDA: `bash bench/gpu/cuda_toolchain.sh`, \
                 then `cargo build --release --features cuda` (README: Training on a GPU)"
            )
        }
        TrainError::DeviceUnavailable { device, reason } => {
            anyhow::anyhow!("--device {device}: {reason}")
        }
        other => other.into(),
    }
}

/// An export error in the flags' words.
pub fn export_error(error: gan_export::ExportError) -> anyhow::Error {
    match error {
        gan_export::ExportError::InvalidOption { field, reason } => {
            anyhow::anyhow!("{}: {reason}", flag(field))
        }
        other => other.into(),
    }
}

/// A runtime error in the flags' words (a foreign model's missing metadata names the flag that
/// supplies it).
pub fn runtime_error(error: gan_runtime::RuntimeError) -> anyhow::Error {
    match error {
        gan_runtime::RuntimeError::MissingOption { path, what, option } => {
            let hint = if option == "image_shape" {
                " C,H,W"
            } else {
                ""
            };
            anyhow::anyhow!(
                "{}: {what} is not in the model's metadata; pass {}{hint}",
                path.display(),
                flag(option)
            )
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_to_the_flags_that_set_them() {
        assert_eq!(flag("batch_size"), "--batch-size");
        assert_eq!(flag("lr_d"), "--lr-d");
        assert_eq!(flag("validation_fraction"), "--validation");
    }

    #[test]
    fn the_collapse_warning_names_flags() {
        let text = warning_text(&Warning::DiscriminatorWins {
            step: 300,
            probability: 0.01,
            steps: 100,
            remedies: vec![
                Remedy::Set {
                    field: "label_smoothing",
                    value: 0.1,
                },
                Remedy::LowerDiscriminatorRate,
            ],
        });
        assert!(
            text.contains("--label-smoothing 0.1") && text.contains("a lower --lr-d than --lr-g"),
            "{text}"
        );
    }

    #[test]
    fn missing_metadata_names_the_flag_that_supplies_it() {
        let e = runtime_error(gan_runtime::RuntimeError::MissingOption {
            path: "g.onnx".into(),
            what: "the image shape",
            option: "image_shape",
        });
        assert!(e.to_string().contains("pass --image-shape C,H,W"), "{e}");
    }

    #[test]
    fn invalid_values_are_reported_by_flag() {
        let e = train_error(TrainError::invalid("g_steps", "must be at least 1"));
        assert_eq!(e.to_string(), "--g-steps: must be at least 1");
    }
}
