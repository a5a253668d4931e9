# Sourced by the GPU scripts: $gan (the first argument, else gpu-bundle/gan.gz unpacked, else
# target/release/gan), the CUDA libraries PyTorch's wheels bring on LD_LIBRARY_PATH, $python
# (PyTorch's venv when there is one) and $repo.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
gan="${1:-}"
if [ -z "$gan" ]; then
  if [ -f "$repo/gpu-bundle/gan.gz" ]; then
    gunzip -c "$repo/gpu-bundle/gan.gz" > /tmp/gan-cuda && chmod +x /tmp/gan-cuda
    gan=/tmp/gan-cuda
  else
    gan="$repo/target/release/gan"
  fi
fi
for dir in /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib; do
  [ -d "$dir" ] && export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
python=python3
[ -x /opt/torch/.venv/bin/python3 ] && python=/opt/torch/.venv/bin/python3
