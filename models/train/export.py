"""Export a trained StreamingTCN to ONNX with its metadata embedded.

    python3 models/train/export.py CHECKPOINT.pt OUT.onnx [--chunk 10]
    python3 models/train/export.py --from-onnx MODEL.onnx OUT.onnx --chunk 20
    python3 models/train/export.py --random OUT.onnx      # untrained, for speed tests

--from-onnx re-exports an exported model with another chunk size (frames
per call: latency against speed). The weights, thresholds and metadata are
kept; the script checks with onnxruntime that both graphs give the same
posteriors, frame by frame, on a random feature sequence.

The metadata (ONNX metadata_props key "wakeguard", a JSON object) carries
the label names, the feature preset and its parameters, hop and chunk
sizes, the receptive field, the state shapes and per-label thresholds. The
Rust loader refuses a model whose metadata disagrees with its front end.
"""
import argparse
import json

import numpy as np
import onnx
import torch

from exported import read_metadata, run_streaming
from model import (LABELS, StreamingTCN, StreamingWrapper, fold_batchnorm, initial_states,
                   load_onnx_tcn)

# Must equal MfccConfig::wakeguard_v1() in src/features/config.rs.
FEATURES = {
    "preset": "wakeguard_v1",
    "sample_rate": 16000,
    "frame_length_ms": 25.0,
    "frame_shift_ms": 10.0,
    "n_mels": 40,
    "n_mfcc": 20,
    "low_freq": 20.0,
    "high_freq": 7600.0,
}


def export(tcn, out_path, chunk, thresholds, extra):
    tcn = fold_batchnorm(tcn.eval())
    wrapper = StreamingWrapper(tcn).eval()
    n_in = tcn.inp.conv.in_channels
    states = initial_states(tcn, n_in)
    x = torch.randn(1, chunk, n_in)
    state_names = [f"state_{i}" for i in range(len(states))]
    torch.onnx.export(
        wrapper,
        (x, *states),
        out_path,
        input_names=["features", *state_names],
        output_names=["probs", *[f"{n}_out" for n in state_names]],
        opset_version=13,
        dynamo=False,
    )
    # Streaming must equal the whole-sequence forward pass.
    with torch.no_grad():
        seq = torch.randn(1, n_in, tcn.context + 5 * chunk)
        full = torch.softmax(tcn(seq), dim=1)
        st = initial_states(tcn, n_in)
        outs = []
        for i in range(0, seq.shape[2], chunk):
            o, *st = wrapper(seq[:, :, i:i + chunk].transpose(1, 2), *st)
            outs.append(o.transpose(1, 2))
        streamed = torch.cat(outs, dim=2)[:, :, tcn.context:]
        err = (streamed - full).abs().max().item()
        assert err < 1e-4, f"streaming differs from full forward by {err}"

    meta = {
        "format": 1,
        "labels": LABELS,
        "features": FEATURES,
        "chunk_frames": chunk,
        "context_frames": tcn.context,
        "state_shapes": [list(s.shape) for s in states],
        "thresholds": thresholds,
        "parameters": int(sum(p.numel() for p in tcn.parameters())),
        **extra,
    }
    m = onnx.load(out_path)
    onnx.checker.check_model(m)
    del m.metadata_props[:]
    entry = m.metadata_props.add()
    entry.key = "wakeguard"
    entry.value = json.dumps(meta, sort_keys=True)
    onnx.save(m, out_path)
    return meta


# Metadata the export computes itself; everything else is carried over.
COMPUTED = {"format", "labels", "features", "chunk_frames", "context_frames", "state_shapes",
            "thresholds", "parameters"}


def rechunk(src, out, chunk):
    """Re-export src with `chunk` frames per call and check it against src."""
    meta = read_metadata(src)
    if "ensemble" in meta:
        raise SystemExit(f"{src} is an ensemble: re-export its members and join them "
                         "again with ensemble.py")
    tcn = load_onnx_tcn(src)
    extra = {k: v for k, v in meta.items() if k not in COMPUTED}
    new = export(tcn, out, chunk, meta["thresholds"], extra)
    n_in = tcn.inp.conv.in_channels
    frames = 12 * chunk * meta["chunk_frames"]
    seq = np.random.default_rng(0).standard_normal((frames, n_in)).astype(np.float32) * 3
    seq += tcn.mean.numpy()
    err = float(np.abs(run_streaming(src, seq) - run_streaming(out, seq)).max())
    assert err < 1e-5, f"{out} differs from {src} by {err}"
    print(f"{out}: same posteriors as {src} (max abs diff {err:.1e})")
    return new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?")
    ap.add_argument("out")
    ap.add_argument("--chunk", type=int, default=10)
    ap.add_argument("--random", action="store_true")
    ap.add_argument("--from-onnx", metavar="MODEL.onnx",
                    help="re-export this exported model (with --chunk) instead of a checkpoint")
    ap.add_argument("--channels", type=int, default=48)
    args = ap.parse_args()
    torch.manual_seed(0)
    if args.from_onnx:
        meta = rechunk(args.from_onnx, args.out, args.chunk)
        print(json.dumps({k: meta[k] for k in ("parameters", "context_frames", "chunk_frames")}))
        return
    if args.random:
        tcn = StreamingTCN(channels=args.channels)
        thresholds = {l: 0.5 for l in LABELS if l != "background"}
        extra = {"trained": False}
    else:
        ckpt = torch.load(args.checkpoint, map_location="cpu")
        tcn = StreamingTCN(**ckpt["arch"])
        tcn.load_state_dict(ckpt["state_dict"])
        thresholds = ckpt["thresholds"]
        extra = {"trained": True, **ckpt.get("info", {})}
    meta = export(tcn, args.out, args.chunk, thresholds, extra)
    print(json.dumps({k: meta[k] for k in ("parameters", "context_frames", "chunk_frames")}))


if __name__ == "__main__":
    main()
