//! Differentiable augmentation (DiffAugment, Zhao et al. 2020, `--augment`): the same kind of
//! random transform is applied to every batch the discriminator sees, real and generated, in
//! both the discriminator's and the generator's step, so D cannot memorise a small data set
//! and G still gets gradients through the transform (every operation here is differentiable in
//! its input). Each sample draws its own parameters from the run's generator, so resume stays
//! exact. Values are in the pixel rule's [-1, 1], as in the reference implementation.

use candle_core::{D, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::rng::SeededRng;
#[cfg(test)]
use crate::rng::Stream;

/// One transform of DiffAugment's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Augment {
    /// Brightness ± 0.5, saturation × [0, 2), contrast × [0.5, 1.5), per sample.
    Color,
    /// A shift of up to 1/8 of the size in each direction, zero-filled.
    Translation,
    /// A zeroed square of half the size at a random place.
    Cutout,
}

impl std::str::FromStr for Augment {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "color" => Ok(Augment::Color),
            "translation" => Ok(Augment::Translation),
            "cutout" => Ok(Augment::Cutout),
            other => Err(format!(
                "unknown augmentation {other:?}: use color, translation and/or cutout"
            )),
        }
    }
}

/// How often each transform applies (`--augment-p`): to every sample (the default, as in
/// DiffAugment), to each sample with a fixed probability, or with a probability that adapts to
/// how much the discriminator overfits (StyleGAN2-ADA's heuristic, see [`adapt`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AugmentChance {
    Fixed(f64),
    Auto,
}

impl std::str::FromStr for AugmentChance {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "auto" {
            return Ok(AugmentChance::Auto);
        }
        match s.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(AugmentChance::Fixed(p)),
            _ => Err(format!("{s:?} is not a probability in [0, 1] or \"auto\"")),
        }
    }
}

/// The sign of D's output on real images that adaptive augmentation steers to (ADA's r_t).
pub const ADAPT_TARGET: f64 = 0.6;
/// Images over which adaptive augmentation can move p from 0 to 1 (ADA uses 500k; these runs
/// see about 100k in all).
pub const ADAPT_IMAGES: f64 = 20_000.0;

/// The next adaptive probability after a real batch on which D's logits had mean sign
/// `real_sign` (r_t): up when D is too sure of the real images, down otherwise.
pub fn adapt(p: f64, real_sign: f64, batch: usize) -> f64 {
    let step = batch as f64 / ADAPT_IMAGES;
    (p + (real_sign - ADAPT_TARGET).signum() * step).clamp(0.0, 1.0)
}

/// `x` (`[N, C, H, W]`) through every transform of `policy`, in order, each applied to a
/// sample with probability `p` (at 1, to every sample, drawing nothing for the choice).
pub fn augment(x: &Tensor, policy: &[Augment], p: f64, rng: &mut SeededRng) -> Result<Tensor> {
    let mut x = x.clone();
    for transform in policy {
        let (n, _, h, w) = x.dims4().map_err(|_| {
            TrainError::invalid("augment", "augmentation needs images ([N, C, H, W])")
        })?;
        // Which samples this transform applies to.
        let on: Vec<bool> = if p >= 1.0 {
            vec![true; n]
        } else {
            rng.uniform(n)
                .into_iter()
                .map(|u| f64::from(u) < p)
                .collect()
        };
        x = match transform {
            Augment::Color => {
                let draws = |rng: &mut SeededRng, scale: f32, offset: f32, off: f32| -> Vec<f32> {
                    rng.uniform(n)
                        .into_iter()
                        .zip(&on)
                        .map(|(u, &on)| if on { u * scale + offset } else { off })
                        .collect()
                };
                let brightness = draws(rng, 1.0, -0.5, 0.0);
                let saturation = draws(rng, 2.0, 0.0, 1.0);
                let contrast = draws(rng, 1.0, 0.5, 1.0);
                let coloured = color(&x, &brightness, &saturation, &contrast)?;
                only_where(&on, &coloured, &x)?
            }
            Augment::Translation => {
                let shift = |rng: &mut SeededRng, size: usize| -> Vec<i64> {
                    let reach = (size as f32 * 0.125 + 0.5) as i64;
                    rng.uniform(n)
                        .into_iter()
                        .zip(&on)
                        .map(|(u, &on)| {
                            if on {
                                ((u * (2 * reach + 1) as f32) as i64 - reach).min(reach)
                            } else {
                                0
                            }
                        })
                        .collect()
                };
                let dy = shift(rng, h);
                let dx = shift(rng, w);
                translate(&x, &dy, &dx)?
            }
            Augment::Cutout => {
                let (ch, cw) = (
                    (h as f32 * 0.5 + 0.5) as usize,
                    (w as f32 * 0.5 + 0.5) as usize,
                );
                let place = |rng: &mut SeededRng, size: usize, cut: usize| -> Vec<usize> {
                    // The centre anywhere in the image, the square clipped at the border.
                    let span = size + (1 - cut % 2);
                    rng.uniform(n)
                        .into_iter()
                        .map(|u| ((u * span as f32) as usize).min(span - 1))
                        .collect()
                };
                let cy = place(rng, h, ch);
                let cx = place(rng, w, cw);
                cutout(&x, &cy, &cx, (ch, cw), &on)?
            }
        };
    }
    Ok(x)
}

