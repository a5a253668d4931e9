//! FastGAN's self-supervised discriminator (Liu et al. 2021): on real images, small decoders
//! rebuild the whole image from the discriminator's 8×8 features and a random quarter of it
//! from the same quarter of its 16×16 features, and the reconstruction error joins the
//! discriminator's loss, so its features must describe the image rather than only the few
//! cues that separate a small real set from the generator's.
//!
//! The paper compares with LPIPS, a perceptual distance from a pretrained network that cannot
//! be had offline; here the distance is the mean squared error in pixels (as lightweight-gan
//! does too), against the real image averaged down to the decoder's output size.

use candle_core::Tensor;

use crate::error::Result;
use crate::net::Net;
use crate::rng::SeededRng;

/// D's logits on `real` and, when D has decoders, their reconstruction error (a scalar). One
/// quarter is drawn from `rng` per batch for the decoders that take one.
pub fn real_pass(
    d: &Net,
    real: &Tensor,
    labels: Option<&Tensor>,
    rng: &mut SeededRng,
) -> Result<(Tensor, Option<Tensor>)> {
    let decoders = &d.desc.decoders;
    if decoders.is_empty() {
        return Ok((d.forward(real, labels, true)?, None));
    }
    let taps: Vec<usize> = decoders.iter().map(|dec| dec.tap).collect();
    let (logits, features) = d.forward_with_taps(real, labels, true, &taps)?;
    let quarter = draw_quarter(rng);
    let mut total: Option<Tensor> = None;
    for (k, (decoder, features)) in decoders.iter().zip(&features).enumerate() {
        let (input, target) = if decoder.quarter {
            (
                take_quarter(features, quarter)?,
                take_quarter(real, quarter)?,
            )
        } else {
            (features.clone(), real.clone())
        };
        let rebuilt = d.decode(k, &input, true)?;
        let error = squared_error(&rebuilt, &scaled_to(&target.detach(), rebuilt.dim(2)?)?)?;
        total = Some(match total {
            Some(t) => (t + error)?,
            None => error,
        });
    }
    Ok((logits, total))
}

/// Which quarter (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
fn draw_quarter(rng: &mut SeededRng) -> usize {
    ((rng.uniform(1)[0] * 4.0) as usize).min(3)
}

/// Quarter `q` of an `[N, C, H, W]` map.
pub fn take_quarter(x: &Tensor, q: usize) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (top, left) = ((q / 2) * h / 2, (q % 2) * w / 2);
    x.narrow(2, top, h / 2)?.narrow(3, left, w / 2)
}

/// `x` averaged down to side `side` (unchanged when it has that side).
fn scaled_to(x: &Tensor, side: usize) -> candle_core::Result<Tensor> {
    let current = x.dim(2)?;
    if current == side {
        return x.contiguous();
    }
    x.contiguous()?.avg_pool2d(current / side)
}

/// Mean squared difference.
fn squared_error(a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
    (a - b)?.sqr()?.mean_all()
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device};
    use gan_models::{ArchConfig, FastGan};

    use super::*;
    use crate::adam::Adam;
    use crate::rng::Stream;

    #[test]
    fn quarters_tile_the_map() {
        let x = Tensor::arange(0f32, 16.0, &Device::Cpu)
            .unwrap()
            .reshape((1, 1, 4, 4))
            .unwrap();
        let values = |q| -> Vec<f32> {
            take_quarter(&x, q)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        };
        assert_eq!(values(0), [0.0, 1.0, 4.0, 5.0]);
        assert_eq!(values(1), [2.0, 3.0, 6.0, 7.0]);
        assert_eq!(values(2), [8.0, 9.0, 12.0, 13.0]);
        assert_eq!(values(3), [10.0, 11.0, 14.0, 15.0]);
    }

    /// Trained on the reconstruction term alone, on four fixed images, the error falls.
    #[test]
    fn the_reconstruction_term_decreases_on_a_fixed_set() {
        let arch = ArchConfig::FastGan(FastGan {
            image_size: 32,
            channels: 1,
            nz: 8,
            ngf: 4,
            ndf: 8,
            ..FastGan::default()
        });
        let device = Device::Cpu;
        let mut init = SeededRng::new(3, Stream::Init);
        let d = Net::init(arch.discriminator().unwrap(), &mut init, &device).unwrap();
        // Four smooth images: horizontal and vertical ramps, and their negatives.
        let ramp = Tensor::arange(0f32, 32.0, &device)
            .unwrap()
            .affine(2.0 / 31.0, -1.0)
            .unwrap();
        let across = ramp
            .reshape((1, 1, 1, 32))
            .unwrap()
            .broadcast_as((1, 1, 32, 32))
            .unwrap();
        let down = ramp
            .reshape((1, 1, 32, 1))
            .unwrap()
            .broadcast_as((1, 1, 32, 32))
            .unwrap();
        let real = Tensor::cat(
            &[&across, &down, &across.neg().unwrap(), &down.neg().unwrap()],
            0,
        )
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
        let mut adam = Adam::new(&d, 2e-3, 0.5, 0.999).unwrap();
        let mut rng = SeededRng::new(4, Stream::Training);
        let mut errors = Vec::new();
        for _ in 0..40 {
            let (_, error) = real_pass(&d, &real, None, &mut rng).unwrap();
            let error = error.expect("fastgan's discriminator has decoders");
            errors.push(error.to_scalar::<f32>().unwrap());
            adam.step(&d, &error.backward().unwrap()).unwrap();
        }
        let first: f32 = errors[..5].iter().sum::<f32>() / 5.0;
        let last: f32 = errors[errors.len() - 5..].iter().sum::<f32>() / 5.0;
        assert!(last < 0.5 * first, "error {first} → {last}: {errors:?}");
    }
}
