//! safetensors bytes through `nabla_nn::checkpoint::from_bytes`: any input gives a checkpoint
//! or an error, never a panic; a checkpoint read back writes out and reads again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla_nn::checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(ckpt) = checkpoint::from_bytes(data, "fuzz.safetensors") {
        let bytes = checkpoint::to_bytes(&ckpt.tensors, &ckpt.metadata).expect("to_bytes");
        let again = checkpoint::from_bytes(&bytes, "again.safetensors")
            .expect("what to_bytes writes reads back");
        assert_eq!(again.tensors.len(), ckpt.tensors.len());
    }
});
