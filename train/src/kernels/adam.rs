//! Adam's update as three in-place passes over the CPU tensors (both moments, then the
//! parameter), each split across threads. candle's element-wise ops would make ten passes per
//! parameter, allocate a tensor for each, and run the unary ones on one thread.
//!
//! The arithmetic is the same f32 sequence as [`crate::adam::Adam`]'s candle ops (a division by a
//! correction is a product with its f32 reciprocal, as candle's affine op does), so either path
//! gives the same bits.

use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, bail};
use rayon::prelude::*;

/// Elements per parallel task.
const CHUNK: usize = 1 << 14;

/// The constants of one Adam step, already rounded to f32 as candle rounds them.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    pub beta1: f32,
    pub one_minus_beta1: f32,
    pub beta2: f32,
    pub one_minus_beta2: f32,
    /// `1 / (1 − β₁ᵗ)` and `1 / (1 − β₂ᵗ)`.
    pub inv_correction1: f32,
    pub inv_correction2: f32,
    pub eps: f32,
    pub lr: f32,
}

/// `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g²`, `p ← p − lr·(m/c₁)/(√(v/c₂) + ε)`, in place.
pub fn update(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, step: AdamStep) -> Result<()> {
    let g = g.contiguous()?;
    m.inplace_op2(
        &g,
        &Moment {
            step,
            squared: false,
        },
    )?;
    v.inplace_op2(
        &g,
        &Moment {
            step,
            squared: true,
        },
    )?;
    p.inplace_op3(m, v, &Apply(step))
}

fn values<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&storage.as_slice::<f32>()?[start..end]),
        None => bail!("Adam's state must be contiguous"),
    }
}

fn values_mut<'a>(storage: &'a mut CpuStorage, layout: &Layout) -> Result<&'a mut [f32]> {
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("Adam's state must be contiguous")
    };
    match storage {
        CpuStorage::F32(data) => Ok(&mut data[start..end]),
        _ => bail!("Adam's state must be f32"),
    }
}

struct Moment {
    step: AdamStep,
    squared: bool,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adam-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let (moment, grad) = (values_mut(s1, l1)?, values(s2, l2)?);
        let (decay, keep) = if self.squared {
            (self.step.beta2, self.step.one_minus_beta2)
        } else {
            (self.step.beta1, self.step.one_minus_beta1)
        };
        let squared = self.squared;
        moment
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .for_each(|(m, g)| {
                for (m, &g) in m.iter_mut().zip(g) {
                    let g = if squared { g * g } else { g };
                    *m = *m * decay + g * keep;
                }
            });
        Ok(())
    }
}

struct Apply(AdamStep);

impl InplaceOp3 for Apply {
    fn name(&self) -> &'static str {
        "adam-apply"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let (param, m, v) = (values_mut(s1, l1)?, values(s2, l2)?, values(s3, l3)?);
        let s = self.0;
        param
            .par_chunks_mut(CHUNK)
            .zip(m.par_chunks(CHUNK).zip(v.par_chunks(CHUNK)))
            .for_each(|(p, (m, v))| {
                for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
                    let denom = (v * s.inv_correction2).sqrt() + s.eps;
                    *p -= (m * s.inv_correction1) / denom * s.lr;
                }
            });
        Ok(())
    }
}
