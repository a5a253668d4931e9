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
}

const HEADER: &str = "step,epoch,loss_d,loss_g,d_real,d_fake_before,d_fake_after";

impl StepMetrics {
    fn to_csv(self) -> String {
        let s = self;
        format!(
            "{},{},{},{},{},{},{}",
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
    pub fn create(path: &Path) -> Result<Self> {
        Self::with_rows(path, Vec::new())
    }

    /// Reopen after a resume from `step`: rows past it (written after the checkpoint) are dropped.
    pub fn resume(path: &Path, step: u64) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            let row = StepMetrics::from_csv(line).ok_or_else(|| {
                TrainError::bad_file(path, format!("line {} is not a metrics row", n + 1))
            })?;
            if row.step <= step {
                rows.push(row);
            }
        }
        Self::with_rows(path, rows)
    }

    fn with_rows(path: &Path, rows: Vec<StepMetrics>) -> Result<Self> {
        let mut text = format!("{HEADER}\n");
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
