//! The layout of a picture grid (training's sample grids, `gan generate`'s grids and sprite
//! sheets): same-sized RGBA8 tiles in rows of `cols`, `gutter` pixels apart on a dark background.

/// Background between tiles.
pub const BACKGROUND: [u8; 4] = [40, 40, 40, 255];
/// The gutter of sample grids (sprite sheets have none).
pub const GUTTER: usize = 2;

/// The two greys and the square side of the checkerboard transparent tiles are shown over.
pub const CHECKER: ([u8; 3], [u8; 3], usize) = ([204, 204, 204], [255, 255, 255], 8);

/// RGBA8 pixels (row-major, `width` wide) composited over [`CHECKER`], as image editors show
/// transparency; every alpha becomes 255.
pub fn over_checkerboard(rgba: &mut [u8], width: usize) {
    let (dark, light, side) = CHECKER;
    for (i, pixel) in rgba.chunks_exact_mut(4).enumerate() {
        let (x, y) = (i % width.max(1), i / width.max(1));
        let under = if (x / side + y / side) % 2 == 0 {
            dark
        } else {
            light
        };
        let alpha = u32::from(pixel[3]);
        for c in 0..3 {
            let over = u32::from(pixel[c]) * alpha + u32::from(under[c]) * (255 - alpha);
            pixel[c] = ((over + 127) / 255) as u8;
        }
        pixel[3] = u8::MAX;
    }
}

/// A tiled RGBA8 picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// The canvas size for `n` tiles of `tile` = (width, height), or `None` when it overflows.
pub fn canvas_size(
    n: usize,
    cols: usize,
    tile: (usize, usize),
    gutter: usize,
) -> Option<(usize, usize)> {
    let cols = cols.max(1);
    let rows = n.div_ceil(cols);
    let width = cols
        .checked_mul(tile.0.checked_add(gutter)?)?
        .checked_add(gutter)?;
    let height = rows
        .checked_mul(tile.1.checked_add(gutter)?)?
        .checked_add(gutter)?;
    width.checked_mul(height)?.checked_mul(4)?;
    Some((width, height))
}

/// Tile `tiles` (each `tile.0 × tile.1` RGBA8 pixels, row-major) in rows of `cols` (at least 1).
/// Tiles of the wrong size are skipped rather than read out of bounds.
///
/// # Panics
/// When the canvas size overflows `usize`; check it first with [`canvas_size`].
pub fn tile<'a>(
    tiles: impl IntoIterator<Item = &'a [u8]>,
    n: usize,
    cols: usize,
    tile: (usize, usize),
    gutter: usize,
) -> Canvas {
    let cols = cols.max(1);
    let (width, height) = canvas_size(n, cols, tile, gutter).expect("grid size fits in memory");
    let mut rgba = BACKGROUND.repeat(width * height);
    let (w, h) = tile;
    for (i, pixels) in tiles.into_iter().enumerate().take(n) {
        if pixels.len() != w * h * 4 {
            continue;
        }
        let (x0, y0) = (
            gutter + (i % cols) * (w + gutter),
            gutter + (i / cols) * (h + gutter),
        );
        for (y, row) in pixels.chunks_exact(w * 4).enumerate() {
            let start = ((y0 + y) * width + x0) * 4;
            rgba[start..start + w * 4].copy_from_slice(row);
        }
    }
    Canvas {
        width,
        height,
        rgba,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_land_in_rows_with_gutters() {
        let red = [255, 0, 0, 255].repeat(4); // a 2×2 tile
        let blue = [0, 0, 255, 255].repeat(4);
        let grid = tile([&red[..], &blue[..], &red[..]], 3, 2, (2, 2), 1);
        // 2 columns × (2 + 1) + 1 = 7 wide, 2 rows → 7 high.
        assert_eq!((grid.width, grid.height), (7, 7));
        let at = |x: usize, y: usize| &grid.rgba[(y * 7 + x) * 4..(y * 7 + x) * 4 + 4];
        assert_eq!(at(0, 0), BACKGROUND);
        assert_eq!(at(1, 1), [255, 0, 0, 255]);
        assert_eq!(at(4, 2), [0, 0, 255, 255]);
        assert_eq!(at(1, 4), [255, 0, 0, 255]);
        assert_eq!(at(4, 4), BACKGROUND, "the fourth place is empty");
    }

    #[test]
    fn no_gutter_packs_tiles_edge_to_edge() {
        let white = [255u8; 4];
        let grid = tile([&white[..], &white[..]], 2, 2, (1, 1), 0);
        assert_eq!((grid.width, grid.height), (2, 1));
        assert!(grid.rgba.iter().all(|&b| b == 255));
    }

    #[test]
    fn absurd_sizes_are_reported_not_wrapped() {
        assert_eq!(canvas_size(4, 2, (usize::MAX / 2, 1), 2), None);
        assert_eq!(canvas_size(1, 1, (3, 3), 2), Some((7, 7)));
    }

    #[test]
    fn transparent_pixels_show_the_checkerboard_and_opaque_ones_themselves() {
        // 9 pixels in a row: transparent at x 0 and 8 (a dark and a light square), opaque red
        // at x 1, half-transparent black at x 2 (over dark grey).
        let mut row = [[0u8, 0, 0, 0]; 9];
        row[1] = [255, 0, 0, 255];
        row[2] = [0, 0, 0, 128];
        let mut rgba: Vec<u8> = row.concat();
        over_checkerboard(&mut rgba, 9);
        let px = |x: usize| &rgba[4 * x..4 * x + 4];
        assert_eq!(px(0), [204, 204, 204, 255]);
        assert_eq!(px(8), [255, 255, 255, 255]);
        assert_eq!(px(1), [255, 0, 0, 255]);
        assert_eq!(px(2), [102, 102, 102, 255]);
    }
}
