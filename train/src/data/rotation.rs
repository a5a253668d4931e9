//! The self-supervised task behind `gan train --model features`: every image four times, turned
//! by 0°, 90°, 180° and 270°, labelled with its turn (Gidaris et al. 2018). Telling the turns
//! apart makes a network learn what the objects in the data look like — which way is up for a
//! sprite — without any labels, so its penultimate layer can serve as the feature space of FID
//! and KID on unlabelled data such as the Pokémon sprites (Morozov et al. 2021 show such
//! self-supervised features rank GANs well).

use super::{Dataset, LabelledDataset, LoadReport};
use crate::error::{Result, TrainError};

/// The classes, in label order: degrees turned counter-clockwise.
pub const TURNS: [&str; 4] = ["0", "90", "180", "270"];

/// `data` (`[C, H, W]` samples with H = W) as the rotation task: 4 × n samples, each image's
/// four turns in label order.
pub fn rotation_task(data: &Dataset, report: LoadReport) -> Result<LabelledDataset> {
    let &[channels, height, width] = &data.shape[..] else {
        return Err(TrainError::invalid(
            "data",
            "the rotation task needs images, not points",
        ));
    };
    if height != width {
        return Err(TrainError::invalid(
            "image_size",
            format!("the rotation task needs square images, not {width}×{height}"),
        ));
    }
    let mut values = Vec::with_capacity(4 * data.values().len());
    let mut labels = Vec::with_capacity(4 * data.len());
    for i in 0..data.len() {
        let mut image = data.sample(i).to_vec();
        for turn in 0..TURNS.len() {
            values.extend_from_slice(&image);
            labels.push(turn as u8);
            image = quarter_turn(&image, channels, width);
        }
    }
    Ok(LabelledDataset {
        data: Dataset::new(data.shape.clone(), values),
        labels,
        class_names: TURNS.iter().map(ToString::to_string).collect(),
        report,
    })
}

/// `image` (`channels` planes of `size × size`) turned 90° counter-clockwise:
/// `out[y][x] = in[x][size − 1 − y]`.
fn quarter_turn(image: &[f32], channels: usize, size: usize) -> Vec<f32> {
    let mut out = vec![0.0; image.len()];
    for c in 0..channels {
        let plane = &image[c * size * size..][..size * size];
        let turned = &mut out[c * size * size..][..size * size];
        for y in 0..size {
            for x in 0..size {
                turned[y * size + x] = plane[x * size + (size - 1 - y)];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_image_comes_four_times_turned_counter_clockwise() {
        // Two 2×2 one-channel images: [[1, 2], [3, 4]] and its negative.
        let data = Dataset::new(vec![1, 2, 2], vec![1., 2., 3., 4., -1., -2., -3., -4.]);
        let task = rotation_task(&data, LoadReport::default()).unwrap();
        assert_eq!(task.labels, [0, 1, 2, 3, 0, 1, 2, 3]);
        assert_eq!(task.class_names, TURNS);
        assert_eq!(task.data.sample(0), [1., 2., 3., 4.]);
        // 90° counter-clockwise: the right column becomes the top row.
        assert_eq!(task.data.sample(1), [2., 4., 1., 3.]);
        assert_eq!(task.data.sample(2), [4., 3., 2., 1.]);
        assert_eq!(task.data.sample(3), [3., 1., 4., 2.]);
        assert_eq!(task.data.sample(5), [-2., -4., -1., -3.]);
    }

    #[test]
    fn four_quarter_turns_are_the_identity_on_every_channel() {
        let image: Vec<f32> = (0..3 * 5 * 5).map(|v| v as f32).collect();
        let mut turned = image.clone();
        for _ in 0..4 {
            turned = quarter_turn(&turned, 3, 5);
        }
        assert_eq!(turned, image);
    }

    #[test]
    fn points_and_non_square_images_are_refused() {
        let points = Dataset::new(vec![2], vec![0.0; 8]);
        let err = rotation_task(&points, LoadReport::default()).unwrap_err();
        assert!(err.to_string().contains("needs images"), "{err}");
        let wide = Dataset::new(vec![1, 2, 3], vec![0.0; 6]);
        let err = rotation_task(&wide, LoadReport::default()).unwrap_err();
        assert!(err.to_string().contains("square images, not 3×2"), "{err}");
    }
}
