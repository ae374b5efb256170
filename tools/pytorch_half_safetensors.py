"""Writes crates/nabla-nn/testdata/pytorch_half.safetensors: BF16 and F16 tensors as
PyTorch saves them, beside their exact F32 values, for nabla's checkpoint reader test
(crates/nabla-nn/tests/pytorch_checkpoint.rs). Run: /work/venv/bin/python tools/pytorch_half_safetensors.py
"""
import pathlib

import torch
from safetensors.torch import save_file

torch.manual_seed(0)
values = torch.randn(3, 5) * 10
out = {}
for name, dtype in [("bf16", torch.bfloat16), ("f16", torch.float16)]:
    out[name] = values.to(dtype)
    out[name + "_as_f32"] = values.to(dtype).to(torch.float32)
path = pathlib.Path(__file__).parent.parent / "crates/nabla-nn/testdata/pytorch_half.safetensors"
save_file(out, str(path))
print(f"wrote {path}")
