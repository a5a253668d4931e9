//! `gan serve` (gan-serve) over real loopback HTTP: every endpoint, the same bytes as the
//! runtime's pictures (which `gan generate` writes), the limits, malformed requests, and many
//! concurrent requests with none lost.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use gan_e2e::tiny_generator;
use gan_runtime::{Generator, LoadOptions, picture};
use gan_serve::{Limits, Model};

/// A running server and what stops it.
struct Server {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        if let Some(thread) = self.thread.take() {
            thread.join().ok();
        }
    }
}

fn generator(model: &Path) -> Generator {
    let options = LoadOptions {
        threads: Some(1),
        ..LoadOptions::default()
    };
    Generator::load(model, &options).unwrap()
}

fn start(model: &Path, limits: Limits) -> Server {
    start_with_page(model, limits, None)
}

fn start_with_page(model: &Path, limits: Limits, page: Option<&Path>) -> Server {
    let models = vec![Model {
        name: "tiny".into(),
        generator: generator(model),
    }];
    let router = gan_serve::router(models, limits, page, |_| {});
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime
            .block_on(gan_serve::serve(listener, router, async {
                stopped.await.ok();
            }))
            .unwrap();
    });
    Server {
        address,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// A response: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), the raw way a test should.
fn request(address: SocketAddr, method: &str, target: &str, body: Option<(&str, &[u8])>) -> Reply {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some((content_type, bytes)) = body {
        head += &format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            bytes.len()
        );
    }
    head += "\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    if let Some((_, bytes)) = body {
        stream.write_all(bytes).unwrap();
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(address: SocketAddr, target: &str) -> Reply {
    request(address, "GET", target, None)
}

fn post_json(address: SocketAddr, body: &serde_json::Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    request(
        address,
        "POST",
        "/v1/generate",
        Some(("application/json", &bytes)),
    )
}

/// The PNG grid the runtime's picture module makes for `seeds` (what `gan generate` writes).
fn expected_grid(generator: &Generator, seeds: &[u64], cols: usize) -> Vec<u8> {
    let images = generator.generate(seeds).unwrap();
    let grid = picture::tile(&images, cols, gan_contract::grid::GUTTER).unwrap();
    picture::png(&grid).unwrap()
}

#[test]
fn every_endpoint_answers_with_the_runtimes_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_generator(dir.path());
    let local = generator(&model);
    let server = start(&model, Limits::default());
    let at = server.address;

    let models = get(at, "/v1/models").json();
    assert_eq!(models["models"][0]["name"], "tiny");
    assert_eq!(models["models"][0]["latent_dim"], 8);
    assert_eq!(
        models["models"][0]["image_shape"],
        serde_json::json!([3, 16, 16])
    );

    let grid = get(at, "/v1/generate?model=tiny&seed=42&n=5&cols=3");
    assert_eq!(
        (grid.status, grid.header("content-type")),
        (200, Some("image/png"))
    );
    assert_eq!(grid.body, expected_grid(&local, &[42, 43, 44, 45, 46], 3));
    // The only model need not be named; the columns default to the squarest grid.
    let default = get(at, "/v1/generate?seed=42&n=5");
    assert_eq!(
        default.body,
        expected_grid(&local, &[42, 43, 44, 45, 46], 3)
    );

    let json = get(at, "/v1/generate?seed=7&n=2&format=json&latents=true").json();
    assert_eq!(json["seeds"], serde_json::json!([7, 8]));
    let first = base64::engine::general_purpose::STANDARD
        .decode(json["images"][0].as_str().unwrap())
        .unwrap();
    // JSON carries each image alone (no grid border), as `gan generate --each` writes them.
    assert_eq!(
        first,
        picture::png(&local.generate(&[7]).unwrap()[0]).unwrap()
    );
    let z: Vec<f32> = serde_json::from_value(json["latents"][1].clone()).unwrap();
    assert_eq!(z, local.latent_for_seed(8));

    let by_seeds = post_json(at, &serde_json::json!({"seeds": [42, 43], "cols": 2}));
    assert_eq!(by_seeds.body, expected_grid(&local, &[42, 43], 2));
    let by_latents = post_json(
        at,
        &serde_json::json!({"latents": [local.latent_for_seed(42)]}),
    );
    assert_eq!(by_latents.status, 200);
    assert_eq!(by_latents.body, expected_grid(&local, &[42], 1));
}

#[test]
fn the_page_folder_is_served_at_the_root_and_nothing_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_generator(dir.path());
    let page = dir.path().join("page");
    std::fs::create_dir_all(page.join("pkg")).unwrap();
    std::fs::write(
        page.join("index.html"),
        "<!doctype html><title>sprites</title>",
    )
    .unwrap();
    std::fs::write(page.join("pkg/runtime.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside the page").unwrap();

    let server = start_with_page(&model, Limits::default(), Some(&page));
    let at = server.address;
    let index = get(at, "/");
    assert_eq!(index.status, 200);
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(index.body, b"<!doctype html><title>sprites</title>");
    let wasm = get(at, "/pkg/runtime.wasm");
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");
    // The API still answers beside the page.
    assert_eq!(get(at, "/v1/models").status, 200);
    for escape in [
        "/../secret.txt",
        "/pkg/../../secret.txt",
        "/%2e%2e/secret.txt",
    ] {
        let reply = get(at, escape);
        assert_ne!(reply.status, 200, "{escape} was served");
        assert!(!String::from_utf8_lossy(&reply.body).contains("outside the page"));
    }
    let missing = get(at, "/no-such-file.js");
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("no such endpoint"));

    // Without a page folder the root is a JSON 404 that says how to get the page.
    let bare = start(&model, Limits::default());
    let root = get(bare.address, "/");
    assert_eq!(root.status, 404);
    assert!(String::from_utf8_lossy(&root.body).contains("gan serve --web"));
}

