//! Scores while training (`gan train --classifier C.onnx [--eval-every N]`): at each checkpoint
//! the generator (its EMA weights when the run keeps them) is exported to ONNX, sampled from
//! fixed seeds and scored with gan-eval — Inception Score and FID against real images — the
//! row appended to `scores.csv`, the curves drawn in `scores.png`, and the checkpoint with the
//! best FID so far copied to `checkpoints/best/` (`gan export --checkpoint best`). The CLI does
//! this because it is the one crate that sees training, export and scoring together.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use gan_eval::{Reference, Request, Scorer, ScorerOptions, pictures};
use gan_export::{ExportOptions, Which};
use gan_runtime::{Generator, LoadOptions};
use gan_train::TrainConfig;
use gan_train::config::Recipe;

/// The file of scores in a run folder, and its plot.
pub const SCORES_CSV: &str = "scores.csv";
pub const SCORES_PNG: &str = "scores.png";
/// Where the best checkpoint by FID is kept (not a `step_` folder, so never pruned or resumed).
pub const BEST: &str = "best";
/// Splits of the Inception Score, as `gan eval is` uses by default.
const SPLITS: usize = 10;
/// Scores without a new best FID before the run is said to have stalled.
const STALL: usize = 5;

/// One row of `scores.csv`.
#[derive(Debug, Clone, Copy)]
pub struct Score {
    pub step: u64,
    pub inception: f64,
    pub inception_std: f64,
    pub fid: f64,
}

/// What scoring one checkpoint found, for the person watching.
pub struct Outcome {
    pub score: Score,
    pub new_best: bool,
    /// Set when FID has not improved for several scores in a row.
    pub stalled: Option<String>,
}

pub struct TrainingScores {
    run_dir: PathBuf,
    scorer: Scorer,
    real: Reference,
    samples: usize,
    history: Vec<Score>,
    /// What the stall warning suggests: only what the run does not use yet.
    remedies: String,
}

impl TrainingScores {
    /// Load the classifier and the real images' feature statistics once; `samples` generated
    /// images are scored at each checkpoint of the run given to [`Self::for_run`].
    pub fn new(classifier_path: &Path, real: &str, samples: usize) -> Result<Self> {
        let scorer = Scorer::open(classifier_path, &ScorerOptions::default())
            .map_err(crate::eval::as_flags)?;
        if scorer.features_output().is_none() {
            bail!(
                "--classifier {}: the model does not say which output holds its features (FID \
                 needs them); use a classifier exported by gan export",
                classifier_path.display()
            );
        }
        let real_pictures = pictures::from_source(real)
            .with_context(|| format!("--eval-real {real}: cannot load the real images"))?;
        let real = scorer
            .reference(&real_pictures, &mut |_| {})
            .context("cannot summarise the real images' features")?;
        Ok(TrainingScores {
            run_dir: PathBuf::new(),
            scorer,
            real,
            samples,
            history: Vec::new(),
            remedies: String::new(),
        })
    }

    /// Score the checkpoints of the run in `run_dir` trained with `config`, after the scores it
    /// already has (a resumed run keeps its history and its best).
    pub fn for_run(mut self, run_dir: &Path, config: &TrainConfig) -> Result<Self> {
        self.history = read_scores(&run_dir.join(SCORES_CSV))?;
        self.run_dir = run_dir.to_path_buf();
        self.remedies = remedies(config);
        Ok(self)
    }

    /// Score the checkpoint of `step` in `checkpoint`.
    pub fn score(&mut self, step: u64, checkpoint: &Path) -> Result<Outcome> {
        let scratch = self.run_dir.join(".scoring");
        let model = export_generator(&self.run_dir, checkpoint, &scratch)?;
        let generator = Generator::load(&model, &LoadOptions::default())?;
        let samples = pictures::from_generator(&generator, self.samples, 0, 64, &mut |_| {})?;
        let request = Request {
            inception_splits: Some(SPLITS),
            fid: Some(&self.real),
            ..Request::default()
        };
        let scores = self
            .scorer
            .score(&samples, &request, &mut |_| {})
            .map_err(crate::eval::as_flags)?;
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("cannot remove {}", scratch.display()))?;
        let (Some(inception), Some(fid)) = (scores.inception, scores.fid) else {
            bail!("the scorer returned no Inception Score or FID");
        };
        let fid = fid.value;
        let score = Score {
            step,
            inception: inception.mean,
            inception_std: inception.std,
            fid,
        };
        let best_before = self
            .history
            .iter()
            .map(|s| s.fid)
            .fold(f64::INFINITY, f64::min);
        self.history.push(score);
        let new_best = fid < best_before;
        if new_best {
            keep_as_best(&self.run_dir, checkpoint)?;
        }
        // Said once per stretch without a new best, when it reaches STALL scores.
        let stalled = (scores_since_best(&self.history) == STALL).then(|| {
            format!(
                "FID has not improved for {STALL} scores (best {best_before:.1}, now {fid:.1}): \
                 the generator may have stopped learning or begun to collapse; the best \
                 checkpoint is kept in checkpoints/{BEST}. Try {}, or stop here.",
                self.remedies
            )
        });
        write_scores(&self.run_dir, &self.history)?;
        Ok(Outcome {
            score,
            new_best,
            stalled,
        })
    }
}

