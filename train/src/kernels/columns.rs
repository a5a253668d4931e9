//! The data movements of a lowered convolution as single ops on any device: [`im2col`] gathers
//! a convolution's column matrix, [`col2im`] sums a column matrix back into an image. On the CPU
//! they are the loops below; on CUDA the kernels in `cuda/columns.cu`, one launch each, where the
//! same movement in candle's tensor ops takes dozens. They are used outside autograd (the lowered
//! layers bring their own backward pass), so they have no gradients of their own.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// The geometry both ops share: a convolution from images `[n, c, h, w]` with a `k × k` kernel,
/// `stride` and `pad`, to `h_out × w_out` output positions (the rows of the column matrix).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub h_out: usize,
    pub w_out: usize,
}

impl Window {
    /// Length of a column-matrix row: one value per (channel, kernel row, kernel column).
    fn row(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Image coordinate of position `o` under tap `t`, if inside an image side of `size`.
    fn source(&self, o: usize, t: usize, size: usize) -> Option<usize> {
        (o * self.stride + t)
            .checked_sub(self.pad)
            .filter(|&i| i < size)
    }

    /// The kernel's arguments after the two buffers.
    #[cfg(feature = "cuda")]
    fn as_args(&self) -> [i32; 9] {
        [
            self.n,
            self.c,
            self.h,
            self.w,
            self.k,
            self.stride,
            self.pad,
            self.h_out,
            self.w_out,
        ]
        .map(|v| i32::try_from(v).unwrap_or(i32::MAX))
    }
}

impl Window {
    fn image_shape(&self) -> Shape {
        Shape::from((self.n, self.c, self.h, self.w))
    }

    fn columns_shape(&self) -> Shape {
        Shape::from((self.n * self.h_out * self.w_out, self.row()))
    }
}

/// `x` `[n, c, h, w]` → its column matrix `[n·h_out·w_out, c·k·k]`: row (image, i, j), column
/// (channel, kh, kw) holds `x[image, channel, i·s + kh − p, j·s + kw − p]`, zero outside.
pub fn im2col(x: &Tensor, window: Window) -> Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&Movement {
        window,
        gather: true,
    })
}

/// The adjoint of [`im2col`]: `[n·h_out·w_out, c·k·k]` → `[n, c, h, w]`, each image element the
/// sum of the column entries that read it. Applied to a product `x · W`, the transposed
/// convolution of `x`.
pub fn col2im(columns: &Tensor, window: Window) -> Result<Tensor> {
    columns.contiguous()?.apply_op1_no_bwd(&Movement {
        window,
        gather: false,
    })
}

/// [`im2col`] (`gather`) or [`col2im`].
struct Movement {
    window: Window,
    gather: bool,
}

impl Movement {
    /// Input and output shapes.
    fn shapes(&self) -> (Shape, Shape) {
        let (image, columns) = (self.window.image_shape(), self.window.columns_shape());
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
            gather(self.window, values)
        } else {
            scatter(self.window, values)
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
        let out = cuda::launch(kernel, storage, layout, output.elem_count(), self.window)?;
        Ok((out, output))
    }
}

fn gather(g: Window, x: &[f32]) -> Vec<f32> {
    let mut col = vec![0f32; g.n * g.h_out * g.w_out * g.row()];
    col.par_chunks_mut(g.row())
        .enumerate()
        .for_each(|(r, out)| {
            let (img, i, j) = (
                r / (g.h_out * g.w_out),
                (r / g.w_out) % g.h_out,
                r % g.w_out,
            );
            for (q, v) in out.iter_mut().enumerate() {
                let (ch, kh, kw) = (q / (g.k * g.k), (q / g.k) % g.k, q % g.k);
                if let (Some(y), Some(xx)) = (g.source(i, kh, g.h), g.source(j, kw, g.w)) {
                    *v = x[((img * g.c + ch) * g.h + y) * g.w + xx];
                }
            }
        });
    col
}

fn scatter(g: Window, col: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; g.n * g.c * g.h * g.w];
    out.par_chunks_mut(g.h * g.w)
        .enumerate()
        .for_each(|(p, out)| {
            let (img, ch) = (p / g.c, p % g.c);
            for (o, v) in out.iter_mut().enumerate() {
                let (py, px) = (o / g.w + g.pad, o % g.w + g.pad);
                let mut acc = 0f32;
                for kh in (py % g.stride..g.k.min(py + 1)).step_by(g.stride) {
                    let i = (py - kh) / g.stride;
                    if i >= g.h_out {
                        continue;
                    }
                    for kw in (px % g.stride..g.k.min(px + 1)).step_by(g.stride) {
                        let j = (px - kw) / g.stride;
                        if j < g.w_out {
                            acc += col[((img * g.h_out + i) * g.w_out + j) * g.row()
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

    use super::Window;

    const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/columns.ptx"));

    /// Run kernel `name` of `columns.cu` on the contiguous f32 `input`, into `len` new values.
    pub fn launch(
        name: &str,
        input: &CudaStorage,
        layout: &Layout,
        len: usize,
        g: Window,
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
