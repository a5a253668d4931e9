//! Generated images as pictures: grids and sprite sheets laid out as `gan_contract::grid` says,
//! their PNG encoding (feature `png`) and animated GIFs of them (feature `gif`). One encoder for every front end — the CLI's files and
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

/// `frames` (all the same size) as an animated GIF that loops forever, each shown for
/// `frame_ms` milliseconds. GIF has 256 colours a frame and one transparent one: each frame's
/// palette is quantised from its own pixels, and a pixel with alpha under 128 is transparent.
#[cfg(feature = "gif")]
pub fn gif(frames: &[Rgba8], frame_ms: u32) -> Result<Vec<u8>> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, RgbaImage};

    let encoding =
        |e: image::ImageError| RuntimeError::InvalidArgument(format!("cannot encode the GIF: {e}"));
    let first = frames
        .first()
        .ok_or_else(|| RuntimeError::InvalidArgument("a GIF needs at least one frame".into()))?;
    let mut bytes = Vec::new();
    {
        // Speed 10 of 1–30: gif's default trade of palette quality for time.
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(encoding)?;
        for frame in frames {
            if (frame.width, frame.height) != (first.width, first.height) {
                return Err(RuntimeError::InvalidArgument(
                    "every frame of a GIF has the same size".into(),
                ));
            }
            let buffer = RgbaImage::from_raw(frame.width, frame.height, frame.pixels.clone())
                .ok_or_else(|| {
                    RuntimeError::InvalidArgument("a frame's pixels do not fit its size".into())
                })?;
            let delay = Delay::from_numer_denom_ms(frame_ms, 1);
            encoder
                .encode_frame(Frame::from_parts(buffer, 0, 0, delay))
                .map_err(encoding)?;
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three 3×2 frames of one flat colour each: the decoded GIF has them all, in order, at
    /// that size and delay.
    #[cfg(feature = "gif")]
    #[test]
    fn a_gif_has_every_frame_in_order_at_its_size_and_delay() {
        use image::AnimationDecoder;
        let colours = [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]];
        let frames: Vec<Rgba8> = colours
            .iter()
            .map(|c| Rgba8 {
                width: 3,
                height: 2,
                pixels: c.repeat(6),
            })
            .collect();
        let bytes = gif(&frames, 120).unwrap();
        let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
        let decoded = decoder.into_frames().collect_frames().unwrap();
        assert_eq!(decoded.len(), 3);
        for (frame, colour) in decoded.iter().zip(colours) {
            assert_eq!(frame.buffer().dimensions(), (3, 2));
            assert_eq!(frame.buffer().get_pixel(1, 1).0, colour);
            assert_eq!(frame.delay().numer_denom_ms(), (120, 1));
        }
        assert!(gif(&[], 100).is_err());
    }

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