/// Scores taken after the best FID (its first occurrence: the checkpoint kept as best).
/// The remedies for a stalled FID that `config` does not use yet.
fn remedies(config: &TrainConfig) -> String {
    let mut list = Vec::new();
    if config.recipe != Recipe::Stable {
        list.push("--recipe stable");
    }
    if config.mode_seeking == 0.0 {
        list.push("--mode-seeking 1");
    }
    list.push("lower learning rates (--lr-d / --lr-g)");
    list.push("more data or --flip");
    list.join(", ")
}

fn scores_since_best(history: &[Score]) -> usize {
    let best = history.iter().map(|s| s.fid).fold(f64::INFINITY, f64::min);
    history
        .iter()
        .position(|s| s.fid == best)
        .map_or(0, |at| history.len() - 1 - at)
}

/// The generator of `checkpoint` as ONNX in `scratch` (self-checked against candle).
fn export_generator(run_dir: &Path, checkpoint: &Path, scratch: &Path) -> Result<PathBuf> {
    let options = ExportOptions {
        which: Which::Generator,
        checkpoint: Some(checkpoint.to_path_buf()),
        ..ExportOptions::default()
    };
    let reference = crate::reference::candle_reference(run_dir);
    let exported = gan_export::export_run(run_dir, scratch, &options, &reference)
        .map_err(crate::report::export_error)
        .with_context(|| format!("cannot export {} for scoring", checkpoint.display()))?;
    match exported.into_iter().next() {
        Some(model) => Ok(model.path),
        None => bail!(
            "exporting {} for scoring wrote no generator",
            checkpoint.display()
        ),
    }
}

/// Copy `checkpoint` to `checkpoints/best`, replacing the previous best only once the copy is
/// complete.
fn keep_as_best(run_dir: &Path, checkpoint: &Path) -> Result<()> {
    let folder = checkpoint.parent().unwrap_or(run_dir);
    let partial = folder.join(".partial-best");
    let best = folder.join(BEST);
    let io = |what: &str, path: &Path, e: std::io::Error| {
        anyhow::anyhow!("cannot {what} {}: {e}", path.display())
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| io("remove", &partial, e))?;
    }
    std::fs::create_dir_all(&partial).map_err(|e| io("create", &partial, e))?;
    for entry in std::fs::read_dir(checkpoint).map_err(|e| io("read", checkpoint, e))? {
        let from = entry.map_err(|e| io("read", checkpoint, e))?.path();
        if let Some(name) = from.file_name() {
            std::fs::copy(&from, partial.join(name)).map_err(|e| io("copy", &from, e))?;
        }
    }
    if best.exists() {
        std::fs::remove_dir_all(&best).map_err(|e| io("replace", &best, e))?;
    }
    std::fs::rename(&partial, &best).map_err(|e| io("write", &best, e))
}

fn read_scores(path: &Path) -> Result<Vec<Score>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            parse_score(line).with_context(|| {
                format!(
                    "{} line {}: not step,is,is_std,fid: {line:?}",
                    path.display(),
                    i + 2
                )
            })
        })
        .collect()
}

fn parse_score(line: &str) -> Option<Score> {
    let fields: Vec<&str> = line.split(',').collect();
    match fields[..] {
        [step, inception, inception_std, fid] => Some(Score {
            step: step.parse().ok()?,
            inception: inception.parse().ok()?,
            inception_std: inception_std.parse().ok()?,
            fid: fid.parse().ok()?,
        }),
        _ => None,
    }
}

fn write_scores(run_dir: &Path, history: &[Score]) -> Result<()> {
    let mut csv = String::from("step,is,is_std,fid\n");
    for s in history {
        csv += &format!("{},{},{},{}\n", s.step, s.inception, s.inception_std, s.fid);
    }
    let path = run_dir.join(SCORES_CSV);
    gan_models::atomic::write_file(&path, csv.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let steps: Vec<u64> = history.iter().map(|s| s.step).collect();
    let fid: Vec<f32> = history.iter().map(|s| s.fid as f32).collect();
    let inception: Vec<f32> = history.iter().map(|s| s.inception as f32).collect();
    gan_train::pictures::plot_scores(&run_dir.join(SCORES_PNG), &steps, &fid, &inception)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(fids: &[f64]) -> Vec<Score> {
        (1..)
            .zip(fids)
            .map(|(step, &fid)| Score {
                step,
                inception: 1.0,
                inception_std: 0.0,
                fid,
            })
            .collect()
    }

    #[test]
    fn scores_since_best_count_from_the_first_best() {
        assert_eq!(scores_since_best(&[]), 0);
        assert_eq!(scores_since_best(&history(&[30.0, 20.0, 10.0])), 0);
        // Earlier, worse scores do not count; a tie is not an improvement.
        assert_eq!(scores_since_best(&history(&[30.0, 10.0, 12.0, 13.0])), 2);
        assert_eq!(scores_since_best(&history(&[10.0, 10.0, 11.0])), 2);
    }

    /// The stall warning suggests only what the run does not use yet.
    #[test]
    fn remedies_leave_out_what_the_run_uses() {
        let arch = gan_models::ArchConfig::Toy2d;
        let mut config = TrainConfig::new(arch, "toy2d");
        assert!(remedies(&config).starts_with("--recipe stable, --mode-seeking 1, "));
        Recipe::Stable.apply(&mut config);
        config.mode_seeking = 1.0;
        let left = remedies(&config);
        assert!(
            !left.contains("--recipe") && !left.contains("--mode-seeking"),
            "{left}"
        );
        assert!(left.contains("--lr-d"), "{left}");
    }
}