#[test]
fn bad_requests_are_json_errors_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_generator(dir.path());
    let limits = Limits {
        max_images: 16,
        max_pixels: 10 * 16 * 16,
        max_body_bytes: 4096,
        ..Limits::default()
    };
    let server = start(&model, limits);
    let at = server.address;
    let cases: [(Reply, u16, &str); 12] = [
        (
            get(at, "/v1/generate?class=7"),
            400,
            "is not a conditional generator: it takes no class",
        ),
        (
            get(at, "/v1/generate?seed=-1"),
            400,
            "seed=\"-1\" is not a non-negative integer",
        ),
        (
            get(at, "/v1/generate?n=1000000000000"),
            400,
            "from 1 to 16 images",
        ),
        (get(at, "/v1/generate?n=0"), 400, "from 1 to 16 images"),
        (get(at, "/v1/generate?n=12"), 400, "more than 2560 pixels"),
        (
            get(at, "/v1/generate?model=other"),
            404,
            "no model \"other\" (models: tiny)",
        ),
        (get(at, "/v1/generate?format=gif"), 400, "use png or json"),
        (
            get(at, "/v1/generate?size=3"),
            400,
            "unknown parameter \"size\"",
        ),
        (get(at, "/v2/anything"), 404, "no such endpoint"),
        (
            request(at, "POST", "/v1/generate", Some(("text/plain", b"seeds"))),
            415,
            "Content-Type: application/json",
        ),
        (
            request(
                at,
                "POST",
                "/v1/generate",
                Some(("application/json", b"{\"seeds\": [1,")),
            ),
            400,
            "EOF while parsing",
        ),
        (
            post_json(at, &serde_json::json!({"latents": [[1.0, 2.0]]})),
            400,
            "latents[0] has 2 values; the model takes 8",
        ),
    ];
    for (reply, status, needle) in cases {
        assert_eq!(reply.status, status, "{}", reply.error());
        assert!(
            reply.error().contains(needle),
            "{needle:?} not in {:?}",
            reply.error()
        );
    }
    let both = post_json(
        at,
        &serde_json::json!({"seeds": [1], "latents": [vec![0.0f32; 8]]}),
    );
    assert!(both.error().contains("exactly one of"), "{}", both.error());
    let huge = vec![b' '; 10_000];
    let too_big = request(
        at,
        "POST",
        "/v1/generate",
        Some(("application/json", &huge)),
    );
    assert_eq!(
        too_big.status,
        413,
        "{}",
        String::from_utf8_lossy(&too_big.body)
    );
    // The server is still there.
    assert_eq!(get(at, "/v1/models").status, 200);
}

/// Many clients at once, fewer workers: every request is answered with its own seed's picture
/// (no reply lost, none crossed with another's). A full line's 503 is tested without timing in
/// gan-serve's own tests (`limits.rs`, `reply.rs`).
#[test]
fn concurrent_requests_are_all_answered_with_their_own_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_generator(dir.path());
    let local = generator(&model);
    let generous = start(
        &model,
        Limits {
            workers: 2,
            queue: 256,
            ..Limits::default()
        },
    );
    let at = generous.address;
    let replies: Vec<(u64, Reply)> = (0..200u64)
        .map(|seed| {
            std::thread::spawn(move || (seed, get(at, &format!("/v1/generate?seed={seed}"))))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    for (seed, reply) in &replies {
        assert_eq!(reply.status, 200, "seed {seed}: {}", reply.error());
        assert!(
            reply.body == expected_grid(&local, &[*seed], 1),
            "seed {seed}: not its picture"
        );
    }
}

/// A conditional generator over HTTP: `/v1/models` lists its classes; `class=` by name or
/// number gives the runtime's images of that class (query and body alike); no class, or one it
/// lacks, is a 400 that lists the classes.
#[test]
fn a_conditional_generator_serves_the_class_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let model = gan_e2e::tiny_conditional_generator(dir.path());
    let local = generator(&model);
    let server = start(&model, Limits::default());
    let at = server.address;
    let models = get(at, "/v1/models").json();
    assert_eq!(
        models["models"][0]["classes"],
        serde_json::json!(["a", "b", "c"])
    );
    let png = |seeds: &[u64], class: usize| {
        picture::png(&local.generate_class(seeds, class).unwrap()[0]).unwrap()
    };
    let json = get(at, "/v1/generate?seed=3&class=b&format=json").json();
    let first = base64::engine::general_purpose::STANDARD
        .decode(json["images"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(first, png(&[3], 1));
    let by_number = get(at, "/v1/generate?seed=3&class=2&format=json").json();
    let third = base64::engine::general_purpose::STANDARD
        .decode(by_number["images"][0].as_str().unwrap())
        .unwrap();
    assert_eq!(third, png(&[3], 2));
    let posted = post_json(
        at,
        &serde_json::json!({"seeds": [3], "class": "c", "format": "json"}),
    )
    .json();
    assert_eq!(posted["images"], by_number["images"]);
    for (path, needle) in [
        (
            "/v1/generate?seed=3",
            "ask for one of its classes (a, b, c)",
        ),
        ("/v1/generate?class=zebra", "no class \\\"zebra\\\""),
    ] {
        let reply = get(at, path);
        assert_eq!(reply.status, 400, "{path}");
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        assert!(body.contains(needle), "{path}: {body}");
    }
}
