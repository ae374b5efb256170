#!/usr/bin/env python3
"""Writes the seeds of the `onnx` fuzz target (fuzz/seeds/onnx/): small valid models whose
input is [batch, 4], as the target runs them, built with onnx.helper (pip install onnx).
Run from the repository root: python fuzz/seeds/make_onnx_seeds.py"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


def w(name, *dims):
    return numpy_helper.from_array(rng.standard_normal(dims).astype(np.float32), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def save(name, nodes, inits, out_dims, opset=17):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_dims)
    graph = helper.make_graph(nodes, name, [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, f"fuzz/seeds/onnx/{name}.onnx")


N = helper.make_node
save("mlp", [
    N("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
    N("Relu", ["h"], ["r"]),
    N("Gemm", ["r", "w2", "b2"], ["z"], transB=1),
    N("Softmax", ["z"], ["y"], axis=-1),
], [w("w1", 3, 4), w("b1", 3), w("w2", 2, 3), w("b2", 2)], ["batch", 2])
save("shape_ops", [
    N("Shape", ["x"], ["s"]),
    N("Gather", ["s", "zero"], ["n"], axis=0),
    N("Concat", ["n", "two_two"], ["shape"], axis=0),
    N("Reshape", ["x", "shape"], ["r"]),
    N("Transpose", ["r"], ["t"], perm=[0, 2, 1]),
    N("Slice", ["t", "zero", "one", "two"], ["sl"]),
    N("Squeeze", ["sl", "two"], ["sq"]),
    N("Pad", ["sq", "pads"], ["p"]),
    N("ReduceMean", ["p"], ["y"], axes=[1], keepdims=1),
], [ints("zero", [0]), ints("one", [1]), ints("two", [2]), ints("two_two", [2, 2]),
    ints("pads", [0, 1, 0, 1])], ["batch", 1])
save("conv", [
    N("Reshape", ["x", "img"], ["r"]),
    N("Conv", ["r", "k", "kb"], ["c"], kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
    N("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"]),
    N("MaxPool", ["bn"], ["mp"], kernel_shape=[2, 2], strides=[1, 1]),
    N("GlobalAveragePool", ["mp"], ["gp"]),
    N("Flatten", ["gp"], ["y"]),
], [ints("img", [-1, 1, 2, 2]), w("k", 3, 1, 2, 2), w("kb", 3), w("g", 3), w("b", 3), w("m", 3),
    numpy_helper.from_array(np.full(3, 0.5, np.float32), "v")], ["batch", 3])
save("lstm", [
    N("Unsqueeze", ["x", "zero"], ["seq"]),
    N("LSTM", ["seq", "W", "R", "B"], ["ys", "h"], hidden_size=2, direction="bidirectional"),
    N("Transpose", ["h"], ["ht"], perm=[1, 0, 2]),
    N("Flatten", ["ht"], ["y"]),
], [ints("zero", [0]), w("W", 2, 8, 4), w("R", 2, 8, 2), w("B", 2, 16)], ["batch", 4])
