"""Writes crates/nabla-nn/testdata/torchvision_state_dicts.txt: for each torchvision model
nabla's zoo mirrors, the number of parameters and every state_dict entry (name and shape, in
state_dict order). Regenerate from the repository root with

    .venv/bin/pip install torchvision   # no weights are downloaded: models are built on "meta"
    .venv/bin/python tools/torchvision_state_dicts.py > crates/nabla-nn/testdata/torchvision_state_dicts.txt

The nabla-nn zoo tests compare their models' VarStore (names, shapes, order) with it.
"""
import torch
import torchvision
import torchvision.models as m

MODELS = {
    "alexnet": lambda: m.alexnet(),
    "vgg11": lambda: m.vgg11(),
    "vgg13": lambda: m.vgg13(),
    "vgg16": lambda: m.vgg16(),
    "vgg19": lambda: m.vgg19(),
    "vgg11_bn": lambda: m.vgg11_bn(),
    "vgg13_bn": lambda: m.vgg13_bn(),
    "vgg16_bn": lambda: m.vgg16_bn(),
    "vgg19_bn": lambda: m.vgg19_bn(),
    "resnet18": lambda: m.resnet18(),
    "resnet34": lambda: m.resnet34(),
    "resnet50": lambda: m.resnet50(),
    "resnet101": lambda: m.resnet101(),
    "resnet152": lambda: m.resnet152(),
    # aux_logits=True is torchvision's default when no weights are given.
    "googlenet": lambda: m.googlenet(aux_logits=True, init_weights=True),
    "googlenet_no_aux": lambda: m.googlenet(aux_logits=False, init_weights=True),
}

print(f"# torch {torch.__version__}, torchvision {torchvision.__version__}; written by tools/torchvision_state_dicts.py")
for name, build in MODELS.items():
    with torch.device("meta"):
        net = build()
    params = sum(p.numel() for p in net.parameters())
    sd = net.state_dict()
    print(f"model {name} {params} {len(sd)}")
    for key, t in sd.items():
        print(key, ",".join(str(d) for d in t.shape) or "-")
