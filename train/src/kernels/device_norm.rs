//! Training-mode BatchNorm fused with the rectifier after it, for devices other than the CPU:
//! the values in candle's ops outside autograd, joined to the graph as one node (`joined.rs`) whose
//! backward pass is the closed form, a dozen ops. Through autograd the same layer is some twenty
//! graph nodes, each of which costs candle's backward pass a zero-filled gradient and an addition.

use candle_core::{DType, Result, Tensor};

use super::joined::{self, ClosedForm, Grads};

/// Dimensions a per-channel statistic of `[N, C, H, W]` reduces over.
const NHW: (usize, usize, usize) = (0, 2, 3);

/// `z ↦ z > 0 ? z : slope·z` of BatchNorm over N, H, W of `x` `[N, C, H, W]`, with the batch
/// mean and biased variance (`[C]`, detached) for the running statistics.
pub fn batch_norm_act(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    eps: f64,
    slope: f32,
) -> Result<(Tensor, Tensor, Tensor)> {
    let channels = x.dim(1)?;
    let per_channel = |t: &Tensor| t.reshape((1, channels, 1, 1));
    let xd = x.detach();
    let mean = xd.mean_keepdim(NHW)?;
    let centred = xd.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(NHW)?;
    let inv_std = (&var + eps)?.sqrt()?.recip()?;
    let normalised = centred.broadcast_mul(&inv_std)?;
    let z = normalised
        .broadcast_mul(&per_channel(&gamma.detach())?)?
        .broadcast_add(&per_channel(&beta.detach())?)?;
    let y = z.maximum(&(&z * f64::from(slope))?)?;
    let layer = Normalised {
        y,
        normalised,
        inv_std,
        slope,
    };
    let y = joined::join(x, gamma, beta, layer)?;
    Ok((y, mean.flatten_all()?, var.flatten_all()?))
}

/// The layer's output and what its gradients need.
struct Normalised {
    y: Tensor,
    /// `(x − μ)/σ`, `[N, C, H, W]`.
    normalised: Tensor,
    /// `1/σ`, `[1, C, 1, 1]`.
    inv_std: Tensor,
    slope: f32,
}

impl ClosedForm for Normalised {
    fn name(&self) -> &'static str {
        "device-batch-norm-act"
    }

    fn value(&self) -> &Tensor {
        &self.y
    }

    fn gradients(&self, [_, gamma, _]: [&Tensor; 3], _: [bool; 3], dy: &Tensor) -> Result<Grads> {
        let channels = gamma.dim(0)?;
        // Through the rectifier: slope where the output is not positive.
        let positive = self.y.gt(0.0)?.to_dtype(DType::F32)?;
        let dz = (dy * positive.affine(1.0 - f64::from(self.slope), f64::from(self.slope))?)?;
        let dbeta = dz.sum_keepdim(NHW)?;
        let dgamma = (&dz * &self.normalised)?.sum_keepdim(NHW)?;
        // dx = (γ/σ)·(dz − mean(dz) − x̂·mean(dz·x̂)), means over N, H, W.
        let count = (dz.elem_count() / channels) as f64;
        let gain = gamma
            .reshape((1, channels, 1, 1))?
            .broadcast_mul(&self.inv_std)?;
        let dx = dz
            .broadcast_sub(&(&dbeta / count)?)?
            .sub(&self.normalised.broadcast_mul(&(&dgamma / count)?)?)?
            .broadcast_mul(&gain)?;
        Ok((
            Some(dx),
            Some(dgamma.flatten_all()?),
            Some(dbeta.flatten_all()?),
        ))
    }
}
