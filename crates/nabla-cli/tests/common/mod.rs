//! Helpers shared by the binary's end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn nabla(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the nabla binary runs")
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nabla-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The percentage after `label` in the output, e.g. "test accuracy 91.20%".
pub fn percent_after(out: &str, label: &str) -> f64 {
    let at = out
        .find(label)
        .unwrap_or_else(|| panic!("no '{label}' in:\n{out}"))
        + label.len();
    out[at..]
        .trim_start()
        .split('%')
        .next()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no number after '{label}' in:\n{out}"))
}

/// Runs each `(arguments, expected text)` case and checks that it fails with the text in its
/// output, without a panic or an allocator abort.
pub fn assert_clear_errors(dir: &Path, cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        let o = nabla(dir, args);
        let out = text(&o);
        assert!(!o.status.success(), "{args:?} succeeded:\n{out}");
        assert!(out.contains(want), "{args:?}: expected '{want}' in:\n{out}");
        assert!(
            !out.contains("panicked") && !out.contains("memory allocation"),
            "{args:?}:\n{out}"
        );
    }
}

/// A small grey PNG with a vertical bar, written without an image library: stored (level 0)
/// deflate blocks inside zlib, with the CRCs and Adler-32 PNG needs.
pub fn write_grey_png(path: &Path, w: usize, h: usize) {
    write_grey_png_bar(path, w, h, 10..18);
}

/// A small grey PNG with a white vertical bar over the columns `bar`.
pub fn write_grey_png_bar(path: &Path, w: usize, h: usize, bar: std::ops::Range<usize>) {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let mut raw = Vec::new();
    for _y in 0..h {
        raw.push(0u8); // filter: none
        raw.extend((0..w).map(|x| if bar.contains(&x) { 255u8 } else { 0 }));
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &v in &raw {
        a = (a + v as u32) % 65521;
        b = (b + a) % 65521;
    }
    let mut z = vec![0x78, 0x01, 1];
    z.extend((raw.len() as u16).to_le_bytes());
    z.extend((!(raw.len() as u16)).to_le_bytes());
    z.extend(&raw);
    z.extend(((b << 16) | a).to_be_bytes());
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend(data);
        c.extend(&body);
        c.extend(crc32(&body).to_be_bytes());
        c
    };
    let mut ihdr = (w as u32).to_be_bytes().to_vec();
    ihdr.extend((h as u32).to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]); // 8-bit greyscale
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(b"IDAT", &z));
    png.extend(chunk(b"IEND", &[]));
    std::fs::write(path, png).expect("write png");
}
