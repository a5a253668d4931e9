//! The contrastive self-supervised task behind `gan train --model features --task contrastive`
//! (SimCLR, Chen et al. 2020): each image is seen as two random views (DiffAugment's colour,
//! translation and cutout, and a horizontal flip), and the network learns to pick out the other
//! view of the same image among all views of the batch (the NT-Xent loss, a cross-entropy over
//! cosine similarities at a temperature). What survives the views — outline, parts, palette
//! layout — is what its features describe, which makes them a feature space for FID and KID on
//! data without labels such as sprites.

use candle_core::{D, Device, Tensor};

use crate::augment::{Augment, augment};
use crate::data::{Dataset, LabelledDataset, LoadReport};
use crate::error::Result;
use crate::net::Net;
use crate::rng::SeededRng;

/// The width of the projection the loss compares (the network's "class" outputs).
pub const PROJECTION: usize = 64;
/// NT-Xent's temperature (SimCLR's 0.5 for small batches).
pub const TEMPERATURE: f64 = 0.5;
/// The transforms a view goes through.
const VIEW: [Augment; 3] = [Augment::Color, Augment::Translation, Augment::Cutout];

/// `images` as the contrastive task's data set: no labels, and as many outputs ("classes",
/// named `z0`…) as the projection is wide.
pub fn task(images: Dataset, report: LoadReport) -> LabelledDataset {
    LabelledDataset {
        labels: vec![0; images.len()],
        data: images,
        class_names: (0..PROJECTION).map(|k| format!("z{k}")).collect(),
        report,
    }
}

/// Two random views of each image of `x` (`[N, C, H, W]`), stacked: `[2N, C, H, W]`, view `i`
/// and view `i + N` from the same image.
pub fn two_views(x: &Tensor, rng: &mut SeededRng) -> Result<Tensor> {
    let first = flip_some(&augment(x, &VIEW, 1.0, rng)?, rng)?;
    let second = flip_some(&augment(x, &VIEW, 1.0, rng)?, rng)?;
    Ok(Tensor::cat(&[first, second], 0)?)
}

/// Each sample mirrored left to right with probability ½.
fn flip_some(x: &Tensor, rng: &mut SeededRng) -> Result<Tensor> {
    let (n, _, _, w) = x.dims4()?;
    let mirrored = x.index_select(
        &Tensor::from_vec((0..w as u32).rev().collect::<Vec<_>>(), w, x.device())?,
        3,
    )?;
    let choose: Vec<f32> = rng
        .uniform(n)
        .into_iter()
        .map(|u| if u < 0.5 { 1.0 } else { 0.0 })
        .collect();
    let choose = Tensor::from_vec(choose, (n, 1, 1, 1), x.device())?;
    let keep = (1.0 - &choose)?;
    Ok((mirrored.broadcast_mul(&choose)? + x.broadcast_mul(&keep)?)?)
}

/// The similarity logits `[2N, 2N]` of projections `z` (`[2N, d]`): cosine similarity over the
/// temperature, each view's similarity to itself pushed out of reach.
fn similarities(z: &Tensor) -> Result<Tensor> {
    let norm = z.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-8, f64::MAX)?;
    let unit = z.broadcast_div(&norm)?;
    let sim = (unit.matmul(&unit.t()?)? / TEMPERATURE)?;
    let n = z.dim(0)?;
    let self_mask = (Tensor::eye(n, z.dtype(), z.device())? * 1e9)?;
    Ok((sim - self_mask)?)
}

/// For view `i` of `2N`, the index of its partner.
fn partners(n2: usize, device: &Device) -> Result<Tensor> {
    let half = n2 / 2;
    let targets: Vec<u32> = (0..n2).map(|i| ((i + half) % n2) as u32).collect();
    Ok(Tensor::from_vec(targets, n2, device)?)
}

/// NT-Xent over the views `views` (`[2N, …]`, from [`two_views`]) through `net` in training mode.
pub fn loss(net: &Net, views: &Tensor) -> Result<Tensor> {
    let z = net.forward(views, None, true)?;
    let sim = similarities(&z)?;
    Ok(candle_nn::loss::cross_entropy(
        &sim,
        &partners(z.dim(0)?, z.device())?,
    )?)
}

/// The share of views whose most similar other view (eval mode) is their partner.
pub fn retrieval_accuracy(net: &Net, views: &Tensor) -> Result<f64> {
    let z = net.forward(views, None, false)?;
    let n2 = z.dim(0)?;
    let best = similarities(&z)?.argmax(D::Minus1)?;
    let hits = best
        .eq(&partners(n2, z.device())?)?
        .to_dtype(candle_core::DType::U32)?
        .sum_all()?
        .to_scalar::<u32>()?;
    Ok(f64::from(hits) / n2 as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    /// Projections where each view equals its partner and differs from the rest: the loss is
    /// near its floor and retrieval is perfect; shuffled partners make it large.
    #[test]
    fn the_loss_is_low_when_partners_agree_and_high_when_they_do_not() {
        let device = Device::Cpu;
        // Four orthogonal directions, each the projection of one image's two views.
        let eye = Tensor::eye(4, candle_core::DType::F32, &device).unwrap();
        let z = Tensor::cat(&[&eye, &eye], 0).unwrap();
        let targets = partners(8, &device).unwrap();
        let agree = candle_nn::loss::cross_entropy(&similarities(&z).unwrap(), &targets)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let shuffled = Tensor::cat(&[&eye, &eye.roll(1, 0).unwrap()], 0).unwrap();
        let disagree = candle_nn::loss::cross_entropy(&similarities(&shuffled).unwrap(), &targets)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // Agreeing: log(1 + 6·e^{-2}) ≈ 0.60 (the partner at similarity 2, six others at 0).
        assert!(
            (agree - (1.0 + 6.0 * (-2f32).exp()).ln()).abs() < 1e-4,
            "{agree}"
        );
        assert!(disagree > agree + 1.0, "{disagree} vs {agree}");
        let best = similarities(&z).unwrap().argmax(D::Minus1).unwrap();
        assert_eq!(
            best.to_vec1::<u32>().unwrap(),
            targets.to_vec1::<u32>().unwrap()
        );
    }

    #[test]
    fn views_pair_up_and_differ() {
        let device = Device::Cpu;
        let x = Tensor::arange(0f32, 2.0 * 3.0 * 8.0 * 8.0, &device)
            .unwrap()
            .reshape((2, 3, 8, 8))
            .unwrap()
            .affine(1.0 / 384.0, -0.5)
            .unwrap();
        let mut rng = SeededRng::new(1, Stream::Training);
        let views = two_views(&x, &mut rng).unwrap();
        assert_eq!(views.dims(), [4, 3, 8, 8]);
        let a = views
            .get(0)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = views
            .get(2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_ne!(a, b, "two views of one image differ");
    }
}
