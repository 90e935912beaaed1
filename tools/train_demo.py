#!/usr/bin/env python3
"""Train trt_viewer's demo YOLOX-Nano on generated scenes and export it as YOLOX does.

    python tools/train_demo.py --out runs/demo --minutes 6          # GPU, time-boxed
    python tools/train_demo.py --out runs/demo --iters 6000         # fixed schedule
    python tools/train_demo.py --out /tmp/t --iters 20 --batch 8 --workers 2 --device cpu  # smoke test

Data never repeats: worker processes draw fresh scenes (stills and frames of moving
clips) from the generator in trt_viewer.demo.scenes, letterbox them to 416 x 416 exactly
as inference does (top-left, pad 114, BGR 0..255) and hand them over as uint8.
Label assignment is YOLOX's SimOTA, batched over the images of a step. Losses, BN
settings, bias prior, SGD + warmup + cosine and the final L1 phase follow YOLOX; the
exported model is the EMA of the weights.

Writes to --out: demo.onnx, demo.names, last.pt (weights, EMA, optimizer, step; continue
with --resume), train.log.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yolox_nano import YOLOX, anchor_grid, decode, export_onnx, yolox_nano

from trt_viewer.demo.scenes import CLASS_NAMES, SceneVideo, generate_scene

INPUT = 416
PAD = 114
MAX_LABELS = 40
TRAIN_DOMAIN = 0  # seeds (TRAIN_DOMAIN, seed, ...); eval and the demo clip use others
# Training clips take seeds from [CLIP_SEED_MIN, 2**31); smaller clip seeds (the eval's
# 100 to 109, the tests', the demo video's 90210) are never trained on.
CLIP_SEED_MIN = 1 << 20

# --- data --------------------------------------------------------------------------

ASPECTS = ((16, 9), (4, 3), (1, 1), (3, 2), (9, 16), (3, 4))
ASPECT_P = (0.45, 0.25, 0.1, 0.1, 0.05, 0.05)


def random_size(rng: np.random.Generator) -> tuple[int, int]:
    """Frame sizes from phone-portrait to 720p, mostly larger than the network input,
    so the model sees the same downscaling the app applies."""
    aw, ah = ASPECTS[rng.choice(len(ASPECTS), p=ASPECT_P)]
    u = rng.random()
    long_side = rng.uniform(320, 416) if u < 0.15 else rng.uniform(416, 960) if u < 0.9 else rng.uniform(960, 1280)
    scale = long_side / max(aw, ah)
    return max(64, int(aw * scale)), max(64, int(ah * scale))


def fit(img: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resize as YOLOX's preproc does (by the smaller ratio, INTER_LINEAR); boxes follow
    the pixels' exact scale (OpenCV scales by new size / old size)."""
    h, w = img.shape[:2]
    r = min(INPUT / h, INPUT / w)
    nw, nh = int(w * r), int(h * r)
    out = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, boxes * np.float32([nw / w, nh / h, nw / w, nh / h])


def pad(img: np.ndarray) -> np.ndarray:
    """Paste at the top-left of a 114 canvas, as inference does."""
    out = np.full((INPUT, INPUT, 3), PAD, np.uint8)
    out[: img.shape[0], : img.shape[1]] = img
    return out


def flip(img: np.ndarray, boxes: np.ndarray, horizontal: bool) -> tuple[np.ndarray, np.ndarray]:
    h, w = img.shape[:2]
    b = boxes.copy()
    if horizontal:
        b[:, [0, 2]] = w - boxes[:, [2, 0]]
    else:
        b[:, [1, 3]] = h - boxes[:, [3, 1]]
    return cv2.flip(img, 1 if horizontal else 0), b


def jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Compression artefacts like those of the demo's mp4 and most real footage."""
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 95))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else img


def to_labels(boxes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """[MAX_LABELS, 5] rows of (class, cx, cy, w, h); unused rows are all zero."""
    out = np.zeros((MAX_LABELS, 5), np.float32)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= 2) & ((boxes[:, 3] - boxes[:, 1]) >= 2)
    boxes, ids = boxes[keep][:MAX_LABELS], ids[keep][:MAX_LABELS]
    n = len(ids)
    out[:n, 0] = ids
    out[:n, 1] = (boxes[:, 0] + boxes[:, 2]) / 2
    out[:n, 2] = (boxes[:, 1] + boxes[:, 3]) / 2
    out[:n, 3] = boxes[:, 2] - boxes[:, 0]
    out[:n, 4] = boxes[:, 3] - boxes[:, 1]
    return out


