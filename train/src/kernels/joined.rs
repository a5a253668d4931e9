//! Layers whose value is computed outside autograd and whose gradients are written out in closed
//! form, joined to the graph as one node. Through autograd a layer made of candle ops is one
//! node per op, and candle's backward pass gives every node a zero-filled gradient and an
//! addition; joined, a layer costs that once.

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CudaStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor, bail,
};

/// The gradients of a three-input op, `None` where not needed.
pub type Grads = (Option<Tensor>, Option<Tensor>, Option<Tensor>);

/// A layer `y = f(a, b, c)` with its value already computed and its gradients in closed form.
pub trait ClosedForm: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// The layer's output, computed without a graph.
    fn value(&self) -> &Tensor;

    /// The gradients of the inputs `[a, b, c]` that `needed` marks (those in the graph), given
    /// the output's gradient `dy`; all detached.
    fn gradients(&self, inputs: [&Tensor; 3], needed: [bool; 3], dy: &Tensor) -> Result<Grads>;
}

/// The layer's value as a node of the graph of `a`, `b` and `c`.
pub fn join(a: &Tensor, b: &Tensor, c: &Tensor, layer: impl ClosedForm) -> Result<Tensor> {
    a.apply_op3(b, c, Joined(layer))
}

struct Joined<L>(L);

impl<L: ClosedForm> Joined<L> {
    /// A copy of the value in the storage type `S` of the device the op runs on.
    fn copy<S: BackendStorage>(&self, pick: impl Fn(&Storage) -> Option<&S>) -> Result<(S, Shape)> {
        let (storage, layout) = self.0.value().storage_and_layout();
        if !layout.is_contiguous() || layout.start_offset() != 0 {
            bail!(
                "{}: the value must be a fresh contiguous tensor",
                self.0.name()
            );
        }
        let Some(y) = pick(&storage) else {
            bail!("{}: the value is on another device", self.0.name())
        };
        Ok((y.try_clone(layout)?, layout.shape().clone()))
    }
}

impl<L: ClosedForm> CustomOp3 for Joined<L> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.copy(|s| match s {
            Storage::Cpu(c) => Some(c),
            _ => None,
        })
    }

    fn cuda_fwd(
        &self,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
        _: &CudaStorage,
        _: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.copy(|s| match s {
            Storage::Cuda(c) => Some(c),
            _ => None,
        })
    }

    fn bwd(&self, a: &Tensor, b: &Tensor, c: &Tensor, _: &Tensor, dy: &Tensor) -> Result<Grads> {
        let needed = [a.track_op(), b.track_op(), c.track_op()];
        let (a, b, c) = (a.detach(), b.detach(), c.detach());
        self.0.gradients([&a, &b, &c], needed, &dy.detach())
    }
}
