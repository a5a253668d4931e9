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
    fn default_columns_make_the_squarest_grid() {
        let cols: Vec<usize> = [0, 1, 2, 4, 5, 9, 10, 64, 65].map(default_cols).to_vec();
        assert_eq!(cols, [0, 1, 2, 2, 3, 3, 4, 8, 9]);
    }
}
