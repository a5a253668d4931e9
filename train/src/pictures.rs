//! What a person looks at during training: sample grids, the loss curves, and for the toy GAN a
//! scatter plot of real against generated points.

use std::path::Path;
use std::sync::Once;

use gan_contract::grid;
use gan_contract::pixels::{OutputRange, chw_to_rgba};
use image::{DynamicImage, RgbImage, RgbaImage};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::{Result, TrainError};

/// Samples `[n, C, H, W]` in [-1, 1] tiled into a grid `cols` wide, by the pixel rule and grid
/// layout of `gan-contract` (so `gan generate` draws the same picture from the exported model).
pub fn save_grid(path: &Path, values: &[f32], shape: &[usize], cols: usize) -> Result<()> {
    let [c, h, w] = [shape[0], shape[1], shape[2]];
    let n = values.len() / (c * h * w);
    let tiles: Vec<Vec<u8>> = values
        .chunks_exact(c * h * w)
        .map(|sample| chw_to_rgba(sample, c, OutputRange::MinusOneToOne))
        .collect();
    let canvas = grid::tile(
        tiles.iter().map(Vec::as_slice),
        n,
        cols,
        (w, h),
        grid::GUTTER,
    );
    let mut rgba = canvas.rgba;
    if c == 4 {
        // Transparent samples are shown over a checkerboard, so no white box hides.
        grid::over_checkerboard(&mut rgba, canvas.width);
    }
    let image = RgbaImage::from_raw(canvas.width as u32, canvas.height as u32, rgba)
        .expect("the canvas holds width × height pixels");
    save_png(path, &DynamicImage::ImageRgba8(image).into_rgb8())
}

/// One curve per named series over the training steps.
pub fn plot_losses(path: &Path, steps: &[u64], series: &[(&str, Vec<f32>)]) -> Result<()> {
    render(path, (900, 500), |area| {
        draw_curves(area, "GAN losses", "loss", steps, series)
    })
}

/// Scores taken during training (`gan train --eval-every`): FID above, Inception Score below.
pub fn plot_scores(path: &Path, steps: &[u64], fid: &[f32], inception: &[f32]) -> Result<()> {
    render(path, (900, 700), |area| {
        let panels = area.split_evenly((2, 1));
        draw_curves(
            &panels[0],
            "FID (lower is better)",
            "FID",
            steps,
            &[("FID", fid.to_vec())],
        )?;
        draw_curves(
            &panels[1],
            "Inception Score (higher is better)",
            "IS",
            steps,
            &[("IS", inception.to_vec())],
        )
    })
}

/// Real points in blue, generated ones in red.
pub fn plot_scatter(path: &Path, title: &str, real: &[f32], fake: &[f32]) -> Result<()> {
    let all = real
        .chunks_exact(2)
        .chain(fake.chunks_exact(2))
        .filter(|p| p[0].is_finite() && p[1].is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in all {
        (x0, x1, y0, y1) = (x0.min(p[0]), x1.max(p[0]), y0.min(p[1]), y1.max(p[1]));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (-1.0, 1.0, -1.0, 1.0);
    }
    render(path, (600, 600), |area| {
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(
                x0 as f64 - 0.5..x1 as f64 + 0.5,
                y0 as f64 - 0.5..y1 as f64 + 0.5,
            )?;
        chart.configure_mesh().draw()?;
        for (points, color, name) in [(real, BLUE, "real"), (fake, RED, "generated")] {
            chart
                .draw_series(
                    points.chunks_exact(2).map(|p| {
                        Circle::new((p[0] as f64, p[1] as f64), 2, color.mix(0.5).filled())
                    }),
                )?
                .label(name)
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
        draw_legend(&mut chart)
    })
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Curves over the steps on `area`, the y axis fitted to the finite values (and 0).
fn draw_curves(
    area: &Area<'_>,
    caption: &str,
    y_desc: &str,
    steps: &[u64],
    series: &[(&str, Vec<f32>)],
) -> DrawResult {
    let max_step = steps.last().copied().unwrap_or(1).max(1) as f64;
    let finite = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((0f32, 1f32), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..max_step, lo as f64..hi as f64 * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc(y_desc)
        .draw()?;
    for (i, (name, values)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = steps
            .iter()
            .zip(values)
            .map(|(&s, &v)| (s as f64, v as f64));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(1)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    draw_legend(&mut chart)
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;
type Chart<'a> = ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The series' names in a box on the chart.
fn draw_legend(chart: &mut Chart<'_>) -> DrawResult {
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    Ok(())
}

/// Draw on a white RGB canvas with the bundled font and save it as PNG.
fn render(
    path: &Path,
    (w, h): (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<()> {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        // The bundled font is valid; if registration ever failed, plots would lack text, not fail.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        let drawn = area
            .fill(&WHITE)
            .map_err(std::convert::Into::into)
            .and_then(|_| draw(&area))
            .and_then(|_| area.present().map_err(std::convert::Into::into));
        drawn.map_err(|e| TrainError::bad_file(path, format!("cannot draw plot: {e}")))?;
    }
    let image = RgbImage::from_raw(w, h, buffer).expect("buffer is w × h × 3");
    save_png(path, &image)
}

fn save_png(path: &Path, image: &RgbImage) -> Result<()> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| TrainError::bad_file(path, format!("cannot encode PNG: {e}")))?;
    crate::error::write_file(path, &bytes)
}
