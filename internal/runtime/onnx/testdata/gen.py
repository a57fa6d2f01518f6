#!/usr/bin/env python3
# Regenerates the ONNX parity fixtures in this directory with Debian's
# python3-torch (1.13) and python3-onnx (1.12):
#
#     cd internal/runtime/onnx/testdata && /usr/bin/python3 gen.py
#
# It writes two MLflow-style model packages and the reference outputs that
# PyTorch computes for fixed inputs:
#
#   mlp/     a classifier: MLP 8 -> 16 -> 3 with ReLU and softmax, FP32 input
#            "features" [batch, 8], output "probabilities" [batch, 3]; MLmodel
#            with the onnx and python_function flavors and a tensor signature,
#            as mlflow.onnx.log_model writes it.
#   mixed/   a regression net in float64 with a second, int64 input: inputs
#            "x" float64 [batch, 4] and "scale" int64 [batch, 1]; outputs
#            "y" float64 [batch, 1] = mlp(x) * scale and "positive" int64
#            [batch] = (y > 0). MLmodel without a signature (the runtime reads
#            names and shapes from the graph).
#   seqout/  a graph built with onnx.helper: input "x" float [batch, 2];
#            outputs "y" = x (float), "s" = SequenceConstruct(x) (a sequence,
#            which Ferry leaves out) and "positive" = x > 0 (bool).
#   parity.json  for each model, cases of several batch sizes: inputs and the
#            outputs torch computed (float32 values written exactly, as
#            Python floats).
#
# The batch axis is dynamic (dynamic_axes), so one graph serves every batch
# size. Seeds are fixed; the graphs are committed, so a regeneration is only
# needed when the fixtures change.
import json
import os

import numpy as np
import onnx
import torch

OPSET = 13
here = os.path.dirname(os.path.abspath(__file__))


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))

    def forward(self, features):
        return torch.softmax(self.net(features), dim=1)


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def forward(self, x, scale):
        y = self.net(x) * scale.to(torch.float64)
        return y, (y > 0).to(torch.int64).squeeze(1)


def tensor_spec(name, dtype, shape):
    return {"name": name, "type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}


def mlmodel(signature):
    # The layout mlflow.onnx.save_model writes (MLflow 2.x), YAML by hand so
    # that only torch and onnx are needed.
    lines = [
        "artifact_path: model",
        "flavors:",
        "  onnx:",
        "    code: null",
        "    data: model.onnx",
        "    onnx_session_options: null",
        "    onnx_version: 1.12.0",
        "    providers:",
        "    - CPUExecutionProvider",
        "  python_function:",
        "    data: model.onnx",
        "    env:",
        "      conda: conda.yaml",
        "      virtualenv: python_env.yaml",
        "    loader_module: mlflow.onnx",
        "    python_version: 3.11.2",
        "mlflow_version: 2.14.1",
        "model_uuid: 6f2c0a3e9b1d4c7e8a5f0b2d4e6a8c1f",
    ]
    if signature:
        lines.append("signature:")
        for part in ("inputs", "outputs"):
            lines.append("  %s: '%s'" % (part, json.dumps(signature[part])))
        lines.append("  params: null")
    lines.append("utc_time_created: '2026-01-05 10:00:00.000000'")
    return "\n".join(lines) + "\n"


def export(module, args, input_names, output_names, dynamic_axes, folder, signature):
    os.makedirs(os.path.join(here, folder), exist_ok=True)
    path = os.path.join(here, folder, "model.onnx")
    torch.onnx.export(module, args, path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    with open(os.path.join(here, folder, "MLmodel"), "w") as f:
        f.write(mlmodel(signature))


def seqout():
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])
    s = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    pos = helper.make_tensor_value_info("positive", TensorProto.BOOL, ["batch", 2])
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"]),
         helper.make_node("SequenceConstruct", ["x"], ["s"]),
         helper.make_node("Greater", ["x", "zero"], ["positive"])],
        "seqout", [x], [y, s, pos], initializer=[zero])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ferry-gen")
    m.ir_version = 7
    onnx.checker.check_model(m)
    os.makedirs(os.path.join(here, "seqout"), exist_ok=True)
    onnx.save(m, os.path.join(here, "seqout", "model.onnx"))
    with open(os.path.join(here, "seqout", "MLmodel"), "w") as f:
        f.write(mlmodel(None))


def tolist(t):
    a = t.detach().numpy()
    if a.dtype == np.float32:
        return [float(v) for v in a.reshape(-1)]  # exact: float32 -> double
    return a.reshape(-1).tolist()


def main():
    torch.manual_seed(20260105)
    gen = torch.Generator().manual_seed(7)
    parity = {"torch_version": torch.__version__, "onnx_version": onnx.__version__, "opset": OPSET}

    clf = Classifier().eval()
    export(clf, (torch.randn(2, 8),), ["features"], ["probabilities"],
           {"features": {0: "batch"}, "probabilities": {0: "batch"}}, "mlp",
           {"inputs": [tensor_spec("features", "float32", [-1, 8])],
            "outputs": [tensor_spec("probabilities", "float32", [-1, 3])]})
    cases = []
    for batch in (1, 7, 64):
        x = torch.randn(batch, 8, generator=gen) * 2
        with torch.no_grad():
            p = clf(x)
        cases.append({"batch": batch,
                      "inputs": [{"name": "features", "datatype": "FP32", "shape": list(x.shape), "data": tolist(x)}],
                      "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": list(p.shape), "data": tolist(p)}]})
    parity["mlp"] = cases

    mixed = Mixed().double().eval()
    export(mixed, (torch.randn(2, 4, dtype=torch.float64), torch.ones(2, 1, dtype=torch.int64)),
           ["x", "scale"], ["y", "positive"],
           {"x": {0: "batch"}, "scale": {0: "batch"}, "y": {0: "batch"}, "positive": {0: "batch"}},
           "mixed", None)
    cases = []
    for batch in (1, 5, 33):
        x = torch.randn(batch, 4, generator=gen, dtype=torch.float64)
        s = torch.randint(-3, 4, (batch, 1), generator=gen, dtype=torch.int64)
        with torch.no_grad():
            y, pos = mixed(x, s)
        cases.append({"batch": batch,
                      "inputs": [{"name": "x", "datatype": "FP64", "shape": list(x.shape), "data": tolist(x)},
                                 {"name": "scale", "datatype": "INT64", "shape": list(s.shape), "data": tolist(s)}],
                      "outputs": [{"name": "y", "datatype": "FP64", "shape": list(y.shape), "data": tolist(y)},
                                  {"name": "positive", "datatype": "INT64", "shape": list(pos.shape), "data": tolist(pos)}]})
    parity["mixed"] = cases

    seqout()

    with open(os.path.join(here, "parity.json"), "w") as f:
        json.dump(parity, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
