//! `.npy` bytes through `nabla::io::npy::from_bytes`: any input gives a tensor or an error,
//! never a panic; a tensor read back writes out and reads again to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla::io::npy;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = npy::from_bytes(data, "fuzz.npy") {
        let again = npy::from_bytes(&npy::to_bytes(&t).expect("to_bytes"), "again.npy")
            .expect("what to_bytes writes reads back");
        assert_eq!(again.dims(), t.dims());
        assert_eq!(again.dtype(), t.dtype());
    }
});
