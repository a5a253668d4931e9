//! Matrix products through the `gemm` crate (candle's own CPU matmul engine), called directly so
//! that operands can be read transposed through strides and results written into reused buffers.

use gemm::Parallelism;

/// A row-major matrix view `rows × cols`, possibly read transposed.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// The data holds the transpose (`cols × rows`, row-major).
    pub transposed: bool,
}

impl<'a> Mat<'a> {
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            transposed: false,
        }
    }

    /// The transpose of a row-major `rows × cols` matrix, read in place.
    pub fn t(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows: cols,
            cols: rows,
            transposed: true,
        }
    }

    /// (row stride, column stride) in elements.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (1, self.rows as isize)
        } else {
            (self.cols as isize, 1)
        }
    }
}

/// `out = a · b` (or `out += a · b` when `accumulate`), `out` row-major `a.rows × b.cols`;
/// on the thread pool when `parallel` (and the product is large enough).
pub fn matmul(a: Mat, b: Mat, out: &mut [f32], accumulate: bool, parallel: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && a.data.len() >= m * k && b.data.len() >= k * n && out.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out[..m * n].fill(0.0);
        }
        return;
    }
    let (a_rs, a_cs) = a.strides();
    let (b_rs, b_cs) = b.strides();
    // A thread per 2^20 multiply-adds (about 20 µs of work), at most the pool: waking a
    // thread costs microseconds, so the MLP's small products on 16 cores were no faster than
    // on 2 with every thread woken for each.
    let threads = ((m * n * k) >> 20).clamp(1, rayon::current_num_threads());
    let parallelism = if parallel && threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above bound every index gemm forms from (m, n, k) and the strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
