//! Adam (Kingma & Ba), PyTorch's formulation, with state that checkpoints can save and restore
//! (candle-nn's optimisers keep theirs private).

use candle_core::{Tensor, Var, backprop::GradStore};

use crate::error::Result;
use crate::kernels::{self, adam::AdamStep};
use crate::net::Net;

pub const EPS: f64 = 1e-8;

/// The update off the CPU: the same f32 arithmetic as [`kernels::adam::update`] in candle's ops.
fn update_with_candle_ops(
    param: &Var,
    g: &Tensor,
    m: &mut Tensor,
    v: &mut Tensor,
    s: AdamStep,
) -> Result<()> {
    // A gradient can carry an autograd graph (spectral norm's W/σ makes one); moments built on
    // it would chain every step's graph to the next and keep all of them alive (on the H200 a
    // spectrally normalised run ran out of its 139 GiB after 1,700 steps).
    let g = &g.detach();
    let affine = |t: &Tensor, mul: f32, add: f32| t.affine(f64::from(mul), f64::from(add));
    *m = (affine(m, s.beta1, 0.0)? + affine(g, s.one_minus_beta1, 0.0)?)?;
    *v = (affine(v, s.beta2, 0.0)? + affine(&g.sqr()?, s.one_minus_beta2, 0.0)?)?;
    let denom = affine(&affine(v, s.inv_correction2, 0.0)?.sqrt()?, 1.0, s.eps)?;
    let update = (affine(m, s.inv_correction1, 0.0)? / denom)?;
    param.set(&(param.as_tensor() - affine(&update, s.lr, 0.0)?)?)?;
    Ok(())
}

/// Adam over the trainable parameters of one [`Net`].
pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Updates taken so far (for bias correction).
    pub steps: u64,
    /// First and second moment per trainable parameter, in [`Net::trainable`] order.
    moments: Vec<(Tensor, Tensor)>,
}

impl Adam {
    pub fn new(net: &Net, lr: f64, beta1: f64, beta2: f64) -> Result<Self> {
        let moments = net
            .trainable()
            .map(|p| Ok((p.var.zeros_like()?, p.var.zeros_like()?)))
            .collect::<Result<_>>()?;
        Ok(Adam {
            lr,
            beta1,
            beta2,
            steps: 0,
            moments,
        })
    }

    /// One update of every trainable parameter of `net` that has a gradient in `grads`.
    pub fn step(&mut self, net: &Net, grads: &GradStore) -> Result<()> {
        kernels::profile::timed_on(&net.device(), "adam", || self.step_all(net, grads))
    }

    fn step_all(&mut self, net: &Net, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        let step = self.constants();
        for (param, (m, v)) in net.trainable().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(param.var.as_tensor()) else {
                continue;
            };
            if param.var.device().is_cpu() {
                kernels::adam::update(param.var.as_tensor(), g, m, v, step)?;
            } else {
                update_with_candle_ops(&param.var, g, m, v, step)?;
            }
        }
        Ok(())
    }

    /// This step's constants (after `steps` was advanced).
    fn constants(&self) -> AdamStep {
        let t = self.steps as i32;
        AdamStep {
            beta1: self.beta1 as f32,
            one_minus_beta1: (1.0 - self.beta1) as f32,
            beta2: self.beta2 as f32,
            one_minus_beta2: (1.0 - self.beta2) as f32,
            inv_correction1: (1.0 / (1.0 - self.beta1.powi(t))) as f32,
            inv_correction2: (1.0 / (1.0 - self.beta2.powi(t))) as f32,
            eps: EPS as f32,
            lr: self.lr as f32,
        }
    }

    /// Moment tensors named after their parameters (`layers.0.weight.exp_avg`, `.exp_avg_sq`).
    pub fn named_state(&self, net: &Net) -> Vec<(String, Tensor)> {
        net.trainable()
            .zip(&self.moments)
            .flat_map(|(p, (m, v))| {
                [
                    (format!("{}.exp_avg", p.name), m.clone()),
                    (format!("{}.exp_avg_sq", p.name), v.clone()),
                ]
            })
            .collect()
    }

    /// Replace the moments with `take(name, shape)` for each name of [`Self::named_state`].
    pub fn restore(
        &mut self,
        net: &Net,
        steps: u64,
        mut take: impl FnMut(&str, &[usize]) -> Result<Tensor>,
    ) -> Result<()> {
        for (p, (m, v)) in net.trainable().zip(self.moments.iter_mut()) {
            let shape = p.var.dims().to_vec();
            *m = take(&format!("{}.exp_avg", p.name), &shape)?;
            *v = take(&format!("{}.exp_avg_sq", p.name), &shape)?;
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    /// The fused CPU kernel and the candle ops agree bit for bit over several steps.
    #[test]
    fn the_fused_update_equals_the_candle_ops() {
        let device = Device::Cpu;
        let n = 40_000; // more than one parallel chunk
        let wave =
            |k: f32| Tensor::from_vec((0..n).map(|i| (i as f32 * k).sin()).collect(), n, &device);
        let start = wave(0.37).unwrap();
        let fused = (
            Var::from_tensor(&start).unwrap(),
            start.zeros_like().unwrap(),
            start.zeros_like().unwrap(),
        );
        let mut ops = (
            Var::from_tensor(&start).unwrap(),
            start.zeros_like().unwrap(),
            start.zeros_like().unwrap(),
        );
        let mut adam = Adam {
            lr: 2e-4,
            beta1: 0.5,
            beta2: 0.999,
            steps: 0,
            moments: Vec::new(),
        };
        for t in 1..=4u8 {
            adam.steps += 1;
            let g = wave(f32::from(t) * 1.3).unwrap();
            let step = adam.constants();
            kernels::adam::update(fused.0.as_tensor(), &g, &fused.1, &fused.2, step).unwrap();
            update_with_candle_ops(&ops.0, &g, &mut ops.1, &mut ops.2, step).unwrap();
        }
        let bits = |t: &Tensor| {
            t.to_vec1::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bits(fused.0.as_tensor()),
            bits(ops.0.as_tensor()),
            "parameters"
        );
        assert_eq!(bits(&fused.2), bits(&ops.2), "second moments");
        assert_ne!(
            bits(fused.0.as_tensor()),
            bits(&start),
            "the parameters moved"
        );
    }

    /// A gradient that is itself the result of tracked ops leaves no graph in the moments, so
    /// nothing from one step is kept alive by the next.
    #[test]
    fn the_moments_hold_no_autograd_graph() {
        let device = Device::Cpu;
        let param = Var::from_slice(&[1f32, -2.0, 3.0], 3, &device).unwrap();
        let tracked_grad = (param.as_tensor() * 0.5).unwrap();
        assert!(
            tracked_grad.track_op(),
            "the test's gradient carries a graph"
        );
        let (mut m, mut v) = (
            param.as_tensor().zeros_like().unwrap(),
            param.as_tensor().zeros_like().unwrap(),
        );
        let adam = Adam {
            lr: 1e-3,
            beta1: 0.5,
            beta2: 0.999,
            steps: 1,
            moments: Vec::new(),
        };
        update_with_candle_ops(&param, &tracked_grad, &mut m, &mut v, adam.constants()).unwrap();
        assert!(!m.track_op() && !v.track_op());
        assert!(m.to_vec1::<f32>().unwrap().iter().all(|x| *x != 0.0));
    }
}
