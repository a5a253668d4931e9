//! The endpoints: the model list, and generation from a query or a JSON body.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gan_runtime::{Generator, Rgba8, picture};
use serde::Deserialize;

use crate::limits::Refused;
use crate::reply::{self, ApiError};
use crate::{Model, Service};

/// `GET /v1/models`.
pub async fn models(State(service): State<Arc<Service>>) -> Response {
    let models: Vec<_> = service
        .models
        .iter()
        .map(|m| {
            let (w, h) = m.generator.image_size();
            serde_json::json!({
                "name": m.name,
                "latent_dim": m.generator.latent_dim(),
                "image_shape": [m.generator.channels(), h, w],
                "classes": m.generator.classes(),
            })
        })
        .collect();
    Json(serde_json::json!({ "models": models })).into_response()
}

/// What to generate, however it was asked.
struct Job {
    model: String,
    latents: Latents,
    cols: Option<usize>,
    json: bool,
    include_latents: bool,
    /// A conditional generator's class for every image, by name or number.
    class: Option<String>,
}

enum Latents {
    Seeds(Vec<u64>),
    Given(Vec<Vec<f32>>),
}

impl Latents {
    fn len(&self) -> usize {
        match self {
            Latents::Seeds(s) => s.len(),
            Latents::Given(z) => z.len(),
        }
    }
}

/// `GET /v1/generate?model=NAME&seed=S&n=N&cols=C&format=png|json&latents=true&class=K`: seeds
/// S, S+1, …, as `gan generate --seed S --n N [--class K]`.
pub async fn from_query(
    State(service): State<Arc<Service>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let (mut model, mut seed, mut n, mut cols, mut format, mut latents) =
        (None, 0u64, 1usize, None, None, false);
    let mut class = None;
    for (key, value) in pairs {
        let number = |what: &str| {
            value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("{what}={value:?} is not a non-negative integer"))
            })
        };
        match key.as_str() {
            "model" => model = Some(value.clone()),
            "seed" => seed = number("seed")?,
            "n" => n = usize::try_from(number("n")?).unwrap_or(usize::MAX),
            "cols" => cols = Some(usize::try_from(number("cols")?).unwrap_or(usize::MAX)),
            "format" => format = Some(value.clone()),
            "latents" => latents = value == "true" || value == "1",
            "class" => class = Some(value.clone()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?} (model, seed, n, cols, format, latents, class)"
                )));
            }
        }
    }
    let (model, json) = (pick_model(&service, model)?, is_json(format.as_deref())?);
    check_count(&service, n)?;
    let job = Job {
        model,
        latents: Latents::Seeds((0..n as u64).map(|i| seed.wrapping_add(i)).collect()),
        cols,
        json,
        include_latents: latents,
        class,
    };
    run(service, job).await
}

/// The JSON body of `POST /v1/generate`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    model: Option<String>,
    seeds: Option<Vec<u64>>,
    latents: Option<Vec<Vec<f32>>>,
    cols: Option<usize>,
    format: Option<String>,
    #[serde(default)]
    include_latents: bool,
    class: Option<String>,
}

/// `POST /v1/generate` with `{"seeds": [...]}` or `{"latents": [[...], ...]}`.
pub async fn from_body(
    State(service): State<Arc<Service>>,
    body: Result<Json<Body>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let latents = match (body.seeds, body.latents) {
        (Some(seeds), None) => Latents::Seeds(seeds),
        (None, Some(z)) => Latents::Given(z),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of \"seeds\" and \"latents\"",
            ));
        }
    };
    check_count(&service, latents.len())?;
    let job = Job {
        model: pick_model(&service, body.model)?,
        latents,
        cols: body.cols,
        json: is_json(body.format.as_deref())?,
        include_latents: body.include_latents,
        class: body.class,
    };
    run(service, job).await
}

fn is_json(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("png") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "format={other:?}: use png or json"
        ))),
    }
}

/// The model asked for, or the only one.
fn pick_model(service: &Service, name: Option<String>) -> Result<String, ApiError> {
    let names = || {
        service
            .models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(name) if service.models.iter().any(|m| m.name == name) => Ok(name),
        Some(name) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no model {name:?} (models: {})", names()),
        )),
        None if service.models.len() == 1 => Ok(service.models[0].name.clone()),
        None => Err(ApiError::bad_request(format!(
            "several models are served; name one with model= ({})",
            names()
        ))),
    }
}

