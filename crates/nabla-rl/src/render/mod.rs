//! Drawing episodes: each task's state as a small picture, and the frames of an episode as
//! an animated GIF.

mod canvas;
pub mod gif;

pub use canvas::Canvas;

use crate::env::frozen_lake::{MAP_4X4, MAP_8X8};
use crate::env::{Acrobot, MountainCar};
use crate::{Error, Result};

/// The colours every picture draws with (indices into this palette).
pub const PALETTE: [[u8; 3]; 10] = [
    [255, 255, 255], // 0 background
    [0, 0, 0],       // 1 outlines, track
    [60, 90, 200],   // 2 cart, car, links
    [205, 140, 80],  // 3 pole
    [200, 230, 250], // 4 ice
    [20, 40, 90],    // 5 hole
    [60, 170, 80],   // 6 goal, flag
    [220, 50, 50],   // 7 agent, joint
    [150, 150, 150], // 8 axle, grid lines
    [120, 90, 50],   // 9 hill
];

/// Picture size in pixels.
pub const WIDTH: usize = 300;
/// Picture size in pixels.
pub const HEIGHT: usize = 200;

/// Draws one state of the task `env` (a name of [`crate::env::ENV_NAMES`]).
///
/// # Errors
/// [`crate::Error::Unsupported`] for a task without a picture.
pub fn draw(env: &str, state: &[f64]) -> Result<Canvas> {
    let mut c = Canvas::new(WIDTH, HEIGHT);
    match env {
        "cartpole" => cartpole(&mut c, state),
        "acrobot" => acrobot(&mut c, state),
        "mountaincar" => mountain_car(&mut c, state),
        "pendulum" => pendulum(&mut c, state),
        "frozenlake" => lake(&mut c, &MAP_4X4, state[0] as usize),
        "frozenlake8x8" => lake(&mut c, &MAP_8X8, state[0] as usize),
        "gridworld" => lake(&mut c, &["GFFF", "FFFF", "FFFF", "FFFG"], state[0] as usize),
        _ => {
            return Err(Error::Unsupported {
                op: "render",
                env: env.to_string(),
                msg: "has no picture",
            })
        }
    }
    Ok(c)
}

/// Encodes pictures as a looping GIF, `delay_cs` hundredths of a second each.
pub fn to_gif(frames: &[Canvas], delay_cs: u16) -> Vec<u8> {
    let mut g = gif::GifWriter::new(WIDTH as u16, HEIGHT as u16, &PALETTE);
    for f in frames {
        g.frame(&f.pixels, delay_cs);
    }
    g.finish()
}

fn cartpole(c: &mut Canvas, s: &[f64]) {
    // Gymnasium's picture: the track spans ±2.4 m of a 4.8 m world.
    let scale = WIDTH as f64 / 4.8;
    let track_y = 150.0;
    c.line((0.0, track_y), (WIDTH as f64, track_y), 1.0, 1);
    let cart_x = s[0] * scale + WIDTH as f64 / 2.0;
    c.rect(
        cart_x - 15.0,
        track_y - 10.0,
        cart_x + 15.0,
        track_y + 5.0,
        2,
    );
    let pole_len = scale * 1.0;
    let tip = (
        cart_x + pole_len * s[2].sin(),
        track_y - 10.0 - pole_len * s[2].cos(),
    );
    c.line((cart_x, track_y - 10.0), tip, 3.0, 3);
    c.disc((cart_x, track_y - 10.0), 3.0, 8);
}

fn acrobot(c: &mut Canvas, s: &[f64]) {
    let a = Acrobot {
        state: [s[0], s[1], s[2], s[3]],
    };
    let scale = HEIGHT as f64 / 2.0 / 2.2;
    let o = (WIDTH as f64 / 2.0, HEIGHT as f64 / 2.0);
    let to_px = |p: (f64, f64)| (o.0 + p.0 * scale, o.1 - p.1 * scale);
    // The goal line: one link length above the pivot.
    c.line((0.0, o.1 - scale), (WIDTH as f64, o.1 - scale), 1.0, 1);
    let [p1, p2] = a.link_ends();
    c.line(o, to_px(p1), 5.0, 2);
    c.line(to_px(p1), to_px(p2), 5.0, 2);
    c.disc(o, 4.0, 7);
    c.disc(to_px(p1), 4.0, 7);
}

fn mountain_car(c: &mut Canvas, s: &[f64]) {
    let (lo, hi) = (-1.2, 0.6);
    let sx = WIDTH as f64 / (hi - lo);
    let sy = HEIGHT as f64 * 0.8;
    let px = |x: f64| {
        (
            (x - lo) * sx,
            HEIGHT as f64 - 10.0 - MountainCar::height(x) * sy,
        )
    };
    for i in 0..WIDTH {
        let x = lo + i as f64 / sx;
        let (_, y) = px(x);
        c.line((i as f64, y), (i as f64, HEIGHT as f64), 1.0, 9);
    }
    let flag = px(0.5);
    c.line(flag, (flag.0, flag.1 - 25.0), 1.5, 1);
    c.rect(flag.0, flag.1 - 25.0, flag.0 + 12.0, flag.1 - 18.0, 6);
    let car = px(s[0]);
    c.disc((car.0, car.1 - 7.0), 7.0, 2);
}

fn pendulum(c: &mut Canvas, s: &[f64]) {
    let o = (WIDTH as f64 / 2.0, HEIGHT as f64 / 2.0);
    let r = HEIGHT as f64 * 0.4;
    let tip = (o.0 + r * s[0].sin(), o.1 - r * s[0].cos());
    c.line(o, tip, 6.0, 3);
    c.disc(o, 4.0, 1);
}

fn lake(c: &mut Canvas, map: &[&str], cell: usize) {
    let n = map.len();
    let side = (HEIGHT - 10) / n;
    let x0 = (WIDTH - side * n) / 2;
    for (r, row) in map.iter().enumerate() {
        for (col, tile) in row.bytes().enumerate() {
            let colour = match tile {
                b'H' => 5,
                b'G' => 6,
                _ => 4,
            };
            let (x, y) = ((x0 + col * side) as f64, (5 + r * side) as f64);
            c.rect(x, y, x + side as f64, y + side as f64, 8);
            c.rect(
                x + 1.0,
                y + 1.0,
                x + side as f64 - 1.0,
                y + side as f64 - 1.0,
                colour,
            );
        }
    }
    let (r, col) = (cell / n, cell % n);
    let centre = (
        (x0 + col * side) as f64 + side as f64 / 2.0,
        (5 + r * side) as f64 + side as f64 / 2.0,
    );
    c.disc(centre, side as f64 / 3.0, 7);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_draws_and_the_agent_shows() {
        for (env, state) in [
            ("cartpole", vec![0.0, 0.0, 0.1, 0.0]),
            ("acrobot", vec![0.5, 0.5, 0.0, 0.0]),
            ("mountaincar", vec![-0.5, 0.0]),
            ("pendulum", vec![1.0, 0.0]),
            ("frozenlake", vec![5.0]),
            ("frozenlake8x8", vec![0.0]),
            ("gridworld", vec![6.0]),
        ] {
            let c = draw(env, &state).unwrap();
            let colours: std::collections::HashSet<u8> = c.pixels.iter().copied().collect();
            assert!(colours.len() >= 3, "{env}: {colours:?}");
        }
        assert!(draw("nosuch", &[]).is_err());
        let gif = to_gif(&[draw("cartpole", &[0.0; 4]).unwrap()], 2);
        assert!(gif.starts_with(b"GIF89a"));
    }
}
