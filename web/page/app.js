// The sprite page: gan-runtime (WebAssembly, built by web/build.sh into ./pkg) turns seeds into
// pictures. State lives in `generator`; every failure lands in #error and the page stays usable.

const $ = (id) => document.getElementById(id);
const GRID_COLS = 4;
const GRID_SEEDS = 16;
const MAX_SEED = (1n << 64n) - 1n;

let WebGenerator = null;
let generator = null;
let playing = false;

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  document.body.dataset.state = "error";
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// A seed field as a BigInt (wasm-bindgen's u64), or an error naming the field.
function seedOf(id) {
  const text = $(id).value.trim();
  if (!/^\d+$/.test(text) || BigInt(text) > MAX_SEED) {
    throw new Error(`seed "${text}" is not a whole number from 0 to 2^64 - 1`);
  }
  return BigInt(text);
}

function paint(canvas, rgba, width, height, cols = 1) {
  const count = rgba.length / (width * height * 4);
  const rows = Math.ceil(count / cols);
  canvas.width = width * cols;
  canvas.height = height * rows;
  const context = canvas.getContext("2d");
  const frame = width * height * 4;
  for (let i = 0; i < count; i++) {
    const pixels = new Uint8ClampedArray(rgba.buffer, rgba.byteOffset + i * frame, frame);
    context.putImageData(new ImageData(pixels, width, height), (i % cols) * width, Math.floor(i / cols) * height);
  }
}

// Runs `work`, reporting any error; returns its result or null.
function guarded(work) {
  try {
    return work();
  } catch (e) {
    showError(e instanceof WebAssembly.RuntimeError
      ? `the runtime stopped (${e.message}); reload the page`
      : e.message);
    return null;
  }
}

function timedMs(work) {
  const start = performance.now();
  const result = work();
  return [result, performance.now() - start];
}

function renderSeed() {
  if (!generator) return;
  guarded(() => {
    const seed = seedOf("seed");
    const { width, height } = generator;
    const [single, singleMs] = timedMs(() => generator.generate(seed));
    paint($("single"), single, width, height);
    $("single").dataset.seed = seed.toString();
    $("single-caption").textContent = `seed ${seed}`;
    const seeds = new BigUint64Array(GRID_SEEDS).map((_, i) => (seed + 1n + BigInt(i)) & MAX_SEED);
    const [grid, gridMs] = timedMs(() => generator.generateMany(seeds));
    paint($("grid"), grid, width, height, GRID_COLS);
    $("timing").textContent =
      `${singleMs.toFixed(1)} ms for one image, ${(gridMs / GRID_SEEDS).toFixed(1)} ms per image in a batch of ${GRID_SEEDS}`;
    clearError();
    document.body.dataset.state = "ready";
  });
}

// Paints the slider's point between the two seeds; returns the milliseconds generation took,
// or null after an error.
function renderBetween() {
  if (!generator) return null;
  return guarded(() => {
    const t = Number($("t").value) / 1000;
    const [rgba, ms] = timedMs(() => generator.interpolateAt(seedOf("seed-a"), seedOf("seed-b"), t));
    paint($("between"), rgba, generator.width, generator.height);
    return ms;
  });
}

// Animates `frames` steps along the slider (or ping-pongs forever when `frames` is Infinity),
// one generated picture per animation frame, and reports the speed.
function animate(frames, onDone) {
  let done = 0;
  let generating = 0;
  let direction = 1;
  const start = performance.now();
  const step = () => {
    if (!playing) return;
    let t = Number($("t").value) + direction * 1000 / 63;
    if (t >= 1000 || t <= 0) {
      direction = -direction;
      t = Math.min(1000, Math.max(0, t));
    }
    $("t").value = String(t);
    const ms = renderBetween();
    if (ms === null) {
      playing = false;
      return;
    }
    done += 1;
    generating += ms;
    const elapsed = performance.now() - start;
    $("frames-timing").textContent =
      `${done} frames in ${elapsed.toFixed(0)} ms (${(1000 * done / elapsed).toFixed(1)} frames/s); ` +
      `generating: ${(generating / done).toFixed(1)} ms per image`;
    if (done >= frames) {
      playing = false;
      onDone?.();
      return;
    }
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

function load(name, bytes) {
  const loaded = guarded(() => {
    const [g, ms] = timedMs(() => new WebGenerator(name, bytes));
    return [g, ms];
  });
  if (!loaded) return;
  const [g, ms] = loaded;
  generator?.free();
  generator = g;
  $("model-info").textContent =
    `${name}: ${g.width}×${g.height}, ${g.channels} channel(s), latent ${g.latentDim} (loaded in ${ms.toFixed(0)} ms)`;
  $("model-info").dataset.name = name;
  showClasses(g.classes);
  renderSeed();
  renderBetween();
}

// A conditional generator's classes in the class menu (hidden for an unconditional one).
function showClasses(classes) {
  const menu = $("class");
  menu.replaceChildren(...classes.map((name) => new Option(name, name)));
  $("class-choice").hidden = classes.length === 0;
}

async function loadFile(file) {
  if (!file) return;
  load(file.name, new Uint8Array(await file.arrayBuffer()));
}

function wire() {
  $("go").onclick = renderSeed;
  $("class").onchange = () => {
    if (!generator) return;
    guarded(() => generator.setClass($("class").value));
    renderSeed();
    renderBetween();
  };
  $("seed").onchange = renderSeed;
  $("shuffle").onclick = () => {
    const random = new BigUint64Array(1);
    crypto.getRandomValues(random);
    $("seed").value = (random[0] % 1000000n).toString();
    renderSeed();
  };
  $("t").oninput = renderBetween;
  $("seed-a").onchange = renderBetween;
  $("seed-b").onchange = renderBetween;
  $("play").onclick = () => {
    playing = !playing;
    $("play").textContent = playing ? "Stop" : "Play";
    if (playing) animate(Infinity);
  };
  $("frames64").onclick = () => {
    playing = true;
    $("t").value = "0";
    document.body.dataset.frames = "running";
    animate(64, () => { document.body.dataset.frames = "done"; });
  };
  $("file").onchange = () => loadFile($("file").files[0]);
  const drop = $("model");
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    loadFile(e.dataTransfer.files[0]);
  };
}

async function main() {
  wire();
  try {
    const module = await import("./pkg/gan_web.js");
    await module.default();
    WebGenerator = module.WebGenerator;
  } catch (e) {
    $("model-info").textContent = "no runtime";
    showError(`the WebAssembly runtime did not load (${e.message}); build it with web/build.sh`);
    return;
  }
  const response = await fetch("default/generator.onnx").catch(() => null);
  if (response?.ok) {
    load("default/generator.onnx", new Uint8Array(await response.arrayBuffer()));
  } else {
    $("model-info").textContent = "no default generator here (web/build.sh makes one): pick a file";
    document.body.dataset.state = "ready";
  }
}

main();
