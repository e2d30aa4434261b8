#!/usr/bin/env python3
"""Train the streaming TCN on featurized packs and export the ONNX model.

    python3 models/train/train.py --pack /work/data/pack --out models/wakeguard_v1.onnx --seed 1

Expects PACK/<split>/feats.f32 (from `cargo run --release --example featurize
-- --clip-samples 32000 PACK/<split>/audio.i16 PACK/<split>/feats.f32`) and
PACK/<split>/meta.csv (from make_dataset.py).

Frame targets: an example whose keyword ends at frame e is labelled with
the keyword on output frames e..e+12 (the network should fire right after
the word), "ignore" on the 80 frames before e (the word itself) and after
e+12 (the word is still in the receptive field: firing there is the same
event), and background everywhere else. Negative and background-only
examples are background on every frame.
"""
import argparse
import csv
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from export import export
from model import LABELS, StreamingTCN, load_onnx_tcn

FRAMES = 198
DIM = 20
FIRE = 12
IGNORE = -100


def load(pack, split):
    d = os.path.join(pack, split)
    meta = list(csv.DictReader(open(os.path.join(d, "meta.csv"))))
    feats = np.fromfile(os.path.join(d, "feats.f32"), dtype="<f4")
    feats = feats.reshape(len(meta), FRAMES, DIM)
    labels = np.array([LABELS.index(m["label"]) for m in meta], dtype=np.int64)
    ends = np.array([int(m["end_sample"]) for m in meta], dtype=np.int64)
    return feats, labels, ends


def frame_targets(labels, ends, context):
    n_out = FRAMES - context
    t = np.zeros((len(labels), n_out), dtype=np.int64)
    frames = np.arange(context, FRAMES)
    for i, (lab, end) in enumerate(zip(labels, ends)):
        if lab == 0 or end < 0:
            continue
        e = int(np.ceil((end - 399) / 160))
        row = t[i]
        row[(frames >= e - 80) & (frames < e)] = IGNORE
        row[(frames >= e) & (frames <= e + FIRE)] = lab
        row[frames > e + FIRE] = IGNORE
    return t


def clip_scores(model, feats, batch=512, smooth=3):
    """Per clip and label: max over output frames of the smoothed posterior."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            x = torch.from_numpy(feats[i:i + batch]).transpose(1, 2)
            p = torch.softmax(model(x), dim=1)
            p = F.avg_pool1d(p, smooth, stride=1)
            out.append(p.max(dim=2).values.numpy())
    return np.concatenate(out)


def choose_thresholds(scores, labels, quantile):
    """Per label: the `quantile` of the clip scores of clips that are not that label."""
    th, report = {}, {}
    for k, name in enumerate(LABELS):
        if k == 0:
            continue
        neg = scores[labels != k, k]
        pos = scores[labels == k, k]
        t = float(np.clip(np.quantile(neg, quantile), 0.3, 0.97))
        th[name] = round(t, 3)
        report[name] = {
            "threshold": th[name],
            "val_positives": int(len(pos)),
            "val_recall": float((pos >= t).mean()) if len(pos) else None,
            "val_false_accept": float((neg >= t).mean()),
        }
    return th, report


def teacher_probs(paths, feats, batch=512):
    """Mean posterior of the teacher models per clip and output frame,
    [N, n_labels, FRAMES - context], float16."""
    teachers = [load_onnx_tcn(p) for p in paths]
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            x = torch.from_numpy(feats[i:i + batch]).transpose(1, 2)
            p = sum(torch.softmax(t(x), dim=1) for t in teachers) / len(teachers)
            out.append(p.half())
    return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default="/work/data/pack")
    ap.add_argument("--out", default="models/wakeguard_v1.onnx")
    ap.add_argument("--checkpoint", default="/work/data/wakeguard_v1.pt")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--channels", type=int, default=48)
    ap.add_argument("--chunk", type=int, default=10,
                    help="frames per call of the exported streaming graph (latency vs speed)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quantile", type=float, default=0.998)
    ap.add_argument("--teachers", nargs="*", default=[],
                    help="ONNX models whose mean posterior the student also learns (distillation)")
    ap.add_argument("--distill", type=float, default=0.5,
                    help="weight of the teachers' soft targets (with --teachers); 1 - it for the labels")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)

    arch = dict(channels=args.channels)
    model = StreamingTCN(**arch)
    ctx = model.context
    xtr, ytr, etr = load(args.pack, "train")
    xva, yva, eva = load(args.pack, "val")
    ttr = frame_targets(ytr, etr, ctx)
    flat = xtr.reshape(-1, DIM)
    model.mean.copy_(torch.from_numpy(flat.mean(0)))
    model.std.copy_(torch.from_numpy(flat.std(0) + 1e-3))
    print(f"train {len(xtr)} val {len(xva)} params {sum(p.numel() for p in model.parameters())} context {ctx}", flush=True)

    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    steps = args.epochs * (len(xtr) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    xtr_t, ttr_t = torch.from_numpy(xtr), torch.from_numpy(ttr)
    soft = None
    if args.teachers:
        soft = teacher_probs(args.teachers, xtr)
        print(f"teachers {args.teachers}: soft targets {tuple(soft.shape)}", flush=True)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for b in range(len(xtr) // args.batch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x = xtr_t[idx].transpose(1, 2)
            # feature-level augmentation: random gain (C0 shift) and small noise
            x = x + torch.randn(x.shape[0], DIM, 1, generator=gen) * 0.05 * model.std[None, :, None]
            logits = model(x)
            loss = F.cross_entropy(logits, ttr_t[idx], ignore_index=IGNORE)
            if soft is not None:
                # cross-entropy against the teachers' mean posterior, every frame
                kd = -(soft[idx].float() * F.log_softmax(logits, dim=1)).sum(1).mean()
                loss = (1 - args.distill) * loss + args.distill * kd
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        scores = clip_scores(model, xva)
        pred = scores[:, 1:].argmax(1) + 1
        pos = yva > 0
        acc = float((pred[pos] == yva[pos]).mean())
        print(f"epoch {epoch + 1}/{args.epochs} loss {total / (len(xtr) // args.batch):.4f} "
              f"val keyword-argmax acc {acc:.3f} ({time.time() - t0:.0f}s)", flush=True)

    scores = clip_scores(model, xva)
    thresholds, report = choose_thresholds(scores, yva, args.quantile)
    print(json.dumps(report, indent=1))
    info = {
        "train_examples": int(len(xtr)),
        "epochs": args.epochs,
        "seed": args.seed,
        **({"teachers": [os.path.basename(t) for t in args.teachers], "distill": args.distill}
           if args.teachers else {}),
        "train_seconds": round(time.time() - t0),
        "durations": {"alexa": 0.7, "computer": 0.7, "jarvis": 0.7, "smart_mirror": 1.0,
                      "snowboy": 0.7, "view_glass": 0.9, "send_message": 1.0, "yes": 0.45,
                      "no": 0.4, "cancel": 0.55},
    }
    torch.save({"arch": arch, "state_dict": model.state_dict(), "thresholds": thresholds,
                "info": info, "val_report": report}, args.checkpoint)
    meta = export(model, args.out, args.chunk, thresholds, info)
    print(f"exported {args.out}: {meta['parameters']} parameters, {os.path.getsize(args.out)} bytes")


if __name__ == "__main__":
    main()
