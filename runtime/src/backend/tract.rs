//! The tract backend: pure Rust, one optimised plan per batch size (a pinned batch runs about
//! twice as fast as a symbolic one), run on a private multi-threaded executor.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tract_linalg::multithread::{Executor, multithread_tract_scope};
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use tract_onnx::pb::type_proto::Value as TypeValue;
use tract_onnx::prelude::*;

use super::Engine;
use crate::error::{Result, RuntimeError};
use crate::signature::{Signature, ValueSig};

type Plan = Arc<TypedRunnableModel>;

pub struct TractEngine {
    path: PathBuf,
    model: InferenceModel,
    signature: Signature,
    plans: Mutex<HashMap<usize, Plan>>,
    executor: Executor,
    threads: usize,
}

impl TractEngine {
    pub fn load(path: &Path, bytes: &[u8], threads: usize) -> Result<Self> {
        let bad = |reason: String| RuntimeError::BadModel {
            path: path.to_path_buf(),
            reason,
        };
        let onnx = tract_onnx::onnx();
        let proto = guarded(|| {
            onnx.proto_model_for_read(&mut &bytes[..])
                .map_err(|e| format!("cannot decode: {e}"))
        })
        .map_err(bad)?;
        super::validate::validate(&proto).map_err(bad)?;
        let signature = signature_of(&proto);
        let dir = path.parent().and_then(|d| d.to_str()).map(str::to_string);
        let model = guarded(|| {
            onnx.parse(&proto, dir.as_deref())
                .map(|r| r.model)
                .map_err(|e| format!("{e:#}"))
        })
        .map_err(bad)?;
        Ok(TractEngine {
            path: path.to_path_buf(),
            model,
            signature,
            plans: Mutex::new(HashMap::new()),
            executor: Executor::multithread(threads.max(1)),
            threads,
        })
    }

    /// The optimised plan for `batch`, built once.
    fn plan(&self, batch: usize, input_dims: &[usize], output_index: usize) -> Result<Plan> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.get(&batch) {
            return Ok(plan.clone());
        }
        let shape: Vec<usize> = std::iter::once(batch)
            .chain(input_dims.iter().copied())
            .collect();
        let model = self.model.clone();
        let plan = guarded(move || {
            let typed = model
                .with_input_fact(0, f32::fact(&shape).into())
                .and_then(|m| m.into_optimized())
                .map_err(|e| format!("{e:#}"))?;
            check_sizes(&typed)?;
            if typed.outputs.len() <= output_index {
                return Err(format!("the model has {} outputs", typed.outputs.len()));
            }
            typed.into_runnable().map_err(|e| format!("{e:#}"))
        })
        .map_err(|reason| RuntimeError::BadModel {
            path: self.path.clone(),
            reason,
        })?;
        plans.insert(batch, plan.clone());
        Ok(plan)
    }
}

impl Engine for TractEngine {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn runs_on(&self) -> String {
        format!("tract on the CPU, {} threads", self.threads)
    }

    fn run(
        &self,
        z: &[f32],
        batch: usize,
        input_dims: &[usize],
        output_index: usize,
    ) -> Result<Vec<f32>> {
        let plan = self.plan(batch, input_dims, output_index)?;
        let shape: Vec<usize> = std::iter::once(batch)
            .chain(input_dims.iter().copied())
            .collect();
        let executor = self.executor.clone();
        guarded(move || {
            let input = Tensor::from_shape(&shape, z).map_err(|e| format!("{e:#}"))?;
            let outputs = multithread_tract_scope(executor, || plan.run(tvec!(input.into())))
                .map_err(|e| format!("{e:#}"))?;
            let output = outputs[output_index]
                .cast_to::<f32>()
                .map_err(|e| format!("{e:#}"))?;
            let view = output
                .to_plain_array_view::<f32>()
                .map_err(|e| format!("{e:#}"))?;
            Ok(view.iter().copied().collect())
        })
        .map_err(|reason| RuntimeError::Backend {
            backend: "tract",
            reason,
        })
    }
}

/// Run `f`, turning a panic inside tract into an error: a bad file must never bring down the
/// program that embeds us.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
        Err(format!(
            "tract failed on this model: {}",
            what.unwrap_or_else(|| "unknown error".into())
        ))
    })
}

/// Every intermediate tensor of the pinned-batch model must be of a sane size.
fn check_sizes(model: &TypedModel) -> Result<(), String> {
    for node in &model.nodes {
        for output in &node.outputs {
            let volume = output
                .fact
                .shape
                .as_concrete()
                .map(|s| s.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)));
            if let Some(v) = volume
                && v.is_none_or(|v| v > super::validate::MAX_ELEMENTS)
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

fn signature_of(proto: &tract_onnx::pb::ModelProto) -> Signature {
    let Some(graph) = proto.graph.as_ref() else {
        return Signature::default();
    };
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let sig = |v: &tract_onnx::pb::ValueInfoProto| {
        let tensor = v
            .r#type
            .as_ref()
            .and_then(|t| t.value.as_ref())
            .map(|TypeValue::TensorType(t)| t);
        let dims = tensor
            .and_then(|t| t.shape.as_ref())
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(DimValue::DimValue(n)) if n >= 0 => Some(n as usize),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        ValueSig {
            name: v.name.clone(),
            dims,
            is_f32: tensor.is_some_and(|t| t.elem_type == 1),
        }
    };
    Signature {
        inputs: graph
            .input
            .iter()
            .filter(|v| !initializers.contains(v.name.as_str()))
            .map(sig)
            .collect(),
        outputs: graph.output.iter().map(sig).collect(),
        metadata: proto
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect(),
    }
}
