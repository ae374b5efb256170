//! ONNX bytes through `nabla_onnx::OnnxModel::from_bytes`: any input gives a model or an
//! error, never a panic; a decoded model encodes and decodes again to the same graph size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nabla_onnx::proto::ModelProto;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = ModelProto::decode(data) {
        let again = ModelProto::decode(&model.encode()).expect("what encode writes decodes");
        assert_eq!(again.graph.nodes.len(), model.graph.nodes.len());
        assert_eq!(again.graph.initializers.len(), model.graph.initializers.len());
    }
    let vs = nabla_nn::VarStore::new(&nabla::Device::Cpu);
    if let Ok(m) = nabla_onnx::OnnxModel::from_bytes(data, &vs) {
        // Running the graph on a small input exercises the operators' checks too.
        let x = nabla::Tensor::zeros(&[1, 4], nabla::DType::F32, &nabla::Device::Cpu);
        let _ = nabla::no_grad(|| m.run(&[x], false));
    }
    // The engine's buffer pool keeps up to 2 GiB of freed buffers for reuse, by design;
    // emptied after each input so that the RSS limit measures what one input allocates.
    nabla::storage::clear_pool();
});
