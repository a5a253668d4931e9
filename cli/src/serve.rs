//! `gan serve`: generators over HTTP (gan-serve), with an access log on stdout.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use gan_runtime::{Generator, LoadOptions};
use gan_serve::{Limits, Model};

use crate::args::{BackendArg, DeviceArg};

#[derive(Args)]
pub struct ServeArgs {
    /// A generator to serve: PATH (named after the file) or NAME=PATH; repeat for several.
    #[arg(long = "model", required = true)]
    models: Vec<String>,
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[arg(long, value_enum, default_value = "tract")]
    backend: BackendArg,
    /// Where ONNX Runtime runs (--backend ort).
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Intra-op threads per generation.
    #[arg(long)]
    threads: Option<usize>,
    /// Requests generating at once (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// Requests waiting for a worker; more get 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Images per request.
    #[arg(long, default_value_t = 256)]
    max_images: usize,
    /// Seconds a request may wait and generate (then 504).
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Serve the sprite page from this folder at `/` (web/page after `bash web/build.sh`).
    #[arg(long)]
    web: Option<PathBuf>,
}

/// Longest `--timeout`: a day.
const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;
/// Most `--workers`, `--threads`, `--queue` and `--max-images`.
const MAX_COUNT: usize = 65_536;

/// Every duration and count option within its range, or an error naming the flag (a value out
/// of range used to panic, as `--timeout 1e20` did converting to a `Duration`).
fn check_ranges(args: &ServeArgs) -> Result<()> {
    if !(args.timeout > 0.0 && args.timeout <= MAX_TIMEOUT_SECONDS) {
        bail!(
            "--timeout: {} is not a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS}",
            args.timeout
        );
    }
    let counts = [
        ("--workers", args.workers, 1),
        ("--threads", args.threads, 1),
        ("--queue", Some(args.queue), 0),
        ("--max-images", Some(args.max_images), 1),
    ];
    for (flag, value, least) in counts {
        if let Some(n) = value.filter(|n| !(least..=MAX_COUNT).contains(n)) {
            bail!("{flag}: {n} is not from {least} to {MAX_COUNT}");
        }
    }
    Ok(())
}

pub fn run(args: ServeArgs) -> Result<()> {
    let options = LoadOptions {
        backend: args.backend.into(),
        device: args.device.into(),
        threads: args.threads,
        ..LoadOptions::default()
    };
    check_ranges(&args)?;
    let models = load_models(&args.models, &options)?;
    let mut limits = Limits {
        queue: args.queue,
        max_images: args.max_images,
        timeout: Duration::from_secs_f64(args.timeout),
        ..Limits::default()
    };
    limits.workers = args.workers.unwrap_or(limits.workers);
    if let Some(web) = &args.web {
        check_page(web)?;
    }
    let names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
    let router = gan_serve::router(models, limits, args.web.as_deref(), |access| {
        println!(
            "{} {} {} {:.1} ms",
            access.method, access.target, access.status, access.millis
        );
    });
    let address = format!("{}:{}", args.host, args.port);
    gan_serve::run(&address, router, |bound| {
        eprintln!(
            "serving {} on http://{bound} (Ctrl-C or SIGTERM stops)",
            names.join(", ")
        );
    })
    .with_context(|| format!("cannot serve on {address}"))
}

/// The generators `--model NAME=PATH` (or `PATH`, named after its file) names, loaded.
fn load_models(specs: &[String], options: &LoadOptions) -> Result<Vec<Model>> {
    let mut models: Vec<Model> = Vec::new();
    for spec in specs {
        let (name, path) = match spec.split_once('=') {
            Some((name, path)) => (name.to_string(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(spec);
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
                (stem.unwrap_or_else(|| spec.clone()), path)
            }
        };
        if models.iter().any(|m| m.name == name) {
            bail!("--model: two models are named {name:?}; name them with NAME=PATH");
        }
        let generator = Generator::load(&path, options)
            .map_err(crate::report::runtime_error)
            .with_context(|| format!("cannot load {}", path.display()))?;
        models.push(Model { name, generator });
    }
    Ok(models)
}

/// The `--web` folder: refused without its page, warned about without its WebAssembly runtime.
fn check_page(web: &std::path::Path) -> Result<()> {
    if !web.join("index.html").is_file() {
        bail!(
            "--web {}: the folder has no index.html (the page is web/page in the source tree)",
            web.display()
        );
    }
    if !web.join("pkg").is_dir() {
        eprintln!(
            "warning: --web {}: no pkg/ folder, so the page will say its WebAssembly runtime \
             is missing; build it with `bash web/build.sh`",
            web.display()
        );
    }
    Ok(())
}
