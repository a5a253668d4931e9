//! [`Feed`]: one graph input's values, the currency between the generator and either engine
//! (tract or ONNX Runtime), so it exists whichever backends are compiled in.

/// One graph input's values for a run. A run takes one per graph input, in graph order.
#[derive(Debug, Clone, Copy)]
pub enum Feed<'a> {
    /// float32 values (a latent, an image).
    F32 {
        /// Row-major.
        values: &'a [f32],
        /// Dims, batch first.
        shape: &'a [usize],
    },
    /// int64 values (class labels).
    I64 {
        /// Row-major.
        values: &'a [i64],
        /// Dims, batch first.
        shape: &'a [usize],
    },
}

impl<'a> Feed<'a> {
    /// A float32 input of `shape`.
    pub fn f32(values: &'a [f32], shape: &'a [usize]) -> Self {
        Feed::F32 { values, shape }
    }

    /// Its dims, batch first.
    pub fn shape(&self) -> &'a [usize] {
        match *self {
            Feed::F32 { shape, .. } | Feed::I64 { shape, .. } => shape,
        }
    }
}
