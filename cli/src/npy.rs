//! NumPy `.npy` files of float32 `[N, D]` arrays: latents in and out, for interop with Python.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Read a C-ordered little-endian float32 array of rank 2: `(rows, cols, values)`.
pub fn read_f32_matrix(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let fail = |m: &str| anyhow::anyhow!("{}: {m}", path.display());
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(fail("not a .npy file"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("{}: unsupported .npy version {v}", path.display()),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| fail("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| fail("header is not text"))?;
    let entries = header_entries(header).ok_or_else(|| fail("the header is not a dictionary"))?;
    let value = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| fail(&format!("the header has no '{key}'")))
    };
    if !matches!(value("descr")?, "'<f4'" | "\"<f4\"") {
        return Err(fail(
            "dtype must be little-endian float32 ('<f4'); use z.astype(np.float32)",
        ));
    }
    if value("fortran_order")? != "False" {
        return Err(fail(
            "Fortran order is not supported; use np.ascontiguousarray",
        ));
    }
    let shape = value("shape")?
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| fail("the shape is not a tuple"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| fail("bad shape"))?;
    let [rows, cols] = dims[..] else {
        bail!("{}: shape {dims:?}; expected [N, nz]", path.display());
    };
    let data = &bytes[start + header_len..];
    if Some(data.len()) != rows.checked_mul(cols).and_then(|n| n.checked_mul(4)) {
        return Err(fail(&format!(
            "holds {} data bytes, not {rows}×{cols} float32 values",
            data.len()
        )));
    }
    Ok((
        rows,
        cols,
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    ))
}

/// The `'key': value` entries of a `.npy` header, a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`; values as text, commas
/// inside parentheses kept. `None` when it is not such a dict.
fn header_entries(header: &str) -> Option<Vec<(&str, &str)>> {
    let body = header.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut entries = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let mut parts = Vec::new();
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once(':')?;
        let key = key.trim().trim_matches(|c| c == '\'' || c == '"');
        entries.push((key, value.trim()));
    }
    Some(entries)
}

/// Write `values` as a float32 `[rows, cols]` array (format version 1.0).
pub fn write_f32_matrix(path: &Path, rows: usize, cols: usize, values: &[f32]) -> Result<()> {
    let mut once = Some(values.to_vec());
    write_f32_matrix_streamed(path, rows, cols, || Ok(once.take()))
}

/// Write a float32 `[rows, cols]` array whose values `next_batch` hands over a batch at a time
/// (`None` at the end), atomically: a failed write leaves no file.
pub fn write_f32_matrix_streamed(
    path: &Path,
    rows: usize,
    cols: usize,
    mut next_batch: impl FnMut() -> Result<Option<Vec<f32>>>,
) -> Result<()> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Pad so the data starts on a 64-byte boundary, header ending in a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut failure = None;
    let written = gan_models::atomic::write_file_with(path, |file| {
        file.write_all(b"\x93NUMPY\x01\x00")?;
        file.write_all(&(header.len() as u16).to_le_bytes())?;
        file.write_all(header.as_bytes())?;
        let mut count = 0usize;
        loop {
            match next_batch() {
                Ok(Some(batch)) => {
                    count += batch.len();
                    for v in batch {
                        file.write_all(&v.to_le_bytes())?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    return Err(std::io::Error::other("a batch failed"));
                }
            }
        }
        if Some(count) != rows.checked_mul(cols) {
            return Err(std::io::Error::other(format!(
                "{count} values for a {rows}×{cols} array"
            )));
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Truncated and bit-flipped `.npy` files: read or refused by name, never a panic.
    #[test]
    fn mutated_files_are_read_or_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.npy");
        write_f32_matrix(&path, 3, 4, &[0.5; 12]).unwrap();
        let good = std::fs::read(&path).unwrap();
        for (case, bytes) in gan_models::fixtures::mutations(&good, 100, 400)
            .iter()
            .enumerate()
        {
            std::fs::write(&path, bytes).unwrap();
            if let Err(e) = read_f32_matrix(&path) {
                assert!(e.to_string().contains("z.npy"), "case {case}: {e}");
            }
        }
    }

    #[test]
    fn round_trip_and_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("z.npy");
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 2.0).collect();
        write_f32_matrix(&path, 3, 4, &values).unwrap();
        assert_eq!(read_f32_matrix(&path).unwrap(), (3, 4, values));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 4);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_f32_matrix(&path).unwrap_err().to_string();
        assert!(err.contains("z.npy") && err.contains("data bytes"), "{err}");
        // A '<f4' that is not the descr is not taken for one.
        let fake = "{'descr': '<f8', 'note': '<f4', 'fortran_order': False, 'shape': (1, 1), }";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((fake.len() as u16).to_le_bytes());
        bytes.extend(fake.as_bytes());
        bytes.extend([0u8; 8]);
        std::fs::write(&path, &bytes).unwrap();
        let err = read_f32_matrix(&path).unwrap_err().to_string();
        assert!(err.contains("float32"), "{err}");
        std::fs::write(&path, b"hello").unwrap();
        assert!(
            read_f32_matrix(&path)
                .unwrap_err()
                .to_string()
                .contains("not a .npy")
        );
    }
}