/// `changed` for the samples `on`, `x` exactly for the others.
fn only_where(on: &[bool], changed: &Tensor, x: &Tensor) -> Result<Tensor> {
    if on.iter().all(|&o| o) {
        return Ok(changed.clone());
    }
    let mask: Vec<u8> = on.iter().map(|&o| u8::from(o)).collect();
    let mask = Tensor::from_vec(mask, (on.len(), 1, 1, 1), x.device())?.broadcast_as(x.dims())?;
    Ok(mask.where_cond(changed, x)?)
}

fn per_sample(values: &[f32], x: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_slice(values, (values.len(), 1, 1, 1), x.device())?.to_dtype(x.dtype())?)
}

/// Per sample: `+ brightness`, then saturation about the channel mean, then contrast about
/// the image mean (DiffAugment's `rand_brightness`, `rand_saturation`, `rand_contrast`).
fn color(x: &Tensor, brightness: &[f32], saturation: &[f32], contrast: &[f32]) -> Result<Tensor> {
    let x = x.broadcast_add(&per_sample(brightness, x)?)?;
    let channel_mean = x.mean_keepdim(1)?;
    let x = x
        .broadcast_sub(&channel_mean)?
        .broadcast_mul(&per_sample(saturation, &x)?)?
        .broadcast_add(&channel_mean)?;
    let image_mean = x.mean_keepdim(1)?.mean_keepdim(2)?.mean_keepdim(3)?;
    Ok(x.broadcast_sub(&image_mean)?
        .broadcast_mul(&per_sample(contrast, &x)?)?
        .broadcast_add(&image_mean)?)
}

/// Sample i moved down by `dy[i]` and right by `dx[i]` pixels; what comes in is 0.
fn translate(x: &Tensor, dy: &[i64], dx: &[i64]) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    // One gather from the zero-padded batch: out[i, y, x] = padded[i, y − dy + p, x − dx + p].
    let p = dy
        .iter()
        .chain(dx)
        .map(|d| d.unsigned_abs() as usize)
        .max()
        .unwrap_or(0);
    let padded = x.pad_with_zeros(2, p, p)?.pad_with_zeros(3, p, p)?;
    let (hp, wp) = (h + 2 * p, w + 2 * p);
    let mut index = Vec::with_capacity(n * c * h * w);
    for i in 0..n {
        for _ in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let sy = (y as i64 - dy[i] + p as i64) as usize;
                    let sx = (x as i64 - dx[i] + p as i64) as usize;
                    index.push((sy * wp + sx) as u32);
                }
            }
        }
    }
    let index = Tensor::from_vec(index, (n * c, h * w), x.device())?;
    let flat = padded.reshape((n * c, hp * wp))?;
    Ok(flat.gather(&index, D::Minus1)?.reshape((n, c, h, w))?)
}

