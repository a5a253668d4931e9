//! Graph rewrites applied while lowering, one per file as tract keeps its optimisations: each
//! computes the same function as the layers it replaces, which the export self-check proves.

pub mod fold_bn;
pub mod fold_spectral_norm;
pub mod subpixel;
