//! `metrics.csv`: one row per training step, flushed as it is written so a killed run keeps
//! every finished step.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// What one training step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepMetrics {
    /// 1-based: the number of iterations done.
    pub step: u64,
    pub epoch: u64,
    pub loss_d: f32,
    pub loss_g: f32,
    /// Mean D(x) on the real batch.
    pub d_real: f32,
    /// Mean D(G(z)) during the discriminator step (before its update).
    pub d_fake_before: f32,
    /// Mean D(G(z)) during the generator step (after the discriminator's update).
    pub d_fake_after: f32,
    /// The augmentation probability of the step, in runs that set one (`augment_p`).
    pub augment_p: Option<f32>,
}

const HEADER: &str = "step,epoch,loss_d,loss_g,d_real,d_fake_before,d_fake_after";
/// The column runs with an augmentation probability add.
const AUGMENT_P_COLUMN: &str = ",augment_p";

impl StepMetrics {
    fn to_csv(self) -> String {
        let s = self;
        let p = s.augment_p.map_or(String::new(), |p| format!(",{p}"));
        format!(
            "{},{},{},{},{},{},{}{p}",
            s.step, s.epoch, s.loss_d, s.loss_g, s.d_real, s.d_fake_before, s.d_fake_after
        )
    }

    fn from_csv(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.split(',').collect();
        let float = |i: usize| f.get(i)?.parse::<f32>().ok();
        Some(StepMetrics {
            step: f.first()?.parse().ok()?,
            epoch: f.get(1)?.parse().ok()?,
            loss_d: float(2)?,
            loss_g: float(3)?,
            d_real: float(4)?,
            d_fake_before: float(5)?,
            d_fake_after: float(6)?,
            augment_p: f.get(7).and_then(|p| p.parse::<f32>().ok()),
        })
    }
}

/// The open metrics file and the rows written so far (for plots).
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
    pub rows: Vec<StepMetrics>,
}

impl MetricsLog {
    /// A new log; `augment_p` adds that column.
    pub fn create(path: &Path, augment_p: bool) -> Result<Self> {
        Self::with_rows(path, Vec::new(), augment_p)
    }

    /// Reopen after a resume from `step`: rows past it (written after the checkpoint) are
    /// dropped, and so is a last row torn by a kill mid-write (the file does not end in a
    /// newline).
    pub fn resume(path: &Path, step: u64, augment_p: bool) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let torn = !text.is_empty() && !text.ends_with('\n');
        let last = text.lines().count().saturating_sub(1);
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            let Some(row) = StepMetrics::from_csv(line) else {
                if torn && n == last {
                    break;
                }
                return Err(TrainError::bad_file(
                    path,
                    format!("line {} is not a metrics row", n + 1),
                ));
            };
            if row.step <= step {
                rows.push(row);
            }
        }
        Self::with_rows(path, rows, augment_p)
    }

    fn with_rows(path: &Path, rows: Vec<StepMetrics>, augment_p: bool) -> Result<Self> {
        let extra = if augment_p { AUGMENT_P_COLUMN } else { "" };
        let mut text = format!("{HEADER}{extra}\n");
        for row in &rows {
            text.push_str(&row.to_csv());
            text.push('\n');
        }
        crate::error::write_file(path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
            rows,
        })
    }

    pub fn append(&mut self, row: StepMetrics) -> Result<()> {
        writeln!(self.file, "{}", row.to_csv())
            .and_then(|_| self.file.flush())
            .map_err(|e| TrainError::io(&self.path, e))?;
        self.rows.push(row);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(step: u64) -> StepMetrics {
        StepMetrics {
            step,
            epoch: 0,
            loss_d: 1.0,
            loss_g: 2.0,
            d_real: 0.5,
            d_fake_before: 0.4,
            d_fake_after: 0.3,
            augment_p: None,
        }
    }

    #[test]
    fn a_torn_last_row_is_dropped_on_resume_and_other_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::create(&path, false).unwrap();
        for step in 1..=3 {
            log.append(row(step)).unwrap();
        }
        drop(log);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("4,0,1.0,2"); // killed mid-row
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            MetricsLog::resume(&path, 2, false).unwrap().rows,
            [row(1), row(2)]
        );
        std::fs::write(&path, text.replace("2,0,", "2,x,") + "\n").unwrap();
        let err = MetricsLog::resume(&path, 2, false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }
}
