//! Graph rewrites applied while lowering, one per file as tract keeps its optimisations: each
//! computes the same function as the layers it replaces, which the export self-check proves.

pub mod fold_bn;
pub mod fold_spectral_norm;
pub mod subpixel;

/// A checkpoint tensor for the passes' tests.
#[cfg(test)]
fn tensor(shape: &[usize], values: &[f32]) -> gan_models::weights::Tensor {
    gan_models::weights::Tensor {
        shape: shape.to_vec(),
        values: values.to_vec(),
    }
}