class SceneStream(IterableDataset):
    """Endless (image, labels) pairs; each worker draws from its own seed stream."""

    def __init__(self, seed: int, reuse: int = 2, clip_share: float = 0.3, buffer: int = 64) -> None:
        self.seed, self.reuse, self.clip_share, self.buffer = seed, reuse, clip_share, buffer

    def _scenes(self, rng: np.random.Generator):
        clip, left = None, 0
        while True:
            if rng.random() < self.clip_share:
                if left == 0:
                    w, h = random_size(rng)
                    clip = SceneVideo(int(rng.integers(CLIP_SEED_MIN, 1 << 31)), w, h, n_frames=900, fps=30.0,
                                      concurrent=float(rng.uniform(3, 10)))
                    left = 40
                left -= 1
                yield clip.frame(int(rng.integers(0, len(clip))))
            else:
                w, h = random_size(rng)
                yield generate_scene(rng, w, h)

    def _variants(self, rng: np.random.Generator, scene):
        """The scene plus flipped copies: generating is the slow part, flips are free."""
        img, boxes, ids = scene
        if rng.random() < 0.25:
            img = jpeg(img, rng)
        img, boxes = fit(img, boxes)
        for k in range(self.reuse):
            im, b = (img, boxes) if k == 0 else flip(img, boxes, horizontal=bool(rng.random() < 0.5))
            yield pad(im), to_labels(b, ids)

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info else 0
        cv2.setNumThreads(1)
        torch.set_num_threads(1)
        rng = np.random.default_rng((TRAIN_DOMAIN, self.seed, worker))
        pool: list = []
        for scene in self._scenes(rng):
            pool.extend(self._variants(rng, scene))
            # A shuffle buffer keeps a scene's flipped copies out of the same batch.
            while len(pool) > self.buffer:
                yield pool.pop(int(rng.integers(0, len(pool))))


# --- SimOTA + losses ---------------------------------------------------------------


