//! A picture of palette indices with the few shapes the episode drawings need.

/// `width × height` palette indices, row-major, y down.
#[derive(Clone, Debug)]
pub struct Canvas {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels.
    pub pixels: Vec<u8>,
}

impl Canvas {
    /// A canvas of colour 0.
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![0; width * height],
        }
    }

    fn set(&mut self, x: i64, y: i64, colour: u8) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = colour;
        }
    }

    /// Fills the axis-aligned rectangle `[x0, x1) × [y0, y1)`.
    pub fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, colour: u8) {
        for y in y0.round() as i64..y1.round() as i64 {
            for x in x0.round() as i64..x1.round() as i64 {
                self.set(x, y, colour);
            }
        }
    }

    /// Fills the disc of radius `r` around `centre`.
    pub fn disc(&mut self, centre: (f64, f64), r: f64, colour: u8) {
        let (cx, cy) = centre;
        for y in (cy - r).floor() as i64..=(cy + r).ceil() as i64 {
            for x in (cx - r).floor() as i64..=(cx + r).ceil() as i64 {
                let (dx, dy) = (x as f64 - cx, y as f64 - cy);
                if dx * dx + dy * dy <= r * r {
                    self.set(x, y, colour);
                }
            }
        }
    }

    /// A segment `thickness` pixels wide (discs stamped along it).
    pub fn line(&mut self, from: (f64, f64), to: (f64, f64), thickness: f64, colour: u8) {
        let len = ((to.0 - from.0).powi(2) + (to.1 - from.1).powi(2)).sqrt();
        let steps = (len * 2.0).ceil().max(1.0) as usize;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let p = (from.0 + t * (to.0 - from.0), from.1 + t * (to.1 - from.1));
            self.disc(p, (thickness / 2.0).max(0.5), colour);
        }
    }
}
