#!/usr/bin/env bash
# Builds the sprite page in web/page: the WebAssembly runtime (web/page/pkg) and, unless one is
# there already, a default generator (a transparent fastgan) trained on the built-in `shapes` pictures
# (web/page/default/generator.onnx, made here rather than committed).
#
#   bash web/build.sh            # then serve web/page, e.g. `gan serve --model … --web web/page`
#   bash web/build.sh --runtime  # the WebAssembly runtime only (what the browser test needs)
#   GAN=path/to/gan bash web/build.sh   # use an existing gan binary for the default generator
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm-bindgen's command-line tool must be the version of the wasm-bindgen crate in Cargo.lock.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]]; then
    echo "installing wasm-bindgen-cli $version (cargo install, a few minutes)"
    cargo install --quiet wasm-bindgen-cli --version "$version"
fi
rustup target list --installed | grep -qx wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown

echo "building the WebAssembly runtime (cargo build --profile web, several minutes the first time)"
cargo build --quiet --profile web --target wasm32-unknown-unknown -p gan-web
# Function names are for debuggers; the page does not need them (a fifth of the size).
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir web/page/pkg \
    target/wasm32-unknown-unknown/web/gan_web.wasm
wasm=web/page/pkg/gan_web_bg.wasm
echo "runtime: $wasm, $(wc -c <"$wasm") bytes ($(gzip -9 -c "$wasm" | wc -c) gzipped)"

default=web/page/default/generator.onnx
if [[ ${1:-} != --runtime && ! -f $default ]]; then
    gan=${GAN:-}
    if [[ -z $gan ]]; then
        echo "building gan for the default generator (cargo build --release)"
        cargo build --quiet --release -p gan-cli
        gan=target/release/gan
    fi
    run=$(mktemp -d)
    trap 'rm -rf "$run"' EXIT
    # A small 32 px fastgan on the built-in discs and squares as transparent sprites (RGBA: the
    # page draws them over a checkerboard): 800 steps, about three minutes on two cores.
    echo "training the default generator on the built-in shapes (about three minutes)"
    "$gan" train --model fastgan --data shapes --image-size 32 --channels 4 --nz 32 \
        --ngf 8 --ndf 16 --batch-size 32 --max-steps 800 --quiet --out "$run/train"
    "$gan" export --run "$run/train" --out "$run/onnx" --which generator
    mkdir -p "$(dirname "$default")"
    cp "$run/onnx/generator.onnx" "$default"
    echo "default generator: $default"
fi
