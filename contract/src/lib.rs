//! gan-contract: what the files this toolkit writes promise to whoever reads them.
//!
//! The exporter writes ONNX files from these names, the runtime and the evaluator read them by
//! these names, and training draws its sample grids with the same pixel rule the runtime uses,
//! so a picture of one output is the same everywhere. Nothing here depends on anything: it is
//! constants and pure functions, the leaf every other crate may use. [`limits`] holds every
//! size limit of the toolkit.
//!
//! ```
//! use gan_contract::{metadata, pixels::OutputRange, tensor};
//! assert_eq!(metadata::ROLE, "gan.role");
//! assert_eq!(tensor::LATENT, "z");
//! // The pixel rule: scale to [0, 255], round half to even (ONNX `Round`), clamp.
//! assert_eq!(OutputRange::MinusOneToOne.to_byte(0.0), 128); // 127.5 rounds to even
//! assert_eq!(OutputRange::MinusOneToOne.to_byte(2.0), 255);
//! ```

pub mod grid;
pub mod limits;
pub mod metadata;
pub mod pixels;
pub mod tensor;

pub use pixels::OutputRange;
