//! Nearest-neighbour upsampling by an integer factor on `[planes, h, w]` values, and its
//! adjoint (each output block summed back onto its input value). candle's own forms are slow
//! here: its `upsample_nearest2d` backward is a grouped convolution, and a broadcast's
//! backward a strided reduction.

use rayon::prelude::*;

/// `y[p, y·f + a, x·f + b] = x[p, y, x]` for every `a, b < f`.
pub fn forward(x: &[f32], (h, w): (usize, usize), factor: usize, y: &mut [f32]) {
    let (plane_in, wide) = (h * w, w * factor);
    y.par_chunks_mut(plane_in * factor * factor)
        .zip(x.par_chunks(plane_in))
        .for_each(|(out, input)| {
            for (row_in, rows_out) in input.chunks(w).zip(out.chunks_mut(wide * factor)) {
                let (first, rest) = rows_out.split_at_mut(wide);
                for (v, block) in row_in.iter().zip(first.chunks_mut(factor)) {
                    block.fill(*v);
                }
                for row in rest.chunks_mut(wide) {
                    row.copy_from_slice(first);
                }
            }
        });
}

/// The adjoint of [`forward`]: `dx[p, y, x] = Σ_{a,b} dy[p, y·f + a, x·f + b]`.
pub fn backward(dy: &[f32], (h, w): (usize, usize), factor: usize, dx: &mut [f32]) {
    let (plane_in, wide) = (h * w, w * factor);
    dx.par_chunks_mut(plane_in)
        .zip(dy.par_chunks(plane_in * factor * factor))
        .for_each(|(out, grad)| {
            for (row_out, rows_in) in out.chunks_mut(w).zip(grad.chunks(wide * factor)) {
                row_out.fill(0.0);
                for row in rows_in.chunks(wide) {
                    for (o, block) in row_out.iter_mut().zip(row.chunks(factor)) {
                        *o += block.iter().sum::<f32>();
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ⟨forward(x), g⟩ = ⟨x, backward(g)⟩ on a 2-plane 2×3 input, factor 3.
    #[test]
    fn backward_is_the_adjoint_of_forward() {
        let x: Vec<f32> = (0..12).map(|v| v as f32 - 5.0).collect();
        let g: Vec<f32> = (0..108).map(|v| ((v * 7) % 11) as f32 - 4.0).collect();
        let mut y = vec![0.0; 108];
        forward(&x, (2, 3), 3, &mut y);
        assert_eq!(
            y[0..9],
            [-5.0, -5.0, -5.0, -4.0, -4.0, -4.0, -3.0, -3.0, -3.0]
        );
        assert_eq!(y[9..18], y[0..9], "the rows of a block repeat");
        let mut dx = vec![0.0; 12];
        backward(&g, (2, 3), 3, &mut dx);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f32>();
        assert_eq!(dot(&y, &g), dot(&x, &dx));
    }
}
