//! The data movements of a lowered convolution as single ops on any device: [`im2col`] gathers
//! a convolution's column matrix, [`col2im`] sums a column matrix back into an image. On the CPU
//! they are the loops below; on CUDA the kernels in `cuda/columns.cu`, one launch each, where the
//! same movement in candle's tensor ops takes dozens. They are used outside autograd (the lowered
//! layers bring their own backward pass), so they have no gradients of their own.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

pub use super::conv::Geometry;

/// The shapes and kernel arguments of a convolution's two sides, in `Geometry`'s terms: images
/// `[n, ca, ha, wa]`, and `hb × wb` output positions, the rows of the column matrix.
trait Sides {
    fn image_shape(&self) -> Shape;
    fn columns_shape(&self) -> Shape;
    /// The CUDA kernels' arguments after the two buffers.
    #[cfg(feature = "cuda")]
    fn as_args(&self) -> [i32; 9];
}

impl Sides for Geometry {
    fn image_shape(&self) -> Shape {
        Shape::from((self.n, self.ca, self.ha, self.wa))
    }

    fn columns_shape(&self) -> Shape {
        Shape::from((self.n * self.hb * self.wb, self.patch()))
    }

    #[cfg(feature = "cuda")]
    fn as_args(&self) -> [i32; 9] {
        [
            self.n,
            self.ca,
            self.ha,
            self.wa,
            self.k,
            self.stride,
            self.pad,
            self.hb,
            self.wb,
        ]
        .map(|v| i32::try_from(v).unwrap_or(i32::MAX))
    }
}

/// `x` `[n, ca, ha, wa]` → its column matrix `[n·hb·wb, ca·k·k]`: row (image, i, j), column
/// (channel, kh, kw) holds `x[image, channel, i·s + kh − p, j·s + kw − p]`, zero outside.
pub fn im2col(x: &Tensor, geometry: Geometry) -> Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&Movement {
        geometry,
        gather: true,
    })
}

/// The adjoint of [`im2col`]: `[n·hb·wb, ca·k·k]` → `[n, ca, ha, wa]`, each image element the
/// sum of the column entries that read it. Applied to a product `x · W`, the transposed
/// convolution of `x`.
pub fn col2im(columns: &Tensor, geometry: Geometry) -> Result<Tensor> {
    columns.contiguous()?.apply_op1_no_bwd(&Movement {
        geometry,
        gather: false,
    })
}

/// [`im2col`] (`gather`) or [`col2im`].
struct Movement {
    geometry: Geometry,
    gather: bool,
}

impl Movement {
    /// Input and output shapes.
    fn shapes(&self) -> (Shape, Shape) {
        let (image, columns) = (self.geometry.image_shape(), self.geometry.columns_shape());
        if self.gather {
            (image, columns)
        } else {
            (columns, image)
        }
    }
}

impl CustomOp1 for Movement {
    fn name(&self) -> &'static str {
        if self.gather { "im2col" } else { "col2im" }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (input, output) = self.shapes();
        let values = match layout.contiguous_offsets() {
            Some((start, end)) if end - start == input.elem_count() => {
                &storage.as_slice::<f32>()?[start..end]
            }
            _ => bail!(
                "{}: expected a contiguous input of shape {input:?}",
                self.name()
            ),
        };
        let out = if self.gather {
            gather(self.geometry, values)
        } else {
            scatter(self.geometry, values)
        };
        Ok((CpuStorage::F32(out), output))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (_, output) = self.shapes();
        let kernel = if self.gather {
            "im2col_f32"
        } else {
            "col2im_f32"
        };
        let out = cuda::launch(kernel, storage, layout, output.elem_count(), self.geometry)?;
        Ok((out, output))
    }
}

fn gather(g: Geometry, x: &[f32]) -> Vec<f32> {
    let mut col = vec![0f32; g.n * g.hb * g.wb * g.patch()];
    col.par_chunks_mut(g.patch())
        .enumerate()
        .for_each(|(r, out)| {
            let (img, i, j) = (r / (g.hb * g.wb), (r / g.wb) % g.hb, r % g.wb);
            for (q, v) in out.iter_mut().enumerate() {
                let (ch, kh, kw) = (q / (g.k * g.k), (q / g.k) % g.k, q % g.k);
                if let (Some(y), Some(xx)) = (g.source(i, kh, g.ha), g.source(j, kw, g.wa)) {
                    *v = x[((img * g.ca + ch) * g.ha + y) * g.wa + xx];
                }
            }
        });
    col
}

fn scatter(g: Geometry, col: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; g.n * g.ca * g.ha * g.wa];
    out.par_chunks_mut(g.ha * g.wa)
        .enumerate()
        .for_each(|(p, out)| {
            let (img, ch) = (p / g.ca, p % g.ca);
            for (o, v) in out.iter_mut().enumerate() {
                let (py, px) = (o / g.wa + g.pad, o % g.wa + g.pad);
                let mut acc = 0f32;
                for kh in (py % g.stride..g.k.min(py + 1)).step_by(g.stride) {
                    let i = (py - kh) / g.stride;
                    if i >= g.hb {
                        continue;
                    }
                    for kw in (px % g.stride..g.k.min(px + 1)).step_by(g.stride) {
                        let j = (px - kw) / g.stride;
                        if j < g.wb {
                            acc += col[((img * g.hb + i) * g.wb + j) * g.patch()
                                + (ch * g.k + kh) * g.k
                                + kw];
                        }
                    }
                }
                *v = acc;
            }
        });
    out
}

#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::backend::BackendStorage;
    use candle_core::cuda_backend::WrapErr;
    use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
    use candle_core::{CudaStorage, Layout, Result, bail};

    use super::{Geometry, Sides};

    const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/columns.ptx"));

    /// Run kernel `name` of `columns.cu` on the contiguous f32 `input`, into `len` new values.
    pub fn launch(
        name: &str,
        input: &CudaStorage,
        layout: &Layout,
        len: usize,
        g: Geometry,
    ) -> Result<CudaStorage> {
        if !layout.is_contiguous() {
            bail!("{name}: expected a contiguous input");
        }
        let device = input.device();
        let src = input.as_cuda_slice::<f32>()?;
        let src = src.slice(layout.start_offset()..);
        let func = device.get_or_load_custom_func(name, "gan_columns", PTX)?;
        // SAFETY: the kernel writes every one of the `len` values.
        let out = unsafe { device.alloc::<f32>(len)? };
        let threads = u32::try_from(len).unwrap_or(u32::MAX);
        let mut config = LaunchConfig::for_num_elems(threads);
        // A grid-stride loop covers whatever the grid does not.
        config.grid_dim.0 = config.grid_dim.0.clamp(1, 65_535);
        let args = g.as_args();
        let mut builder = func.builder();
        builder.arg(&src);
        builder.arg(&out);
        for arg in &args {
            builder.arg(arg);
        }
        // SAFETY: the arguments match the kernel's signature (two pointers, nine ints) and the
        // buffers hold what the geometry says.
        unsafe { builder.launch(config) }.w()?;
        Ok(CudaStorage::wrap_cuda_slice(out, device.clone()))
    }
}
