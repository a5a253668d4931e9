//! An ONNX image classifier run by tract: its input size, outputs and metadata, and batched
//! evaluation over pictures.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::prelude::*;

use crate::pictures::{Picture, Preprocess};
use crate::{EvalError, Result};

pub struct Classifier {
    path: PathBuf,
    plan: Arc<TypedRunnableModel>,
    batch: usize,
    /// `[C, H, W]` of one input image.
    input: [usize; 3],
    outputs: Vec<String>,
    metadata: HashMap<String, String>,
}

/// The values of the requested outputs: per output, its width and `n × width` values.
#[derive(Debug, Clone)]
pub struct ClassifierOutputs {
    pub widths: Vec<usize>,
    pub values: Vec<Vec<f32>>,
}

impl Classifier {
    /// Load the classifier at `path`, compiled for batches of `batch_size` (or the model's own
    /// fixed batch size).
    pub fn load(path: &Path, batch_size: usize) -> Result<Self> {
        let bad = |reason: String| EvalError::file(path, reason);
        let onnx = tract_onnx::onnx();
        let proto = guarded(|| {
            onnx.proto_model_for_path(path)
                .map_err(|e| format!("cannot read an ONNX model: {e}"))
        })
        .map_err(bad)?;
        let graph = proto
            .graph
            .as_ref()
            .ok_or_else(|| bad("the model has no graph".into()))?;
        let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
        if outputs.is_empty() {
            return Err(bad("the model has no outputs".into()));
        }
        let input = graph
            .input
            .iter()
            .find(|i| !graph.initializer.iter().any(|t| t.name == i.name))
            .ok_or_else(|| bad("the model has no input".into()))?;
        let dims: Vec<Option<usize>> = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(TypeValue::TensorType(t)) => t
                .shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match d.value {
                            Some(DimValue::DimValue(v)) if v > 0 => Some(v as usize),
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let [batch_dim, Some(c), Some(h), Some(w)] = dims[..] else {
            return Err(bad(format!(
                "input `{}` must be an image batch [N, C, H, W] with fixed C, H, W; found {}",
                input.name,
                describe(&dims)
            )));
        };
        if c != 1 && c != 3 {
            return Err(bad(format!(
                "input `{}` has {c} channels; 1 or 3 are supported",
                input.name
            )));
        }
        let batch = batch_dim.unwrap_or(batch_size.max(1));
        let metadata: HashMap<String, String> = proto
            .metadata_props
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        let plan = guarded(|| {
            onnx.model_for_proto_model(&proto)
                .and_then(|m| m.with_input_fact(0, f32::fact([batch, c, h, w]).into()))
                .and_then(|m| m.into_optimized())
                .and_then(|m| m.into_runnable())
                .map_err(|e| format!("tract cannot run it: {e:#}"))
        })
        .map_err(bad)?;
        Ok(Classifier {
            path: path.to_path_buf(),
            plan,
            batch,
            input: [c, h, w],
            outputs,
            metadata,
        })
    }

    /// `[C, H, W]` of one input image.
    pub fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    pub fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// A `gan.*` metadata entry (the project's classifiers declare their normalisation and
    /// output names).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Index of the output called `name` (an error lists the outputs there are).
    pub fn output_index(&self, name: &str) -> Result<usize> {
        self.outputs.iter().position(|o| o == name).ok_or_else(|| {
            EvalError::file(
                &self.path,
                format!(
                    "has no output `{name}`; its outputs are: {}",
                    self.outputs.join(", ")
                ),
            )
        })
    }

    /// Run the classifier over `pictures` (converted by `preprocess`) and collect the outputs at
    /// `wanted` (indices). `progress` hears how many pictures each batch finished.
    pub fn run(
        &self,
        pictures: &[Picture],
        preprocess: &Preprocess,
        wanted: &[usize],
        progress: &mut dyn FnMut(usize),
    ) -> Result<ClassifierOutputs> {
        let [c, h, w] = self.input;
        let per_image = c * h * w;
        let mut widths = vec![0usize; wanted.len()];
        let mut values = vec![Vec::new(); wanted.len()];
        let mut input = Vec::with_capacity(self.batch * per_image);
        for chunk in pictures.chunks(self.batch) {
            for picture in chunk {
                preprocess.append(picture, &mut input);
            }
            // A short last batch is padded; the padding's outputs are dropped.
            input.resize(self.batch * per_image, 0.0);
            let batch = std::mem::replace(&mut input, Vec::with_capacity(self.batch * per_image));
            let tensor = tract_ndarray::ArrayD::from_shape_vec(vec![self.batch, c, h, w], batch)
                .map_err(|e| EvalError::file(&self.path, e.to_string()))?;
            let outputs = guarded(|| {
                self.plan
                    .run(tvec!(Tensor::from(tensor).into()))
                    .map_err(|e| format!("tract failed to run it: {e:#}"))
            })
            .map_err(|reason| EvalError::file(&self.path, reason))?;
            for (k, &index) in wanted.iter().enumerate() {
                let name = &self.outputs[index];
                let output = &outputs[index];
                let unusable = |why: String| {
                    EvalError::file(&self.path, format!("output `{name}` is not usable: {why}"))
                };
                if output.rank() == 0 || output.shape()[0] != self.batch {
                    return Err(unusable(format!(
                        "shape {:?} does not have one row per image of the batch of {}",
                        output.shape(),
                        self.batch
                    )));
                }
                let floats = output
                    .cast_to::<f32>()
                    .map_err(|e| unusable(format!("not numeric ({e})")))?;
                let row: Vec<f32> = floats
                    .to_plain_array_view::<f32>()
                    .map_err(|e| unusable(e.to_string()))?
                    .iter()
                    .copied()
                    .collect();
                widths[k] = row.len() / self.batch;
                if widths[k] == 0 {
                    return Err(unusable("it is empty".into()));
                }
                values[k].extend_from_slice(&row[..chunk.len() * widths[k]]);
            }
            progress(chunk.len());
        }
        Ok(ClassifierOutputs { widths, values })
    }
}

fn describe(dims: &[Option<usize>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Run `f`, turning a panic inside tract into an error.
fn guarded<T>(
    f: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err("tract panicked on this model".into()))
}
