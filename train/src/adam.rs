//! Adam (Kingma & Ba), PyTorch's formulation, with state that checkpoints can save and restore
//! (candle-nn's optimisers keep theirs private).

use candle_core::{Tensor, backprop::GradStore};

use crate::error::Result;
use crate::net::Net;

pub const EPS: f64 = 1e-8;

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
        crate::kernels::profile::timed("adam", || self.step_all(net, grads))
    }

    fn step_all(&mut self, net: &Net, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        let t = self.steps as i32;
        let correction1 = 1.0 - self.beta1.powi(t);
        let correction2 = 1.0 - self.beta2.powi(t);
        for (param, (m, v)) in net.trainable().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(param.var.as_tensor()) else {
                continue;
            };
            *m = ((&*m * self.beta1)? + (g * (1.0 - self.beta1))?)?;
            *v = ((&*v * self.beta2)? + (g.sqr()? * (1.0 - self.beta2))?)?;
            let denom = ((&*v / correction2)?.sqrt()? + EPS)?;
            let update = ((&*m / correction1)? / denom)?;
            param
                .var
                .set(&(param.var.as_tensor() - (update * self.lr)?)?)?;
        }
        Ok(())
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
