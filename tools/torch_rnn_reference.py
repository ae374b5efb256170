"""PyTorch's recurrent layers as reference numbers for nabla's.

Builds nn.LSTM, nn.GRU and nn.RNN (input 5, hidden 6, 2 layers, bidirectional, batch_first)
and nn.LSTMCell / nn.GRUCell (input 5, hidden 6) with PyTorch's own random initialization,
runs them on a fixed random input, and writes their weights (state_dict names under the
prefixes lstm., gru., rnn., lstm_cell., gru_cell.), the inputs and the outputs to
crates/nabla-nn/testdata/torch_rnn_reference.safetensors. The Rust test
`pytorch_weights_give_pytorch_outputs` (crates/nabla-nn/tests/recurrent.rs) loads the weights
into nabla's layers and compares.

    .venv/bin/python tools/torch_rnn_reference.py
"""
from pathlib import Path

import torch
import torch.nn as nn
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/nabla-nn/testdata/torch_rnn_reference.safetensors"


def main():
    torch.manual_seed(0)
    x = torch.randn(3, 7, 5)  # [batch, time, features]
    cell_x = torch.randn(4, 5)
    tensors = {"input": x, "cell_input": cell_x}
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    layers = {"lstm": nn.LSTM(5, 6, **kw), "gru": nn.GRU(5, 6, **kw), "rnn": nn.RNN(5, 6, **kw)}
    with torch.no_grad():
        for name, layer in layers.items():
            out, state = layer(x)
            h_n, c_n = state if isinstance(state, tuple) else (state, None)
            tensors[f"{name}.out"] = out
            tensors[f"{name}.h_n"] = h_n
            if c_n is not None:
                tensors[f"{name}.c_n"] = c_n
            for k, v in layer.state_dict().items():
                tensors[f"{name}.{k}"] = v
        lstm_cell, gru_cell = nn.LSTMCell(5, 6), nn.GRUCell(5, 6)
        h, c = lstm_cell(cell_x)
        tensors["lstm_cell.h"], tensors["lstm_cell.c"] = h, c
        tensors["gru_cell.h"] = gru_cell(cell_x)
        for name, cell in [("lstm_cell", lstm_cell), ("gru_cell", gru_cell)]:
            for k, v in cell.state_dict().items():
                tensors[f"{name}.{k}"] = v
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(OUT))
    print(f"wrote {len(tensors)} tensors to {OUT.relative_to(ROOT)} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
