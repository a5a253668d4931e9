//! gan-serve: ONNX generators behind HTTP, for game back-ends and tools that would rather call a
//! service than embed the runtime.
//!
//! [`router`] answers `GET /v1/models`, `GET /v1/generate?model=&seed=&n=&cols=&format=` and
//! `POST /v1/generate` (a JSON body of seeds or latents) with PNG grids or JSON, made by
//! `gan_runtime` exactly as `gan generate` makes them (same seeds, same bytes). Everything a
//! client controls is bounded ([`Limits`]): images and pixels per request, body size, requests
//! generating at once and waiting (beyond the queue: 503 with `Retry-After`), and time (504).
//! A bad request is a 4xx with a JSON `{"error": …}` naming the problem. The library prints
//! nothing: each request is reported to the caller's access log ([`Access`]); [`serve`] runs
//! until the shutdown future completes and lets requests in flight finish. Given a page folder
//! (the sprite page, `web/page`), every other path serves its files, `/` its `index.html`.

mod generate;
mod limits;
mod reply;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use gan_runtime::Generator;
use tower_http::services::ServeDir;

pub use limits::Limits;

/// A generator served under a name.
pub struct Model {
    /// The name clients use (`model=`).
    pub name: String,
    pub generator: Generator,
}

/// One request, for the access log.
#[derive(Debug, Clone)]
pub struct Access {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub status: u16,
    pub millis: f64,
}

/// What the handlers share.
struct Service {
    models: Vec<Model>,
    limits: Limits,
    queue: limits::Queue,
}

/// The HTTP routes over `models`, with the static files of `page` (if any) at every other
/// path, reporting every request to `log`.
pub fn router(
    models: Vec<Model>,
    limits: Limits,
    page: Option<&Path>,
    log: impl Fn(&Access) + Send + Sync + 'static,
) -> Router {
    let queue = limits::Queue::new(&limits);
    let body_limit = limits.max_body_bytes;
    let service = Arc::new(Service {
        models,
        limits,
        queue,
    });
    let log = Arc::new(log);
    let api = Router::new()
        .route("/v1/models", get(generate::models))
        .route(
            "/v1/generate",
            get(generate::from_query).post(generate::from_body),
        );
    // ServeDir keeps requests inside the folder (`..` and absolute paths are refused).
    let api = match page {
        Some(folder) => api.fallback_service(ServeDir::new(folder).not_found_service(
            axum::handler::HandlerWithoutStateExt::into_service(reply::not_found),
        )),
        None => api.fallback(reply::not_found),
    };
    api.layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let log = Arc::clone(&log);
            access_log(request, next, log)
        }))
        .with_state(service)
}

async fn access_log(
    request: Request,
    next: Next,
    log: Arc<impl Fn(&Access) + Send + Sync>,
) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_string(), ToString::to_string);
    let response = next.run(request).await;
    log(&Access {
        method,
        target,
        status: response.status().as_u16(),
        millis: started.elapsed().as_secs_f64() * 1e3,
    });
    response
}

/// Bind `address`, report it to `listening`, and serve `router` on a runtime of its own until
/// SIGTERM or Ctrl-C (requests in flight finish first). For callers without an async runtime.
pub fn run(
    address: &str,
    router: Router,
    listening: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address).await?;
        listening(listener.local_addr()?);
        serve(listener, router, termination()).await
    })
}

/// Completes on SIGTERM (Unix) or Ctrl-C.
pub async fn termination() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Serve `router` on `listener` until `shutdown` completes; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
