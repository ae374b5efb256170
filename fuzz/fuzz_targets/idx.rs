//! IDX bytes, raw or gzip (the reader tells them apart by the `1f 8b` magic), through
//! `nabla_data::readers::idx::parse`: any input gives an array or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla_data::readers::idx;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = idx::parse(std::io::Cursor::new(data), "fuzz.idx") {
        // The header's sizes must describe exactly the elements returned.
        let numel: usize = array.dims.iter().product();
        assert_eq!(array.to_f32().len(), numel);
        let _ = array.to_i64();
    }
});
