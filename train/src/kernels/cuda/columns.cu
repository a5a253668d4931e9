// The two data movements of a lowered convolution, one thread per output element (grid-stride):
// im2col gathers the column matrix of a convolution, col2im sums a column matrix back into an
// image (a gather too: each output element adds the taps that land on it, in a fixed order, so
// the result does not depend on scheduling). Their CPU twins are in ../columns.rs.

// col[(img, i, j), (ch, kh, kw)] = x[img, ch, i·s + kh − p, j·s + kw − p] (0 outside x).
extern "C" __global__ void im2col_f32(
    const float* x, float* col,
    int n, int c, int h, int w, int k, int stride, int pad, int h_out, int w_out)
{
    const long kk = (long)k * k;
    const long row = (long)c * kk;
    const long total = (long)n * h_out * w_out * row;
    for (long idx = blockIdx.x * (long)blockDim.x + threadIdx.x; idx < total;
         idx += (long)blockDim.x * gridDim.x) {
        const long q = idx % row;
        const long r = idx / row;
        const int ch = (int)(q / kk);
        const int tap = (int)(q % kk);
        const int kh = tap / k, kw = tap % k;
        const int j = (int)(r % w_out);
        const long r2 = r / w_out;
        const int i = (int)(r2 % h_out);
        const long img = r2 / h_out;
        const int y = i * stride + kh - pad, xx = j * stride + kw - pad;
        float v = 0.0f;
        if (y >= 0 && y < h && xx >= 0 && xx < w) {
            v = x[((img * c + ch) * h + y) * w + xx];
        }
        col[idx] = v;
    }
}

// The adjoint of im2col: out[img, ch, y, x] = Σ col[(img, i, j), (ch, kh, kw)] over the taps with
// y = i·s + kh − p, x = j·s + kw − p (the transposed convolution of a product x·W).
extern "C" __global__ void col2im_f32(
    const float* col, float* out,
    int n, int c, int h, int w, int k, int stride, int pad, int h_out, int w_out)
{
    const long row = (long)c * k * k;
    const long total = (long)n * c * h * w;
    for (long idx = blockIdx.x * (long)blockDim.x + threadIdx.x; idx < total;
         idx += (long)blockDim.x * gridDim.x) {
        const int x = (int)(idx % w);
        long t = idx / w;
        const int y = (int)(t % h);
        t /= h;
        const int ch = (int)(t % c);
        const long img = t / c;
        const int py = y + pad, px = x + pad;
        float acc = 0.0f;
        for (int kh = py % stride; kh < k && kh <= py; kh += stride) {
            const int i = (py - kh) / stride;
            if (i >= h_out) continue;
            for (int kw = px % stride; kw < k && kw <= px; kw += stride) {
                const int j = (px - kw) / stride;
                if (j >= w_out) continue;
                acc += col[((img * h_out + i) * w_out + j) * row + ((long)ch * k + kh) * k + kw];
            }
        }
        out[idx] = acc;
    }
}