/// Sample i with the `size` box centred at (`cy[i]`, `cx[i]`) (clipped at the border) set to 0.
/// Samples whose `on` is false are left whole.
fn cutout(
    x: &Tensor,
    cy: &[usize],
    cx: &[usize],
    (ch, cw): (usize, usize),
    on: &[bool],
) -> Result<Tensor> {
    let (n, _, h, w) = x.dims4()?;
    let mut mask = vec![1f32; n * h * w];
    for i in (0..n).filter(|&i| on[i]) {
        let (top, left) = (cy[i].saturating_sub(ch / 2), cx[i].saturating_sub(cw / 2));
        for y in top..(cy[i] + ch - ch / 2).min(h) {
            for x in left..(cx[i] + cw - cw / 2).min(w) {
                mask[(i * h + y) * w + x] = 0.0;
            }
        }
    }
    let mask = Tensor::from_vec(mask, (n, 1, h, w), x.device())?.to_dtype(x.dtype())?;
    Ok(x.broadcast_mul(&mask)?)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Var};

    use super::*;

    fn image(values: &[f32], shape: (usize, usize, usize, usize)) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn translation_moves_pixels_and_fills_with_zero() {
        // 3×3: 1..9. Down 1 and left 1: row 0 empty, then rows 0 and 1 shifted left.
        let x = image(&[1., 2., 3., 4., 5., 6., 7., 8., 9.], (1, 1, 3, 3));
        let moved = translate(&x, &[1], &[-1]).unwrap();
        assert_eq!(flat(&moved), [0., 0., 0., 2., 3., 0., 5., 6., 0.]);
        assert_eq!(flat(&translate(&x, &[0], &[0]).unwrap()), flat(&x));
    }

    #[test]
    fn cutout_zeroes_a_clipped_square() {
        let x = image(&[1.0; 16], (1, 1, 4, 4));
        // A 2×2 box centred at (0, 3): rows 0 only (clipped above), columns 2 and 3.
        let cut = cutout(&x, &[0], &[3], (2, 2), &[true]).unwrap();
        assert_eq!(
            flat(&cut),
            [
                1., 1., 0., 0., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.
            ]
        );
    }

    #[test]
    fn color_shifts_brightness_and_scales_about_the_means() {
        // Two channels of one pixel: [0.2, -0.2]. Brightness +0.1: [0.3, -0.1]; saturation × 2
        // about the channel mean 0.1: [0.5, -0.3]; contrast × 0.5 about the image mean 0.1:
        // [0.3, -0.1].
        let x = image(&[0.2, -0.2], (1, 2, 1, 1));
        let out = flat(&color(&x, &[0.1], &[2.0], &[0.5]).unwrap());
        for (got, want) in out.iter().zip([0.3, -0.1]) {
            assert!((got - want).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn gradients_flow_through_every_transform_as_finite_differences_say() {
        let values: Vec<f32> = (0..2 * 3 * 4 * 4)
            .map(|v| ((v * 37 % 23) as f32 / 11.0) - 1.0)
            .collect();
        let shape = (2, 3, 4, 4);
        let weights = image(
            &(0..values.len())
                .map(|v| ((v * 13 % 7) as f32) - 3.0)
                .collect::<Vec<_>>(),
            shape,
        );
        let policy = [Augment::Color, Augment::Translation, Augment::Cutout];
        // Every draw comes from a generator restarted at the same seed: the same transform.
        let loss = |x: &Tensor| -> Tensor {
            let mut rng = SeededRng::new(7, Stream::Training);
            (augment(x, &policy, 1.0, &mut rng).unwrap() * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let var = Var::from_tensor(&image(&values, shape)).unwrap();
        let grads = loss(var.as_tensor()).backward().unwrap();
        let analytic = flat(grads.get(var.as_tensor()).unwrap());
        let eps = 1e-2f32;
        for k in [0, 5, 17, 40, 77, 95] {
            let at = |delta: f32| {
                let mut v = values.clone();
                v[k] += delta;
                f64::from(loss(&image(&v, shape)).to_scalar::<f32>().unwrap())
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - f64::from(analytic[k])).abs() < 2e-2 * numeric.abs().max(1.0),
                "input {k}: finite difference {numeric}, backward {}",
                analytic[k]
            );
        }
    }

    #[test]
    fn unknown_names_and_points_are_refused() {
        let err = "blur".parse::<Augment>().unwrap_err();
        assert!(err.contains("unknown augmentation \"blur\""), "{err}");
        let points = Tensor::zeros((4, 2), DType::F32, &Device::Cpu).unwrap();
        let err = augment(
            &points,
            &[Augment::Cutout],
            1.0,
            &mut SeededRng::new(0, Stream::Training),
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs images"), "{err}");
    }

    #[test]
    fn at_probability_zero_nothing_changes_and_at_one_everything_does() {
        let values: Vec<f32> = (0..2 * 3 * 8 * 8).map(|v| (v % 13) as f32 / 13.0).collect();
        let x = image(&values, (2, 3, 8, 8));
        let policy = [Augment::Color, Augment::Translation, Augment::Cutout];
        let run = |p| {
            let mut rng = SeededRng::new(3, Stream::Training);
            flat(&augment(&x, &policy, p, &mut rng).unwrap())
        };
        assert_eq!(run(0.0), values);
        assert_ne!(run(1.0), values);
    }

    #[test]
    fn adaptive_probability_rises_when_d_is_sure_of_real_images_and_falls_otherwise() {
        let batch = 16;
        let mut p = 0.0;
        for _ in 0..100 {
            p = adapt(p, 1.0, batch);
        }
        assert!(
            (p - 100.0 * batch as f64 / ADAPT_IMAGES).abs() < 1e-9,
            "{p}"
        );
        let high = p;
        for _ in 0..10 {
            p = adapt(p, 0.0, batch);
        }
        assert!(p < high);
        assert_eq!(adapt(1.0, 1.0, batch), 1.0, "p stays a probability");
        assert_eq!(adapt(0.0, -1.0, batch), 0.0);
    }

    #[test]
    fn augment_p_parses_probabilities_and_auto_only() {
        assert_eq!("auto".parse(), Ok(AugmentChance::Auto));
        assert_eq!("0.3".parse(), Ok(AugmentChance::Fixed(0.3)));
        for bad in ["1.5", "-0.1", "NaN", "often"] {
            let err = bad.parse::<AugmentChance>().unwrap_err();
            assert!(err.contains("not a probability in [0, 1]"), "{err}");
        }
    }
}
