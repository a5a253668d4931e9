#!/usr/bin/env bash
# Rebuilds vendor/candle-core from the published candle-core crate and candle-core.patch, so the
# committed copy is always "upstream + one reviewable patch" (vendor/README.md).
#
#   bash vendor/rebuild.sh          rewrite vendor/candle-core
#   bash vendor/rebuild.sh --check  fail if vendor/candle-core differs from upstream + patch (CI)
#   bash vendor/rebuild.sh --diff   rewrite candle-core.patch from the current vendor/candle-core
#                                   (after editing the copy by hand)
set -euo pipefail
VERSION=0.11.1
# What the copy leaves out of the published crate before the patch applies: candle's own tests,
# benchmarks and examples (not ours to run), and the GGUF tokenizer, whose `tokenizers`
# dependency was 74 of the first build's crates and which nothing here calls.
REMOVED=(tests benches examples Cargo.toml.orig Cargo.lock .cargo-ok src/quantized/tokenizer.rs)

here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-rebuild}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cargo fetches the crate into its own cache, as for any dependency.
mkdir -p "$work/fetch/src"
touch "$work/fetch/src/lib.rs"
cat >"$work/fetch/Cargo.toml" <<EOF
[package]
name = "fetch-candle-core"
version = "0.0.0"
edition = "2021"

[dependencies]
candle-core = "=$VERSION"
EOF
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"
crate=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/candle-core-$VERSION.crate | head -n 1)

mkdir -p "$work/a"
tar xzf "$crate" -C "$work/a"
upstream="$work/a/candle-core-$VERSION"
for path in "${REMOVED[@]}"; do rm -rf "${upstream:?}/$path"; done

if [ "$mode" = "--diff" ]; then
    # diff exits 1 when the trees differ, which is the point here.
    (cd "$work/a" && diff -ruN "candle-core-$VERSION" "$here/candle-core" |
        sed -e "s#^--- candle-core-$VERSION/\([^\t]*\).*#--- a/\1#" \
            -e "s#^+++ $here/candle-core/\([^\t]*\).*#+++ b/\1#" \
            -e "s#^diff -ruN .*#diff#" | grep -v '^diff$') >"$here/candle-core.patch" || true
    echo "wrote $here/candle-core.patch"
    exit 0
fi

(cd "$upstream" && patch --quiet -p1 <"$here/candle-core.patch")

case "$mode" in
--check)
    if ! diff -r "$upstream" "$here/candle-core" >"$work/differences"; then
        echo "vendor/candle-core is not candle-core $VERSION + vendor/candle-core.patch:" >&2
        head -n 40 "$work/differences" >&2
        echo "(bash vendor/rebuild.sh rewrites the copy; --diff rewrites the patch)" >&2
        exit 1
    fi
    echo "vendor/candle-core is candle-core $VERSION + vendor/candle-core.patch"
    ;;
rebuild)
    rm -rf "$here/candle-core"
    cp -r "$upstream" "$here/candle-core"
    echo "rebuilt $here/candle-core"
    ;;
*)
    echo "usage: bash vendor/rebuild.sh [--check | --diff]" >&2
    exit 2
    ;;
esac
