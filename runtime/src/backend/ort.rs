//! The ONNX Runtime backend: the library is loaded at run time (`LoadOptions::ort_library` or
//! `ORT_DYLIB_PATH`), so nothing is linked or downloaded at build time. Devices: CPU, CUDA,
//! TensorRT. A device that cannot be used is an error unless fallback is allowed, and then the
//! fallback is logged.

use std::path::Path;
use std::sync::Mutex;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};

use super::Engine;
use crate::error::{Result, RuntimeError};
use crate::feed::Feed;
use crate::options::{Device, LoadOptions};
use crate::signature::{Signature, ValueSig};

pub struct OrtEngine {
    session: Mutex<Session>,
    signature: Signature,
    /// Where it actually runs (after any allowed fallback).
    device: Device,
    /// Why the requested device was not used, when a CPU fallback was allowed and taken.
    fallback: Option<String>,
    threads: usize,
}

fn backend_error(reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Backend {
        backend: "ort",
        reason: reason.to_string(),
    }
}

/// One ONNX Runtime library per process: the first successful load is kept for all sessions; a
/// failed load is reported and may be retried with another library.
fn environment(options: &LoadOptions) -> Result<&'static Environment> {
    static ENV: Mutex<Option<&'static Environment>> = Mutex::new(None);
    let mut env = ENV
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(env) = *env {
        return Ok(env);
    }
    let library = options
        .ort_library
        .clone()
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(Into::into))
        .ok_or_else(|| backend_error("no ONNX Runtime library given: set ORT_DYLIB_PATH or pass its path (option ort_library)"))?;
    if !library.is_file() {
        return Err(backend_error(format!(
            "ONNX Runtime library {} not found",
            library.display()
        )));
    }
    let builder = ort::init_from(&library)
        .map_err(|e| backend_error(format!("cannot load {}: {e}", library.display())))?;
    let loaded = builder.with_name("gan-runtime").build().map_err(|e| {
        backend_error(format!(
            "cannot start ONNX Runtime from {}: {e}",
            library.display()
        ))
    })?;
    let loaded: &'static Environment = Box::leak(Box::new(loaded));
    *env = Some(loaded);
    Ok(loaded)
}

impl OrtEngine {
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        let env = environment(options)?;
        let threads = options.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        let session = |device: Device| -> std::result::Result<Session, String> {
            let mut builder = Session::builder(env).map_err(|e| e.to_string())?;
            builder = builder
                .with_intra_threads(threads)
                .map_err(|e| e.to_string())?;
            if let Some(provider) = execution_provider(device, options)? {
                builder = builder
                    .with_execution_providers([provider])
                    .map_err(|e| format!("{device:?} execution provider: {e}"))?;
            }
            builder.commit_from_file(path).map_err(|e| e.to_string())
        };
        let (session, device, fallback) = match session(options.device) {
            Ok(s) => (s, options.device, None),
            Err(e) if options.device != Device::Cpu && options.allow_fallback => (
                session(Device::Cpu).map_err(|e| bad(path, e))?,
                Device::Cpu,
                Some(format!("the {:?} device failed ({e})", options.device)),
            ),
            Err(e) if options.device != Device::Cpu => {
                return Err(backend_error(format!(
                    "cannot use the {:?} device: {e} (allow a CPU fallback to run anyway)",
                    options.device
                )));
            }
            Err(e) => return Err(bad(path, e)),
        };
        let signature = signature_of(&session);
        Ok(OrtEngine {
            session: Mutex::new(session),
            signature,
            device,
            fallback,
            threads,
        })
    }
}

/// The execution provider for `device` (None for the CPU), set to fail loudly.
fn execution_provider(
    device: Device,
    options: &LoadOptions,
) -> std::result::Result<Option<ort::ep::ExecutionProviderDispatch>, String> {
    let _ = options;
    match device {
        Device::Cpu => Ok(None),
        #[cfg(feature = "cuda")]
        Device::Cuda => Ok(Some(ort::ep::CUDA::default().build().error_on_failure())),
        #[cfg(feature = "tensorrt")]
        Device::TensorRt => {
            let mut trt = ort::ep::TensorRT::default();
            if let Some(cache) = &options.tensorrt_cache {
                trt = trt
                    .with_engine_cache(true)
                    .with_engine_cache_path(cache.display());
            }
            Ok(Some(trt.build().error_on_failure()))
        }
        #[allow(unreachable_patterns)]
        other => Err(format!(
            "this build of gan-runtime lacks the {other:?} device (cargo features `cuda` / `tensorrt`)"
        )),
    }
}

fn bad(path: &Path, reason: String) -> RuntimeError {
    RuntimeError::BadModel {
        path: path.to_path_buf(),
        reason,
    }
}

fn signature_of(session: &Session) -> Signature {
    let sig = |name: &str, ty: &ValueType| {
        let dims = ty
            .tensor_shape()
            .map(|s| s.iter().map(|&d| (d >= 0).then_some(d as usize)).collect())
            .unwrap_or_default();
        ValueSig {
            name: name.to_string(),
            dims,
            is_f32: ty.tensor_type() == Some(TensorElementType::Float32),
            is_i64: ty.tensor_type() == Some(TensorElementType::Int64),
            producer: None,
        }
    };
    let metadata = session
        .metadata()
        .ok()
        .map(|m| {
            let keys = m.custom_keys().unwrap_or_default();
            keys.into_iter()
                .filter_map(|k| m.custom(&k).map(|v| (k, v)))
                .collect()
        })
        .unwrap_or_default();
    Signature {
        inputs: session
            .inputs()
            .iter()
            .map(|o| sig(o.name(), o.dtype()))
            .collect(),
        outputs: session
            .outputs()
            .iter()
            .map(|o| sig(o.name(), o.dtype()))
            .collect(),
        metadata,
    }
}

impl Engine for OrtEngine {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    fn runs_on(&self) -> String {
        match self.device {
            Device::Cpu => format!("ONNX Runtime on the CPU, {} threads", self.threads),
            device => format!("ONNX Runtime on {device:?}"),
        }
    }

    fn run(&self, feeds: &[Feed], output: usize) -> Result<Vec<f32>> {
        let dims = |shape: &[usize]| shape.iter().map(|&d| d as i64).collect::<Vec<i64>>();
        let inputs = feeds
            .iter()
            .map(|feed| {
                Ok(match *feed {
                    Feed::F32 { values, shape } => {
                        Tensor::from_array((dims(shape), values.to_vec()))?.into()
                    }
                    Feed::I64 { values, shape } => {
                        Tensor::from_array((dims(shape), values.to_vec()))?.into()
                    }
                })
            })
            .collect::<std::result::Result<Vec<ort::session::SessionInputValue>, ort::Error>>()
            .map_err(backend_error)?;
        let mut session = self
            .session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let outputs = session.run(inputs.as_slice()).map_err(backend_error)?;
        let (_, values) = outputs[output]
            .try_extract_tensor::<f32>()
            .map_err(backend_error)?;
        Ok(values.to_vec())
    }
}
