#!/usr/bin/env bash
# Build-time CUDA toolchain for `cargo build --features cuda` on a machine without a GPU or a CUDA
# install: nvcc, the headers and the libraries come from NVIDIA's PyPI wheels (CUDA 13.0, to match
# a driver-580 GPU machine: a newer nvcc can emit PTX an older driver cannot load), and the driver
# library `libcuda.so`, which is not on PyPI, is a link-time stub (the real one is loaded on the
# GPU machine). Prints the environment to `source` before cargo.
#
#     bash bench/gpu/cuda_toolchain.sh            # installs into ~/.cache/gan-cuda (or $GAN_CUDA_HOME)
#     source ~/.cache/gan-cuda/env.sh
#     cargo build --release -p gan-cli --features cuda
set -euo pipefail

root="${GAN_CUDA_HOME:-$HOME/.cache/gan-cuda}"
tree="$root/nvidia/cu13"
mkdir -p "$root/wheels"

if [ ! -e "$root/unpacked" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2010_x86_64 \
    --python-version 3.12 -d "$root/wheels" \
    nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88 \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvrtc==13.0.88 'nvidia-cuda-cccl>=13.0,<13.1' \
    'nvidia-cublas>=13.0,<13.1' 'nvidia-curand>=10.4,<10.4.1'
  for wheel in "$root"/wheels/*.whl; do
    python3 -m zipfile -e "$wheel" "$root"
  done
  chmod +x "$tree"/bin/* "$tree"/nvvm/bin/* 2>/dev/null || true
  touch "$root/unpacked"
fi

# Unversioned names for the linker.
cd "$tree/lib"
for lib in libcublas.so.13 libcublasLt.so.13 libcudart.so.13 libnvrtc.so.13 libcurand.so.10; do
  [ -e "$lib" ] && ln -sf "$lib" "${lib%%.so.*}.so"
done

# The driver library as a stub exporting every `cu*` entry point cudarc names (link time only).
if [ ! -e libcuda.so ]; then
  sys=$(find "$HOME/.cargo/registry/src" -path '*cudarc-*/src/driver/sys/mod.rs' | sort | tail -1)
  if [ -z "$sys" ]; then
    echo "cudarc's sources are not in ~/.cargo/registry yet: run 'cargo fetch' first" >&2
    exit 1
  fi
  grep -o 'fn cu[A-Za-z0-9_]*(' "$sys" | sed 's/fn \(.*\)(/void \1(void){}/' | sort -u > "$root/cuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o libcuda.so "$root/cuda_stub.c"
fi

cat > "$root/env.sh" <<ENV
export PATH="$tree/bin:$tree/nvvm/bin:\$PATH"
export CUDA_ROOT="$tree" CUDA_PATH="$tree" CUDA_HOME="$tree"
export LIBRARY_PATH="$tree/lib\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
ENV
echo "CUDA toolchain ready: source $root/env.sh"
