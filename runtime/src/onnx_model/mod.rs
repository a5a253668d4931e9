//! [`OnnxModel`]: the one place in the workspace that opens and runs an ONNX file with tract.
//!
//! Opening a model reads it under a size cap, decodes it, validates it before tract sees it
//! ([`validate`]: tensor sizes against their data, external data inside the model's folder, no
//! control flow), describes its inputs, outputs and metadata ([`Signature`]) and parses it.
//! Running it compiles one optimised plan per input shape (a pinned batch runs about twice as
//! fast as a symbolic one), kept for later calls, on a private multi-threaded executor. Every
//! tract call runs under one panic guard, so a hostile file is an error, never an abort.
//! The generator, `gan-eval`'s classifier and `gan-export`'s self-check all go through here.

mod describe;
mod validate;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::prelude::*;

use gan_contract::limits::MAX_TENSOR_ELEMENTS;

use crate::error::{Result, RuntimeError};
use crate::feed::Feed;
use crate::limits::{check_file_size, check_model_size};
use crate::signature::Signature;

type Plan = Arc<TypedRunnableModel>;

/// What tract needs to know of a feed to compile a plan for it.
fn feed_fact(feed: &Feed) -> InferenceFact {
    match feed {
        Feed::F32 { shape, .. } => f32::fact(*shape).into(),
        Feed::I64 { shape, .. } => i64::fact(*shape).into(),
    }
}

/// A feed's values as a tract tensor.
fn feed_tensor(feed: &Feed) -> std::result::Result<Tensor, String> {
    match *feed {
        Feed::F32 { values, shape } => Tensor::from_shape(shape, values),
        Feed::I64 { values, shape } => Tensor::from_shape(shape, values),
    }
    .map_err(|e| format!("{e:#}"))
}

/// A plan is compiled for one set of input shapes and types.
type PlanKey = Vec<(bool, Vec<usize>)>;

fn plan_key(feeds: &[Feed]) -> PlanKey {
    feeds
        .iter()
        .map(|f| (matches!(f, Feed::I64 { .. }), f.shape().to_vec()))
        .collect()
}

