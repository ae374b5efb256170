//! A minimal animated GIF89a writer: a 16-colour global palette, LZW-compressed frames,
//! a looping animation.

use std::collections::HashMap;

/// Writes bits least significant first, as GIF's LZW codes are packed.
struct BitWriter {
    bytes: Vec<u8>,
    acc: u32,
    bits: u32,
}

impl BitWriter {
    fn write(&mut self, code: u16, width: u32) {
        self.acc |= u32::from(code) << self.bits;
        self.bits += width;
        while self.bits >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.bits -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// GIF's variable-width LZW of palette indices (each `< 1 << min_code_size`).
pub fn lzw_encode(indices: &[u8], min_code_size: u32) -> Vec<u8> {
    let clear = 1u16 << min_code_size;
    let end = clear + 1;
    let mut out = BitWriter {
        bytes: Vec::new(),
        acc: 0,
        bits: 0,
    };
    let mut width = min_code_size + 1;
    let mut next = end + 1;
    let mut dict: HashMap<(u16, u8), u16> = HashMap::new();
    out.write(clear, width);
    let Some((&first, rest)) = indices.split_first() else {
        out.write(end, width);
        return out.finish();
    };
    let mut prefix = u16::from(first);
    for &k in rest {
        if let Some(&code) = dict.get(&(prefix, k)) {
            prefix = code;
            continue;
        }
        out.write(prefix, width);
        if next < 4095 {
            dict.insert((prefix, k), next);
            next += 1;
            // The decoder adds each entry one code later, so it widens its codes when
            // `next` reaches 2^width + 1 on this side.
            if u32::from(next) > 1 << width && width < 12 {
                width += 1;
            }
        } else {
            out.write(clear, width);
            dict.clear();
            width = min_code_size + 1;
            next = end + 1;
        }
        prefix = u16::from(k);
    }
    out.write(prefix, width);
    // The decoder adds one more entry on reading that last code.
    if u32::from(next + 1) > 1 << width && width < 12 {
        width += 1;
    }
    out.write(end, width);
    out.finish()
}

/// An animation being written: `width × height` frames of indices into `palette`.
pub struct GifWriter {
    bytes: Vec<u8>,
    width: u16,
    height: u16,
}

impl GifWriter {
    /// Starts a looping animation with a palette of at most 16 RGB colours.
    pub fn new(width: u16, height: u16, palette: &[[u8; 3]]) -> Self {
        let mut bytes = b"GIF89a".to_vec();
        bytes.extend_from_slice(&width.to_le_bytes());
        bytes.extend_from_slice(&height.to_le_bytes());
        // Global colour table of 2^(3+1) = 16 entries, 8 bits per primary.
        bytes.extend_from_slice(&[0xF3, 0, 0]);
        for i in 0..16 {
            bytes.extend_from_slice(&palette.get(i).copied().unwrap_or([0, 0, 0]));
        }
        // NETSCAPE2.0 application extension: loop forever.
        bytes.extend_from_slice(&[0x21, 0xFF, 11]);
        bytes.extend_from_slice(b"NETSCAPE2.0");
        bytes.extend_from_slice(&[3, 1, 0, 0, 0]);
        GifWriter {
            bytes,
            width,
            height,
        }
    }

    /// Appends a frame (`width · height` palette indices, row-major) shown for
    /// `delay_cs` hundredths of a second.
    pub fn frame(&mut self, indices: &[u8], delay_cs: u16) {
        debug_assert_eq!(
            indices.len(),
            usize::from(self.width) * usize::from(self.height)
        );
        // Graphic control extension: the delay.
        self.bytes.extend_from_slice(&[0x21, 0xF9, 4, 0]);
        self.bytes.extend_from_slice(&delay_cs.to_le_bytes());
        self.bytes.extend_from_slice(&[0, 0]);
        // Image descriptor: the whole canvas, no local palette.
        self.bytes.push(0x2C);
        self.bytes.extend_from_slice(&[0, 0, 0, 0]);
        self.bytes.extend_from_slice(&self.width.to_le_bytes());
        self.bytes.extend_from_slice(&self.height.to_le_bytes());
        self.bytes.push(0);
        let min_code_size = 4;
        self.bytes.push(min_code_size as u8);
        for block in lzw_encode(indices, min_code_size).chunks(255) {
            self.bytes.push(block.len() as u8);
            self.bytes.extend_from_slice(block);
        }
        self.bytes.push(0);
    }

    /// The finished file.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.push(0x3B);
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward GIF LZW decoder, to check the encoder against.
    fn lzw_decode(data: &[u8], min_code_size: u32) -> Vec<u8> {
        let clear = 1usize << min_code_size;
        let end = clear + 1;
        let (mut pos, mut width) = (0usize, min_code_size + 1);
        let read = |pos: &mut usize, width: u32| {
            let mut code = 0usize;
            for i in 0..width as usize {
                let bit = (data[(*pos + i) / 8] >> ((*pos + i) % 8)) & 1;
                code |= usize::from(bit) << i;
            }
            *pos += width as usize;
            code
        };
        let mut table: Vec<Vec<u8>> = Vec::new();
        let mut out = Vec::new();
        let mut prev: Option<Vec<u8>> = None;
        loop {
            let code = read(&mut pos, width);
            if code == clear {
                table = (0..clear).map(|i| vec![i as u8]).collect();
                table.push(vec![]);
                table.push(vec![]);
                width = min_code_size + 1;
                prev = None;
                continue;
            }
            if code == end {
                return out;
            }
            let entry = if code < table.len() {
                table[code].clone()
            } else {
                let p = prev.clone().expect("a new code follows another");
                let mut e = p.clone();
                e.push(p[0]);
                e
            };
            if let Some(p) = prev {
                let mut n = p.clone();
                n.push(entry[0]);
                table.push(n);
                if table.len() == 1 << width && width < 12 {
                    width += 1;
                }
            }
            out.extend_from_slice(&entry);
            prev = Some(entry);
        }
    }

    #[test]
    fn lzw_round_trips_through_a_reference_decoder() {
        let mut rng = nabla::Rng::new(0);
        // Runs (long repeats fill the table past 4095 codes) and noise.
        let mut data: Vec<u8> = (0..60_000).map(|i| ((i / 37) % 16) as u8).collect();
        data.extend((0..20_000).map(|_| rng.below(16) as u8));
        for n in [0, 1, 2, 17, 1000, data.len()] {
            assert_eq!(
                lzw_decode(&lzw_encode(&data[..n], 4), 4),
                &data[..n],
                "length {n}"
            );
        }
    }

    #[test]
    fn gif_file_has_header_frames_and_trailer() {
        let mut g = GifWriter::new(4, 2, &[[255, 255, 255], [0, 0, 0]]);
        g.frame(&[0, 1, 0, 1, 1, 0, 1, 0], 5);
        g.frame(&[1; 8], 5);
        let bytes = g.finish();
        assert!(bytes.starts_with(b"GIF89a"));
        assert_eq!(bytes.last(), Some(&0x3B));
        assert_eq!(bytes.windows(2).filter(|w| w == &[0x21, 0xF9]).count(), 2);
    }
}
