//! An ONNX image classifier, opened and run through `gan-runtime`'s [`OnnxModel`] (which
//! validates the file and guards against panics): its input size, outputs and metadata, and
//! batched evaluation over pictures.

use std::path::Path;

use gan_contract::metadata;
use gan_runtime::{Feed, OnnxModel};

use crate::pictures::{Picture, Preprocess};
use crate::{EvalError, Result};

#[derive(Debug)]
pub struct Classifier {
    model: OnnxModel,
    batch: usize,
    /// `[C, H, W]` of one input image.
    input: [usize; 3],
    outputs: Vec<String>,
}

/// `n` rows of one classifier output, row-major: one row of `width` values per picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub values: Vec<f32>,
    pub width: usize,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl Classifier {
    /// Load the classifier at `path`, compiled for batches of `batch_size` (or the model's own
    /// fixed batch size).
    pub fn load(path: &Path, batch_size: usize) -> Result<Self> {
        let bad = |reason: String| EvalError::file(path, reason);
        let model = OnnxModel::open(path, None)?;
        let signature = model.signature();
        let outputs: Vec<String> = signature.outputs.iter().map(|o| o.name.clone()).collect();
        if outputs.is_empty() {
            return Err(bad("the model has no outputs".into()));
        }
        let [input] = signature.inputs.as_slice() else {
            return Err(bad(format!(
                "a classifier takes one input (an image batch); this model has {}",
                signature.inputs.len()
            )));
        };
        let [batch_dim, Some(c), Some(h), Some(w)] = input.dims[..] else {
            return Err(bad(format!(
                "input `{}` must be an image batch [N, C, H, W] with fixed C, H, W; found {}",
                input.name,
                describe(&input.dims)
            )));
        };
        if c != 1 && c != 3 {
            return Err(bad(format!(
                "input `{}` has {c} channels; 1 or 3 are supported",
                input.name
            )));
        }
        if h == 0 || w == 0 || batch_dim == Some(0) {
            return Err(bad(format!(
                "input `{}` has an empty dimension: {}",
                input.name,
                describe(&input.dims)
            )));
        }
        let batch = batch_dim.unwrap_or(batch_size.max(1));
        let classifier = Classifier {
            model,
            batch,
            input: [c, h, w],
            outputs,
        };
        // Compile the plan now: a classifier that loads must also run.
        let input = vec![0.0; batch * c * h * w];
        classifier
            .model
            .prepare(&[Feed::f32(&input, &[batch, c, h, w])])?;
        Ok(classifier)
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
        self.model.metadata(key)
    }

    /// The output the file's metadata names as class scores (`gan.logits_output`).
    pub fn declared_logits_output(&self) -> Option<&str> {
        self.metadata(metadata::LOGITS_OUTPUT)
    }

    /// The output the file's metadata names as FID features (`gan.features_output`).
    pub fn declared_features_output(&self) -> Option<&str> {
        self.metadata(metadata::FEATURES_OUTPUT)
    }

    /// The class names the file's metadata lists (`gan.classes`, a JSON list), if any.
    /// A list that does not parse counts as none: classes are then matched by number.
    pub fn declared_classes(&self) -> Option<Vec<String>> {
        self.model.signature().declared_classes()?.ok()
    }

    /// The file the classifier was loaded from.
    pub fn path(&self) -> &Path {
        self.model.path()
    }

    /// How the file's metadata says inputs are scaled (`gan.normalize`).
    pub fn declared_normalize(&self) -> Option<&str> {
        self.metadata(metadata::NORMALIZE)
    }

    /// Index of the output called `name` (an error lists the outputs there are).
    pub fn output_index(&self, name: &str) -> Result<usize> {
        self.outputs.iter().position(|o| o == name).ok_or_else(|| {
            EvalError::file(
                self.model.path(),
                format!(
                    "has no output `{name}`; its outputs are: {}",
                    self.outputs.join(", ")
                ),
            )
        })
    }

    /// Run the classifier over `pictures` (converted by `preprocess`) and collect the outputs at
    /// `wanted` (indices), one [`Rows`] each, in that order. `progress` hears how many pictures
    /// each batch finished.
    pub fn run(
        &self,
        pictures: &[Picture],
        preprocess: &Preprocess,
        wanted: &[usize],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Rows>> {
        let [c, h, w] = self.input;
        let per_image = c * h * w;
        let mut rows = vec![
            Rows {
                values: Vec::new(),
                width: 0,
            };
            wanted.len()
        ];
        let mut input = Vec::with_capacity(self.batch * per_image);
        for chunk in pictures.chunks(self.batch) {
            for picture in chunk {
                preprocess.append(picture, &mut input);
            }
            // A short last batch is padded; the padding's outputs are dropped.
            input.resize(self.batch * per_image, 0.0);
            let batch = std::mem::replace(&mut input, Vec::with_capacity(self.batch * per_image));
            let outputs = self.run_batch(&batch, wanted)?;
            for ((&index, output), rows) in wanted.iter().zip(outputs).zip(&mut rows) {
                let name = &self.outputs[index];
                let unusable = |why: String| {
                    EvalError::file(
                        self.model.path(),
                        format!("output `{name}` is not usable: {why}"),
                    )
                };
                if output.shape.first() != Some(&self.batch) {
                    return Err(unusable(format!(
                        "shape {:?} does not have one row per image of the batch of {}",
                        output.shape, self.batch
                    )));
                }
                rows.width = output.values.len() / self.batch;
                if rows.width == 0 {
                    return Err(unusable("it is empty".into()));
                }
                rows.values
                    .extend_from_slice(&output.values[..chunk.len() * rows.width]);
            }
            progress(chunk.len());
        }
        Ok(rows)
    }

    /// One compiled batch through the model.
    fn run_batch(&self, input: &[f32], wanted: &[usize]) -> Result<Vec<gan_runtime::OutputTensor>> {
        let [c, h, w] = self.input;
        let shape = [self.batch, c, h, w];
        Ok(self.model.run(&[Feed::f32(input, &shape)], wanted)?)
    }
}

fn describe(dims: &[Option<usize>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or("?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}
