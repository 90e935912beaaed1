"""YOLOX-Nano in PyTorch: depthwise CSPDarknet backbone, PAFPN neck, decoupled head.

Written for trt_viewer's demo model after the architecture of Megvii's YOLOX
(depth 0.33, width 0.25, depthwise convolutions, SiLU), with the same module layout so
an exported graph has the same shape as an official yolox_nano.onnx:
input `images` [1, 3, 416, 416] BGR 0..255, output `output` [1, 3549, 5 + C] with raw
box regressions and sigmoid objectness / class scores.

Dev-only: needs torch, which trt_viewer itself never imports.
"""

from __future__ import annotations

import math

import torch
from torch import nn

STRIDES = (8, 16, 32)
IN_CHANNELS = (256, 512, 1024)  # before the width multiplier, as in YOLOX


class BaseConv(nn.Module):
    """Conv -> BatchNorm -> SiLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DWConv(nn.Module):
    """Depthwise k x k then pointwise 1 x 1: what makes Nano nano."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1) -> None:
        super().__init__()
        self.dconv = BaseConv(cin, cin, k, stride, groups=cin)
        self.pconv = BaseConv(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pconv(self.dconv(x))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = BaseConv(cin, cout, 1)
        self.conv2 = DWConv(cout, cout, 3)
        self.use_add = shortcut and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return y + x if self.use_add else y


class CSPLayer(nn.Module):
    """Split into a bottleneck path and a shortcut path, concatenate, mix."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True) -> None:
        super().__init__()
        hidden = cout // 2
        self.conv1 = BaseConv(cin, hidden, 1)
        self.conv2 = BaseConv(cin, hidden, 1)
        self.conv3 = BaseConv(2 * hidden, cout, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, hidden, shortcut) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(torch.cat((self.m(self.conv1(x)), self.conv2(x)), dim=1))


class SPPBottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, kernels: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        hidden = cin // 2
        self.conv1 = BaseConv(cin, hidden, 1)
        self.m = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernels)
        self.conv2 = BaseConv(hidden * (len(kernels) + 1), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [m(x) for m in self.m], dim=1))


class Focus(nn.Module):
    """Space-to-depth (2x2 pixels into channels), then a conv: the YOLOX stem."""

    def __init__(self, cin: int, cout: int, k: int = 3) -> None:
        super().__init__()
        self.conv = BaseConv(cin * 4, cout, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tl, tr = x[..., ::2, ::2], x[..., ::2, 1::2]
        bl, br = x[..., 1::2, ::2], x[..., 1::2, 1::2]
        return self.conv(torch.cat((tl, bl, tr, br), dim=1))


class CSPDarknet(nn.Module):
    def __init__(self, depth: float, width: float) -> None:
        super().__init__()
        c = int(width * 64)
        n = max(round(depth * 3), 1)
        self.stem = Focus(3, c, 3)
        self.dark2 = nn.Sequential(DWConv(c, c * 2, 3, 2), CSPLayer(c * 2, c * 2, n))
        self.dark3 = nn.Sequential(DWConv(c * 2, c * 4, 3, 2), CSPLayer(c * 4, c * 4, n * 3))
        self.dark4 = nn.Sequential(DWConv(c * 4, c * 8, 3, 2), CSPLayer(c * 8, c * 8, n * 3))
        self.dark5 = nn.Sequential(
            DWConv(c * 8, c * 16, 3, 2),
            SPPBottleneck(c * 16, c * 16),
            CSPLayer(c * 16, c * 16, n, shortcut=False),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.dark2(self.stem(x))
        c3 = self.dark3(x)
        c4 = self.dark4(c3)
        return c3, c4, self.dark5(c4)


class PAFPN(nn.Module):
    """Top-down then bottom-up feature fusion over strides 8, 16, 32."""

    def __init__(self, depth: float, width: float) -> None:
        super().__init__()
        self.backbone = CSPDarknet(depth, width)
        c3, c4, c5 = (int(ch * width) for ch in IN_CHANNELS)
        n = round(3 * depth)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.lateral_conv0 = BaseConv(c5, c4, 1)
        self.C3_p4 = CSPLayer(2 * c4, c4, n, False)
        self.reduce_conv1 = BaseConv(c4, c3, 1)
        self.C3_p3 = CSPLayer(2 * c3, c3, n, False)
        self.bu_conv2 = DWConv(c3, c3, 3, 2)
        self.C3_n3 = CSPLayer(2 * c3, c4, n, False)
        self.bu_conv1 = DWConv(c4, c4, 3, 2)
        self.C3_n4 = CSPLayer(2 * c4, c5, n, False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x2, x1, x0 = self.backbone(x)
        fpn_out0 = self.lateral_conv0(x0)
        f_out0 = self.C3_p4(torch.cat((self.upsample(fpn_out0), x1), 1))
        fpn_out1 = self.reduce_conv1(f_out0)
        pan_out2 = self.C3_p3(torch.cat((self.upsample(fpn_out1), x2), 1))
        pan_out1 = self.C3_n3(torch.cat((self.bu_conv2(pan_out2), fpn_out1), 1))
        pan_out0 = self.C3_n4(torch.cat((self.bu_conv1(pan_out1), fpn_out0), 1))
        return pan_out2, pan_out1, pan_out0


class Head(nn.Module):
    """Decoupled head: per level a 1x1 stem, then separate class and box/objectness towers."""

    def __init__(self, num_classes: int, width: float) -> None:
        super().__init__()
        self.num_classes = num_classes
        hidden = int(256 * width)
        self.stems = nn.ModuleList(BaseConv(int(c * width), hidden, 1) for c in IN_CHANNELS)
        self.cls_convs = nn.ModuleList(
            nn.Sequential(DWConv(hidden, hidden, 3), DWConv(hidden, hidden, 3)) for _ in IN_CHANNELS
        )
        self.reg_convs = nn.ModuleList(
            nn.Sequential(DWConv(hidden, hidden, 3), DWConv(hidden, hidden, 3)) for _ in IN_CHANNELS
        )
        self.cls_preds = nn.ModuleList(nn.Conv2d(hidden, num_classes, 1) for _ in IN_CHANNELS)
        self.reg_preds = nn.ModuleList(nn.Conv2d(hidden, 4, 1) for _ in IN_CHANNELS)
        self.obj_preds = nn.ModuleList(nn.Conv2d(hidden, 1, 1) for _ in IN_CHANNELS)

    def initialize_biases(self, prior_prob: float = 1e-2) -> None:
        # Start every anchor at a low score so the many negatives don't swamp early steps.
        bias = -math.log((1 - prior_prob) / prior_prob)
        for conv in (*self.cls_preds, *self.obj_preds):
            nn.init.constant_(conv.bias, bias)

    def forward(self, feats: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """[B, anchors, 5 + C]: raw (tx, ty, tw, th), then objectness and class logits in
        training, or their sigmoids in eval; levels stride 8 first, row-major in each."""
        outs = []
        for k, x in enumerate(feats):
            x = self.stems[k](x)
            cls_feat = self.cls_convs[k](x)
            reg_feat = self.reg_convs[k](x)
            reg, obj, cls = self.reg_preds[k](reg_feat), self.obj_preds[k](reg_feat), self.cls_preds[k](cls_feat)
            if not self.training:
                obj, cls = obj.sigmoid(), cls.sigmoid()
            outs.append(torch.cat((reg, obj, cls), 1).flatten(start_dim=2))
        return torch.cat(outs, dim=2).permute(0, 2, 1)


class YOLOX(nn.Module):
    def __init__(self, num_classes: int, depth: float = 0.33, width: float = 0.25) -> None:
        super().__init__()
        self.backbone = PAFPN(depth, width)
        self.head = Head(num_classes, width)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):  # YOLOX's BN settings
                m.eps, m.momentum = 1e-3, 0.03
        self.head.initialize_biases(1e-2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def yolox_nano(num_classes: int) -> YOLOX:
    return YOLOX(num_classes, depth=0.33, width=0.25)


def anchor_grid(input_hw: tuple[int, int], device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell offsets [A, 2] (x, y) and strides [A, 1], in the head's output order."""
    grids, strides = [], []
    for s in STRIDES:
        h, w = input_hw[0] // s, input_hw[1] // s
        ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        grids.append(torch.stack((xs, ys), -1).reshape(-1, 2))
        strides.append(torch.full((h * w, 1), s, device=device))
    return torch.cat(grids).float(), torch.cat(strides).float()


def decode(raw: torch.Tensor, grid: torch.Tensor, stride: torch.Tensor) -> torch.Tensor:
    """Raw [..., 4] regressions to centre boxes (cx, cy, w, h) in input pixels."""
    xy = (raw[..., :2] + grid) * stride
    wh = torch.exp(raw[..., 2:4].clamp(max=10.0)) * stride
    return torch.cat((xy, wh), -1)


def export_onnx(model: YOLOX, path: str, input_hw: tuple[int, int] = (416, 416), opset: int = 11) -> None:
    """Export as YOLOX's tools/export_onnx.py does (decode_in_inference=False)."""
    model = model.float().eval().cpu()
    dummy = torch.zeros(1, 3, *input_hw)
    kwargs = {"dynamo": False} if "dynamo" in torch.onnx.export.__code__.co_varnames else {}
    torch.onnx.export(
        model, (dummy,), path, input_names=["images"], output_names=["output"],
        opset_version=opset, do_constant_folding=True, **kwargs,
    )
