//! Reused work buffers (column matrices, transposed copies). Fresh multi-megabyte allocations
//! are mapped and zero-filled by the kernel on every step — a quarter of candle's training time
//! went to those page faults — so the kernels borrow buffers from this pool; a buffer goes back
//! when its [`Scratch`] guard is dropped.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A borrowed buffer of `len` elements; its contents are unspecified until written.
pub struct Scratch {
    buffer: Vec<f32>,
    len: usize,
}

/// Borrow a buffer of `len` elements.
pub fn take(len: usize) -> Scratch {
    let mut pool = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // The smallest buffer that is long enough, else the longest one (grown once).
    let pick = pool
        .iter()
        .enumerate()
        .filter(|(_, b)| b.len() >= len)
        .min_by_key(|(_, b)| b.len())
        .map(|(i, _)| i)
        .or_else(|| (0..pool.len()).max_by_key(|&i| pool[i].len()));
    let mut buffer = pick.map(|i| pool.swap_remove(i)).unwrap_or_default();
    drop(pool);
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    Scratch { buffer, len }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buffer[..self.len]
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buffer[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        POOL.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(buffer);
    }
}