/// One output of a run: its shape and its values as f32 (integer outputs are widened).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    /// Dims, batch first.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// An ONNX model opened, validated and ready to run with tract. `Send + Sync`: share it between
/// threads; compiled plans are reused.
pub struct OnnxModel {
    path: PathBuf,
    model: InferenceModel,
    signature: Signature,
    plans: Mutex<HashMap<PlanKey, Plan>>,
    executor: Executor,
    threads: usize,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("path", &self.path)
            .field("signature", &self.signature)
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Open the ONNX file at `path`, run with `threads` intra-op threads (default: the
    /// machine's cores).
    pub fn open(path: impl AsRef<Path>, threads: Option<usize>) -> Result<Self> {
        let path = path.as_ref();
        check_file_size(path)?;
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::decode(path, &bytes, path.parent(), threads)
    }

    /// A model from the bytes of an ONNX file (a browser's upload, an engine's asset), named
    /// `name` in messages. Its tensors must all be inside it: there is no folder for external
    /// data.
    pub fn from_bytes(name: &str, bytes: &[u8], threads: Option<usize>) -> Result<Self> {
        let name = Path::new(name);
        check_model_size(name, bytes.len() as u64)?;
        Self::decode(name, bytes, None, threads)
    }

    /// Decode, validate and describe `bytes`, external data resolved in `folder`.
    fn decode(
        path: &Path,
        bytes: &[u8],
        folder: Option<&Path>,
        threads: Option<usize>,
    ) -> Result<Self> {
        let bad = |reason: String| RuntimeError::BadModel {
            path: path.to_path_buf(),
            reason,
        };
        let onnx = tract_onnx::onnx();
        let proto = guarded(|| {
            onnx.proto_model_for_read(&mut &*bytes)
                .map_err(|e| format!("cannot decode: {e}"))
        })
        .map_err(bad)?;
        validate::validate(&proto).map_err(bad)?;
        let signature = describe::signature_of(&proto);
        if folder.is_none() && validate::has_external_data(&proto) {
            return Err(bad(
                "its tensors refer to external data files, which a model loaded from memory \
                 cannot have"
                    .into(),
            ));
        }
        let dir = folder.and_then(|d| d.to_str()).map(str::to_string);
        let model = guarded(|| {
            onnx.parse(&proto, dir.as_deref())
                .map(|r| r.model)
                .map_err(|e| format!("{e:#}"))
        })
        .map_err(bad)?;
        let threads = threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            })
            .max(1);
        Ok(OnnxModel {
            path: path.to_path_buf(),
            model,
            signature,
            plans: Mutex::new(HashMap::new()),
            // One thread needs no pool, and a browser page cannot start one.
            executor: if threads == 1 {
                Executor::SingleThread
            } else {
                Executor::multithread(threads)
            },
            threads,
        })
    }

    /// The file this model came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inputs (initialisers excluded), outputs and metadata, as the file declares them.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// A metadata entry (`metadata_props`).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.signature.metadata.get(key).map(String::as_str)
    }

    /// Intra-op threads this model runs with.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Run the model on `feeds` (one per graph input, in graph order) and return the outputs
    /// at the graph-order indices `wanted`.
    pub fn run(&self, feeds: &[Feed], wanted: &[usize]) -> Result<Vec<OutputTensor>> {
        let plan = self.plan(feeds, wanted)?;
        let executor = self.executor.clone();
        guarded(move || {
            let inputs = feeds
                .iter()
                .map(|f| feed_tensor(f).map(TValue::from))
                .collect::<std::result::Result<TVec<_>, _>>()?;
            let outputs = multithread_tract_scope(executor, || plan.run(inputs))
                .map_err(|e| format!("{e:#}"))?;
            wanted
                .iter()
                .map(|&i| {
                    let output = outputs[i].cast_to::<f32>().map_err(|e| format!("{e:#}"))?;
                    let view = output
                        .to_plain_array_view::<f32>()
                        .map_err(|e| format!("{e:#}"))?;
                    Ok(OutputTensor {
                        shape: view.shape().to_vec(),
                        values: view.iter().copied().collect(),
                    })
                })
                .collect()
        })
        .map_err(|reason| RuntimeError::Backend {
            backend: "tract",
            reason: format!("{}: {reason}", self.path.display()),
        })
    }

    /// Compile the plan for `feeds`' shapes now (it is otherwise built by the first run), so
    /// that a model that cannot run at those shapes fails here.
    pub fn prepare(&self, feeds: &[Feed]) -> Result<()> {
        self.plan(feeds, &[]).map(|_| ())
    }

    /// The optimised plan for inputs of `feeds`' shapes and types, built once.
    fn plan(&self, feeds: &[Feed], wanted: &[usize]) -> Result<Plan> {
        let inputs = self.signature.inputs.len();
        if feeds.len() != inputs {
            return Err(RuntimeError::BadModel {
                path: self.path.clone(),
                reason: format!("it takes {inputs} inputs, not {}", feeds.len()),
            });
        }
        let key = plan_key(feeds);
        let mut plans = self
            .plans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let plan = match plans.get(&key) {
            Some(plan) => plan.clone(),
            None => {
                let mut model = self.model.clone();
                let facts: Vec<InferenceFact> = feeds.iter().map(feed_fact).collect();
                let plan = guarded(move || {
                    for (i, fact) in facts.into_iter().enumerate() {
                        model = model
                            .with_input_fact(i, fact)
                            .map_err(|e| format!("{e:#}"))?;
                    }
                    let typed = model.into_optimized().map_err(|e| format!("{e:#}"))?;
                    check_sizes(&typed)?;
                    typed.into_runnable().map_err(|e| format!("{e:#}"))
                })
                .map_err(|reason| RuntimeError::BadModel {
                    path: self.path.clone(),
                    reason,
                })?;
                plans.insert(key, plan.clone());
                plan
            }
        };
        let count = plan.model().outputs.len();
        if let Some(missing) = wanted.iter().find(|&&i| i >= count) {
            return Err(RuntimeError::BadModel {
                path: self.path.clone(),
                reason: format!("it has {count} outputs; output {missing} does not exist"),
            });
        }
        Ok(plan)
    }
}

thread_local! {
    /// Set while tract runs under [`guarded`], for the panic hook of [`quiet_guarded_panics`].
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Keep the messages of panics that the runtime catches (tract failing on a bad file, reported
/// as an error) off stderr; every other panic is reported as before. For programs that embed
/// the runtime and want clean output: the `gan` binary and the C ABI call it. Installs a panic
/// hook around the current one, once.
pub fn quiet_guarded_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Run `f`, turning a panic inside tract into an error: a bad file must never bring down the
/// program that embeds us.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let was = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()));
        Err(format!(
            "tract failed on this model: {}",
            what.unwrap_or_else(|| "unknown error".into())
        ))
    })
}

/// Every intermediate tensor of the pinned-shape model must be of a sane size.
fn check_sizes(model: &TypedModel) -> Result<(), String> {
    for node in &model.nodes {
        for output in &node.outputs {
            let volume = output
                .fact
                .shape
                .as_concrete()
                .map(|s| s.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)));
            if let Some(v) = volume
                && v.is_none_or(|v| v > MAX_TENSOR_ELEMENTS)
            {
                return Err(format!(
                    "node {} would produce a tensor of shape {:?}",
                    node.name, output.fact.shape
                ));
            }
        }
    }
    Ok(())
}