def box_iou_cxcywh(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of broadcastable [..., 4] centre boxes."""
    a1, a2 = a[..., :2] - a[..., 2:] / 2, a[..., :2] + a[..., 2:] / 2
    b1, b2 = b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2
    wh = (torch.minimum(a2, b2) - torch.maximum(a1, b1)).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return inter / union.clamp(min=1e-9)


@torch.no_grad()
def simota(
    boxes: torch.Tensor, obj: torch.Tensor, cls: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor,
    centres: torch.Tensor, stride: torch.Tensor, radius: float = 1.5, max_k: int = 10,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """YOLOX's SimOTA for a whole batch at once.

    boxes [B, A, 4] decoded predictions, obj [B, A] and cls [B, A, C] logits,
    gt [B, G, 5] (class, cx, cy, w, h), valid [B, G]; centres [A, 2], stride [A].
    Returns fg [B, A] bool, matched gt index [B, A], IoU with that gt [B, A].
    """
    B, A = obj.shape
    G = gt.shape[1]
    gbox, gcls = gt[..., 1:5], gt[..., 0].long()
    # Candidates: anchor centres within radius strides of a gt centre (YOLOX >= 0.3).
    d = (centres[None, None] - gbox[:, :, None, :2]).abs()  # [B, G, A, 2]
    near = (d < radius * stride[None, None, :, None]).all(-1) & valid[..., None]
    ious = box_iou_cxcywh(gbox[:, :, None], boxes[:, None])  # [B, G, A]
    # Class cost: BCE of sqrt(cls * obj) against the gt's one-hot class.
    p = (cls.float().sigmoid() * obj.float().sigmoid()[..., None]).sqrt().clamp(1e-6, 1 - 1e-6)
    neg = -torch.log1p(-p)  # cost of each class being 0
    p_gt = torch.gather(p.transpose(1, 2), 1, gcls[..., None].expand(B, G, A))
    cls_cost = neg.sum(-1)[:, None] + (-torch.log(p_gt) + torch.log1p(-p_gt))
    cost = cls_cost + 3.0 * -torch.log(ious + 1e-8) + 1e6 * (~near)
    # Dynamic k: each gt takes about as many anchors as its best IoUs sum to.
    k = min(max_k, A)
    dyn_k = (ious * near).topk(k, dim=-1).values.sum(-1).int().clamp(min=1)  # [B, G]
    cand_cost, cand_idx = cost.topk(k, dim=-1, largest=False)
    take = (torch.arange(k, device=cost.device) < dyn_k[..., None]) & (cand_cost < 1e5)
    match = torch.zeros_like(cost, dtype=torch.bool)
    match.scatter_(-1, cand_idx, take)
    # An anchor claimed by several gts goes to the cheapest.
    multi = match.sum(1) > 1  # [B, A]
    cheapest = F.one_hot(cost.argmin(1), G).permute(0, 2, 1).bool()  # [B, G, A]
    match = torch.where(multi[:, None], cheapest & near, match)
    fg = match.any(1)
    gt_idx = match.float().argmax(1)
    pred_iou = torch.gather(ious, 1, gt_idx[:, None]).squeeze(1)
    return fg, gt_idx, pred_iou


def yolox_loss(
    raw: torch.Tensor, gt: torch.Tensor, grid: torch.Tensor, stride: torch.Tensor, use_l1: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """YOLOX's loss: 5 x IoU loss + objectness BCE + IoU-aware class BCE (+ L1 late).

    Computed densely over all anchors with the foreground as a mask: boolean indexing
    would stop the CPU for the GPU on every step.
    """
    raw = raw.float()
    B, A, D = raw.shape
    C = D - 5
    boxes = decode(raw[..., :4], grid, stride)
    obj, cls = raw[..., 4], raw[..., 5:]
    valid = gt[..., 3] > 0
    centres = (grid + 0.5) * stride
    fg, gt_idx, pred_iou = simota(boxes.detach(), obj.detach(), cls.detach(), gt, valid, centres, stride[:, 0])
    mask = fg.float()
    num_fg = mask.sum().clamp(min=1)
    matched = torch.gather(gt, 1, gt_idx[..., None].expand(B, A, 5))  # [B, A, 5]
    iou = box_iou_cxcywh(boxes, matched[..., 1:5])
    loss_iou = ((1 - iou**2) * mask).sum() / num_fg
    loss_obj = F.binary_cross_entropy_with_logits(obj, mask, reduction="sum") / num_fg
    cls_t = F.one_hot(matched[..., 0].long(), C).float() * pred_iou[..., None]
    loss_cls = (F.binary_cross_entropy_with_logits(cls, cls_t, reduction="none") * mask[..., None]).sum() / num_fg
    loss = 5.0 * loss_iou + loss_obj + loss_cls
    stats = {"iou": loss_iou.detach(), "obj": loss_obj.detach(), "cls": loss_cls.detach(),
             "fg": num_fg / valid.sum().clamp(min=1)}
    if use_l1:
        target = torch.cat((matched[..., 1:3] / stride - grid, torch.log(matched[..., 3:5] / stride + 1e-8)), -1)
        loss_l1 = ((raw[..., :4] - target).abs() * mask[..., None]).sum() / num_fg
        loss = loss + loss_l1
        stats["l1"] = loss_l1.detach()
    return loss, stats


# --- optimisation ------------------------------------------------------------------


class EMA:
    """Exponential moving average of the weights, ramped up as YOLOX's ModelEMA is."""

    def __init__(self, model: YOLOX, decay: float, tau: float) -> None:
        self.model = yolox_nano(model.head.num_classes).to(next(model.parameters()).device)
        self.model.load_state_dict(model.state_dict())
        self.model.eval().requires_grad_(False)
        self.decay, self.tau, self.updates = decay, tau, 0

    @torch.no_grad()
    def update(self, model: YOLOX) -> None:
        self.updates += 1
        d = self.decay * (1 - math.exp(-self.updates / self.tau))
        pairs = list(zip(self.model.state_dict().values(), model.state_dict().values()))
        ema = [e for e, m in pairs if e.dtype.is_floating_point]
        live = [m.detach() for e, m in pairs if e.dtype.is_floating_point]
        torch._foreach_mul_(ema, d)
        torch._foreach_add_(ema, live, alpha=1 - d)
        for e, m in pairs:
            if not e.dtype.is_floating_point:
                e.copy_(m)


def make_optimizer(model: YOLOX, lr: float) -> torch.optim.SGD:
    """SGD with weight decay on conv weights only, as YOLOX does."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    return torch.optim.SGD([{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": 5e-4}],
                           lr=lr, momentum=0.9, nesterov=True)


def lr_at(step: int, total: int, base: float, warmup: int, tail: int) -> float:
    """Quadratic warmup, cosine down to 5%, then flat for the last `tail` steps."""
    floor = 0.05 * base
    if step < warmup:
        return base * (step / warmup) ** 2
    if step >= total - tail:
        return floor
    t = (step - warmup) / max(1, total - warmup - tail)
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * t))


# --- main loop ---------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--iters", type=int, default=0, help="fixed number of steps")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="train for about this long: the step count is fixed from the measured speed")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument("--lr", type=float, default=0.01 / 64, help="per image, as YOLOX's basic_lr_per_img")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reuse", type=int, default=2, help="variants (flips) trained from each generated scene")
    p.add_argument("--clip-share", type=float, default=0.3,
                   help="share of training images that are frames of moving clips (the rest are stills)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--resume", type=Path, help="continue from a last.pt (weights, EMA, optimizer)")
    p.add_argument("--fresh-ema", action="store_true",
                   help="with --resume: restart the EMA's warm-up from the resumed weights, so the exported "
                        "average holds nothing from before this run")
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="hard stop: past this many seconds since start, end the loop early and still save and "
                        "export (a guard for a wall-clock limit; the schedule is not shortened)")
    p.add_argument("--format", choices=[*sorted(FORMATS), "auto"], default="auto",
                   help="GPU precision / memory layout; auto times each first (about 90 s of cuDNN tuning)")
    p.add_argument("--log-every", type=int, default=50)
    return p.parse_args(argv)


class Log:
    def __init__(self, path: Path) -> None:
        self.f = path.open("a")

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def save(path: Path, model: YOLOX, ema: EMA, opt: torch.optim.Optimizer, step: int, total: int) -> None:
    torch.save({"model": model.state_dict(), "ema": ema.model.state_dict(), "ema_updates": ema.updates,
                "opt": opt.state_dict(), "step": step, "total": total, "classes": list(CLASS_NAMES)}, path)


def export(out: Path, ema: EMA, log: Log) -> None:
    model = yolox_nano(len(CLASS_NAMES))
    model.load_state_dict({k: v.float().cpu() for k, v in ema.model.state_dict().items()})
    export_onnx(model, str(out / "demo.onnx"))
    (out / "demo.names").write_text("\n".join(CLASS_NAMES) + "\n")
    log(f"exported {out / 'demo.onnx'} ({(out / 'demo.onnx').stat().st_size / 1e6:.2f} MB)")


FORMATS = {
    "bf16-nhwc": (True, torch.channels_last), "bf16-nchw": (True, torch.contiguous_format),
    "fp32-nhwc": (False, torch.channels_last), "fp32-nchw": (False, torch.contiguous_format),
}


def time_format(model: YOLOX, x: torch.Tensor, amp: bool, fmt: torch.memory_format) -> float:
    """Seconds per forward + backward, after a few untimed steps for cuDNN to tune."""
    model.to(memory_format=fmt)
    xf = x.contiguous(memory_format=fmt)
    for i in range(11):
        if i == 3:
            torch.cuda.synchronize()
            t = time.time()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            out = model(xf)
        out.float().square().mean().backward()
    torch.cuda.synchronize()
    return (time.time() - t) / 8


def pick_format(model: YOLOX, device: torch.device, batch: int, log: Log) -> tuple[bool, torch.memory_format]:
    """Time a few steps in each precision / memory layout and keep the fastest: cuDNN's
    depthwise kernels differ a lot between them, and which wins varies by version."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}  # the timing steps move BN stats
    x = torch.rand(batch, 3, INPUT, INPUT, device=device) * 255
    times = {name: time_format(model, x, amp, fmt) for name, (amp, fmt) in FORMATS.items()}
    model.load_state_dict(saved)
    model.zero_grad(set_to_none=True)
    best = min(times, key=times.__getitem__)
    log("step time fwd+bwd: " + ", ".join(f"{n} {t * 1000:.0f} ms" for n, t in times.items()) + f"; using {best}")
    amp, fmt = FORMATS[best]
    model.to(memory_format=fmt)
    return amp, fmt


def schedule(step: int, start: int, total: int, base_lr: float) -> tuple[float, bool]:
    """LR and whether the L1 phase is on. Until the step count is known (--minutes) a
    plain quadratic warmup runs."""
    if not total:
        return base_lr * min(1.0, (step - start) / 300) ** 2, False
    span = total - start
    warmup, tail = max(1, int(0.05 * span)), int(0.15 * span)
    return lr_at(step - start, span, base_lr, warmup, tail), step >= total - tail


def train_step(model: YOLOX, opt: torch.optim.Optimizer, ema: EMA, images: torch.Tensor, labels: torch.Tensor,
               grid: torch.Tensor, stride: torch.Tensor, use_l1: bool, amp: bool,
               fmt: torch.memory_format) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    device = grid.device
    # Trim label padding on the CPU, before the copy, so the GPU need not be waited for.
    labels = labels[:, : max(1, int((labels[..., 3] > 0).sum(1).max()))]
    x = images.to(device, non_blocking=True).permute(0, 3, 1, 2).float().contiguous(memory_format=fmt)
    y = labels.to(device, non_blocking=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        raw = model(x)
    loss, stats = yolox_loss(raw, y, grid, stride, use_l1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    ema.update(model)
    return loss, stats


def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = parse_args(argv)
    if not args.iters and not args.minutes:
        raise SystemExit("give --iters or --minutes")
    args.out.mkdir(parents=True, exist_ok=True)
    log = Log(args.out / "train.log")
    log(f"args: {vars(args)}")
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    cuda = device.type == "cuda"

    model = yolox_nano(len(CLASS_NAMES)).to(device)
    base_lr = args.lr * args.batch
    opt = make_optimizer(model, base_lr)
    start, total = 0, args.iters
    ema = EMA(model, decay=0.9995, tau=max(200.0, (args.iters or 6000) / 15))
    if args.resume:
        ck = torch.load(args.resume, map_location=device)
        model.load_state_dict(ck["model"])
        ema.model.load_state_dict(ck["model"] if args.fresh_ema else ck["ema"])
        ema.updates = 0 if args.fresh_ema else ck["ema_updates"]
        opt.load_state_dict(ck["opt"])
        start = ck["step"]
        total = start + args.iters if args.iters else 0
        log(f"resumed from {args.resume} at step {start}")

    loader = DataLoader(SceneStream(args.seed + start, reuse=args.reuse, clip_share=args.clip_share),
                        batch_size=args.batch,
                        num_workers=args.workers, pin_memory=cuda, persistent_workers=args.workers > 0,
                        prefetch_factor=2 if args.workers > 0 else None)
    batches = iter(loader)  # workers start filling while the formats are timed
    amp, fmt = False, torch.contiguous_format
    if cuda:
        torch.backends.cudnn.benchmark = True
        log(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, {os.cpu_count()} CPUs")
        if args.format == "auto":
            amp, fmt = pick_format(model, device, args.batch, log)
        else:
            amp, fmt = FORMATS[args.format]
            model.to(memory_format=fmt)
    grid, stride = anchor_grid((INPUT, INPUT), device)
    t0 = time.time()
    waited, timing_from, step = 0.0, None, start
    while True:
        if not total and step == start + 30:
            timing_from = (time.time(), step)
        if not total and timing_from and step == timing_from[1] + 60:
            # Fix the schedule once the pace is known, so LR and L1 phases fit the budget.
            rate = 60 / (time.time() - timing_from[0])
            total = step + int(rate * max(0.0, args.minutes * 60 - (time.time() - t0)))
            ema.tau = max(200.0, (total - start) / 15)
            log(f"pace {rate:.2f} steps/s ({rate * args.batch:.0f} img/s): total steps {total} "
                f"(reproduce with --iters {total - start})")
        lr, use_l1 = schedule(step, start, total, base_lr)
        for g in opt.param_groups:
            g["lr"] = lr
        tw = time.time()
        images, labels = next(batches)
        waited += time.time() - tw
        loss, stats = train_step(model, opt, ema, images, labels, grid, stride, use_l1, amp, fmt)
        step += 1
        if step % args.log_every == 0 or step == total:
            elapsed = time.time() - t0
            log(f"step {step}/{total or '?'} loss {loss.item():.3f} " +
                " ".join(f"{k} {v.item():.3f}" for k, v in stats.items()) +
                f" lr {lr:.4f} {(step - start) * args.batch / elapsed:.0f} img/s, "
                f"waiting for data {100 * waited / elapsed:.0f}% of the time")
        if total and step >= total:
            break
        if args.max_seconds and time.time() - started > args.max_seconds:
            log(f"stopping early at step {step}/{total or '?'}: past --max-seconds {args.max_seconds:.0f}")
            break
    log(f"trained {step - start} steps ({(step - start) * args.batch} images) in {time.time() - t0:.0f} s")
    save(args.out / "last.pt", model, ema, opt, step, total)
    export(args.out, ema, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
