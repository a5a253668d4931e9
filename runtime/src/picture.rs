//! Generated images as pictures: grids and sprite sheets laid out as `gan_contract::grid` says,
//! and their PNG encoding (feature `png`). One encoder for every front end — the CLI's files and
//! the server's responses — so the same seeds give the same bytes everywhere.

use gan_contract::grid;

use crate::error::{Result, RuntimeError};
use crate::generator::Rgba8;

/// The columns of a grid of `n` images when none are asked for: as square as it gets.
pub fn default_cols(n: usize) -> usize {
    n.isqrt() + usize::from(n.isqrt() * n.isqrt() < n)
}

/// `images` (all the same size) in rows of `cols`, `gutter` pixels apart (`grid::GUTTER` for a
/// grid, 0 for a sprite sheet).
pub fn tile(images: &[Rgba8], cols: usize, gutter: usize) -> Result<Rgba8> {
    let size = images
        .first()
        .map_or((0, 0), |i| (i.width as usize, i.height as usize));
    let too_large = || {
        RuntimeError::InvalidArgument(format!(
            "a picture of {} images {}×{} in {cols} columns is too large",
            images.len(),
            size.0,
            size.1
        ))
    };
    if grid::canvas_size(images.len(), cols, size, gutter).is_none() {
        return Err(too_large());
    }
    let canvas = grid::tile(
        images.iter().map(|i| i.pixels.as_slice()),
        images.len(),
        cols,
        size,
        gutter,
    );
    Ok(Rgba8 {
        width: u32::try_from(canvas.width).map_err(|_| too_large())?,
        height: u32::try_from(canvas.height).map_err(|_| too_large())?,
        pixels: canvas.rgba,
    })
}

/// `image` drawn `factor` times its size, each pixel a `factor × factor` block (nearest
/// neighbour: a 16 px sprite stays crisp), within the toolkit's picture limit.
pub fn enlarge(image: &Rgba8, factor: usize) -> Result<Rgba8> {
    let (w, h) = (image.width as usize, image.height as usize);
    let size = |side: usize| side.checked_mul(factor).and_then(|s| u32::try_from(s).ok());
    let (Some(width), Some(height)) = (size(w), size(h)) else {
        return Err(RuntimeError::InvalidArgument(format!(
            "a {w}×{h} picture enlarged {factor} times is too large"
        )));
    };
    let pixels = width as u64 * height as u64;
    if factor == 0 || pixels > gan_contract::limits::DEFAULT_MAX_PICTURE_PIXELS {
        return Err(RuntimeError::InvalidArgument(format!(
            "a {w}×{h} picture cannot be enlarged {factor} times (the limit is {} pixels)",
            gan_contract::limits::DEFAULT_MAX_PICTURE_PIXELS
        )));
    }
    let mut out = Vec::with_capacity(pixels as usize * 4);
    for row in image.pixels.chunks_exact(w * 4) {
        let wide: Vec<u8> = row
            .chunks_exact(4)
            .flat_map(|p| std::iter::repeat_n(p, factor).flatten().copied())
            .collect();
        for _ in 0..factor {
            out.extend_from_slice(&wide);
        }
    }
    Ok(Rgba8 {
        width,
        height,
        pixels: out,
    })
}

/// `image` as PNG bytes.
#[cfg(feature = "png")]
pub fn png(image: &Rgba8) -> Result<Vec<u8>> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    let buffer = image::RgbaImage::from_raw(image.width, image.height, image.pixels.clone())
        .ok_or_else(|| {
            RuntimeError::InvalidArgument("the picture's pixels do not fit its size".into())
        })?;
    buffer
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| RuntimeError::InvalidArgument(format!("cannot encode the PNG: {e}")))?;
    Ok(bytes.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enlarged_picture_repeats_each_pixel_in_a_block() {
        let image = Rgba8 {
            width: 2,
            height: 1,
            pixels: vec![1, 2, 3, 4, 5, 6, 7, 8],
        };
        let big = enlarge(&image, 2).unwrap();
        assert_eq!((big.width, big.height), (4, 2));
        let row = [1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8];
        assert_eq!(big.pixels, [row, row].concat());
        assert!(enlarge(&image, 0).is_err());
        assert!(enlarge(&image, usize::MAX).is_err());
    }

    #[test]
    fn default_columns_make_the_squarest_grid() {
        let cols: Vec<usize> = [0, 1, 2, 4, 5, 9, 10, 64, 65].map(default_cols).to_vec();
        assert_eq!(cols, [0, 1, 2, 2, 3, 3, 4, 8, 9]);
    }
}