fn check_count(service: &Service, n: usize) -> Result<(), ApiError> {
    let max = service.limits.max_images;
    if (1..=max).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "n = {n}: from 1 to {max} images per request"
        )))
    }
}

/// Wait for a worker, generate on it (off the async threads) within the time limit, reply.
async fn run(service: Arc<Service>, job: Job) -> Result<Response, ApiError> {
    let limits = service.limits.clone();
    let started = tokio::time::Instant::now();
    let permit = service
        .queue
        .worker(limits.timeout)
        .await
        .map_err(|refused| match refused {
            Refused::Full => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many requests are waiting; retry shortly",
            ),
            Refused::TimedOut => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no worker came free in time; retry shortly",
            ),
        })?;
    let remaining = limits.timeout.saturating_sub(started.elapsed());
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        render(&service, &job)
    });
    match tokio::time::timeout(remaining, work).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generation failed unexpectedly",
        )),
        Err(_) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!("generation took longer than {:?}", limits.timeout),
        )),
    }
}

fn render(service: &Service, job: &Job) -> Result<Response, ApiError> {
    let model = service
        .models
        .iter()
        .find(|m| m.name == job.model)
        .ok_or_else(|| ApiError::bad_request("the model went away"))?;
    let generator = &model.generator;
    let (w, h) = generator.image_size();
    let n = job.latents.len();
    if (n as u64).saturating_mul((w * h) as u64) > service.limits.max_pixels {
        return Err(ApiError::bad_request(format!(
            "{n} images of {w}×{h} are more than {} pixels per request",
            service.limits.max_pixels
        )));
    }
    let z = latent_values(generator, &job.latents)?;
    let bad = |e: gan_runtime::RuntimeError| ApiError::bad_request(e.to_string());
    let images = match &job.class {
        Some(class) => {
            let class = generator
                .class_index(class)
                .map_err(|e| ApiError::bad_request(format!("class={class:?}: {e}")))?;
            generator.generate_latents_labelled(&z, &vec![class; n])
        }
        None => generator.generate_latents(&z),
    }
    .map_err(bad)?;
    if job.json {
        return json_reply(model, &images, job, &z);
    }
    let cols = job
        .cols
        .unwrap_or_else(|| picture::default_cols(n))
        .clamp(1, n);
    let grid = picture::tile(&images, cols, gan_contract::grid::GUTTER)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let png = picture::png(&grid).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(reply::png(png))
}

/// The latent vectors, `[n · nz]`, checked against the model.
fn latent_values(generator: &Generator, latents: &Latents) -> Result<Vec<f32>, ApiError> {
    let nz = generator.latent_dim();
    match latents {
        Latents::Seeds(seeds) => Ok(generator.latents_for_seeds(seeds)),
        Latents::Given(z) => {
            if let Some((i, bad)) = z.iter().enumerate().find(|(_, v)| v.len() != nz) {
                return Err(ApiError::bad_request(format!(
                    "latents[{i}] has {} values; the model takes {nz}",
                    bad.len()
                )));
            }
            if z.iter().flatten().any(|v| !v.is_finite()) {
                return Err(ApiError::bad_request("latents must be finite numbers"));
            }
            Ok(z.concat())
        }
    }
}

fn json_reply(model: &Model, images: &[Rgba8], job: &Job, z: &[f32]) -> Result<Response, ApiError> {
    let nz = model.generator.latent_dim();
    let encoded = images
        .iter()
        .map(|image| {
            picture::png(image)
                .map(|png| base64::engine::general_purpose::STANDARD.encode(png))
                .map_err(|e| ApiError::bad_request(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut reply = serde_json::json!({ "model": model.name, "images": encoded });
    if let Latents::Seeds(seeds) = &job.latents {
        reply["seeds"] = serde_json::json!(seeds);
    }
    if job.include_latents {
        reply["latents"] = serde_json::json!(z.chunks(nz).collect::<Vec<_>>());
    }
    Ok(Json(reply).into_response())
}
