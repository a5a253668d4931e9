//! `progress.gif` in a run folder: the fixed-seed sample grids the run drew (`samples/`), in
//! step order, as one animation of how training went.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gan_runtime::Rgba8;

/// The name of the animation in a run folder.
pub const FILE: &str = "progress.gif";
/// How long each grid shows.
const FRAME_MS: u32 = 400;

/// Write `run_dir/progress.gif` from `run_dir/samples/step_*.png`; returns its path, or `None`
/// when the run has fewer than two grids.
pub fn write(run_dir: &Path) -> Result<Option<PathBuf>> {
    let samples = run_dir.join("samples");
    let mut grids: Vec<PathBuf> = std::fs::read_dir(&samples)
        .with_context(|| format!("cannot read {}", samples.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step_") && n.ends_with(".png"))
        })
        .collect();
    // step_000500.png: the zero-padded step sorts as text.
    grids.sort();
    if grids.len() < 2 {
        return Ok(None);
    }
    let frames = grids
        .iter()
        .map(|path| {
            let image = image::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .to_rgba8();
            Ok(Rgba8 {
                width: image.width(),
                height: image.height(),
                pixels: image.into_raw(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let path = run_dir.join(FILE);
    crate::generate::save_gif(&path, &frames, FRAME_MS)?;
    Ok(Some(path))
}
