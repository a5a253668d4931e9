//! `shapes`: a built-in image data set, so image models can be trained with nothing downloaded —
//! one filled disc or square of a random colour, size and place on white, per picture.

use super::Dataset;
use crate::rng::{SeededRng, Stream};

const PALETTE: [[f32; 3]; 6] = [
    [0.85, 0.15, 0.15],
    [0.15, 0.55, 0.85],
    [0.2, 0.7, 0.25],
    [0.95, 0.75, 0.1],
    [0.55, 0.25, 0.75],
    [0.1, 0.1, 0.1],
];

/// `n` pictures of `shape` (`[C, H, W]`), values in [-1, 1].
pub fn shapes(n: usize, shape: &[usize], seed: u64) -> Dataset {
    labelled_shapes(n, shape, seed).0
}

/// [`shapes`] with each picture's class: 0 for a disc, 1 for a square.
pub fn labelled_shapes(n: usize, shape: &[usize], seed: u64) -> (Dataset, Vec<u8>) {
    let [channels, height, width] = [shape[0], shape[1], shape[2]];
    let mut rng = SeededRng::new(seed, Stream::ShapesData);
    let mut values = Vec::with_capacity(n * channels * height * width);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let u = rng.uniform(4);
        let size = height.min(width) as f32;
        let radius = size * (0.15 + 0.2 * u[0]);
        let (cx, cy) = (
            radius + (width as f32 - 2.0 * radius) * u[1],
            radius + (height as f32 - 2.0 * radius) * u[2],
        );
        let disc = rng.coin();
        labels.push(u8::from(!disc));
        let colour = PALETTE[(u[3] * PALETTE.len() as f32) as usize % PALETTE.len()];
        let inside = |x: usize, y: usize| {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            if disc {
                dx * dx + dy * dy <= radius * radius
            } else {
                dx.abs() <= radius && dy.abs() <= radius
            }
        };
        let gray = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2];
        let inks: &[f32] = if channels == 1 { &[gray] } else { &colour };
        for &ink in inks {
            for y in 0..height {
                for x in 0..width {
                    let v = if inside(x, y) { ink } else { 1.0 };
                    values.push(2.0 * v - 1.0);
                }
            }
        }
        // RGBA: the shape is opaque on a transparent (white) background.
        if channels == 4 {
            for y in 0..height {
                for x in 0..width {
                    values.push(if inside(x, y) { 1.0 } else { -1.0 });
                }
            }
        }
    }
    (Dataset::new(shape.to_vec(), values), labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_have_a_white_background_and_one_coloured_shape() {
        let data = shapes(20, &[3, 16, 16], 4);
        assert_eq!(data.len(), 20);
        for i in 0..20 {
            let s = data.sample(i);
            let white = s.iter().filter(|&&v| v == 1.0).count();
            assert!(
                white > 3 * 16 * 16 / 4 && white < 3 * 16 * 16,
                "sample {i}: {white} white values"
            );
        }
        assert_eq!(
            shapes(3, &[1, 8, 8], 1).values(),
            shapes(3, &[1, 8, 8], 1).values()
        );
    }

    /// With four channels the shape is opaque and the background transparent: alpha is 1
    /// exactly where the colour is not the white background.
    #[test]
    fn rgba_shapes_are_opaque_on_a_transparent_background() {
        let (rgb, rgba) = (shapes(5, &[3, 16, 16], 2), shapes(5, &[4, 16, 16], 2));
        let plane = 16 * 16;
        for i in 0..5 {
            let (colour, with_alpha) = (rgb.sample(i), rgba.sample(i));
            assert_eq!(
                &with_alpha[..3 * plane],
                colour,
                "the same shape and colours"
            );
            let alpha = &with_alpha[3 * plane..];
            for p in 0..plane {
                let background = (0..3).all(|c| colour[c * plane + p] == 1.0);
                assert_eq!(
                    alpha[p],
                    if background { -1.0 } else { 1.0 },
                    "sample {i} pixel {p}"
                );
            }
        }
    }
}
