"""Combine wakeguard models into one streaming ONNX model that averages them.

    python3 models/train/ensemble.py OUT.onnx A.onnx B.onnx [...] [--mode geometric|arithmetic]

Every member must be a wakeguard model (metadata key "wakeguard") with the
same labels, front end and chunk size. The result is again such a model:

    inputs : features [1, chunk, n_mfcc], then A's state tensors, then B's, ...
    outputs: probs [1, chunk, n_labels], then A's new states, then B's, ...

so the runtime loads it like any other model (one tract plan, static
shapes). `geometric` (default) averages the members' log-posteriors and
renormalises, i.e. softmax of the mean log-probability: a label scores high
only where every member agrees. `arithmetic` averages the posteriors.

The thresholds of the first member are copied; choose new ones on the
validation streams (choose_thresholds.py) and set them with
set_thresholds.py. Pure ONNX surgery: no torch needed.
"""
import argparse
import json

import numpy as np
import onnx
from onnx import helper, numpy_helper

from exported import metadata, read_metadata, run_streaming


def renamed(proto, name):
    """A copy of an ONNX proto (node, tensor, value info) under another name."""
    c = type(proto)()
    c.CopyFrom(proto)
    c.name = name
    return c


def prefixed_graph(model, prefix):
    """Nodes, initializers, state inputs/outputs and probs name of one member, renamed."""
    g = model.graph

    def ren(name):
        if name == "" or name == "features":
            return name
        return prefix + name

    nodes = []
    for n in g.node:
        m = renamed(n, ren(n.name))
        m.input[:] = [ren(i) for i in n.input]
        m.output[:] = [ren(o) for o in n.output]
        for a in m.attribute:
            if a.g is not None and len(a.g.node) > 0:
                raise SystemExit("subgraphs are not supported")
        nodes.append(m)
    inits = [renamed(t, ren(t.name)) for t in g.initializer]
    init_names = {t.name for t in g.initializer}
    state_in = [renamed(vi, ren(vi.name)) for vi in g.input
                if vi.name not in init_names and vi.name != "features"]
    outs = [renamed(vo, ren(vo.name)) for vo in g.output]
    return nodes, inits, state_in, outs


def check(out_path, member_paths, mode, chunks=30, seed=0):
    """The ensemble must equal the members run separately, chunk by chunk
    (states carried), combined as `mode`; raises if not (tolerance 1e-5)."""
    meta = read_metadata(out_path)
    frames = chunks * meta["chunk_frames"]
    seq = np.random.default_rng(seed).standard_normal((frames, meta["features"]["n_mfcc"]))
    seq = (seq * 5).astype(np.float32)
    got = run_streaming(out_path, seq)
    probs = [run_streaming(p, seq).astype(np.float64) for p in member_paths]
    if mode == "arithmetic":
        want = np.mean(probs, axis=0)
    else:
        logmean = np.mean([np.log(np.maximum(p, 1e-12)) for p in probs], axis=0)
        want = np.exp(logmean - logmean.max(-1, keepdims=True))
        want /= want.sum(-1, keepdims=True)
    worst = float(np.abs(got - want).max())
    if worst > 1e-5:
        raise SystemExit(f"ensemble differs from its members by {worst}")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("members", nargs="+")
    ap.add_argument("--mode", choices=["geometric", "arithmetic"], default="geometric")
    args = ap.parse_args()
    if len(args.members) < 2:
        raise SystemExit("need at least two members")

    models = [onnx.load(p) for p in args.members]
    metas = [metadata(m, p) for m, p in zip(models, args.members)]
    for key in ("labels", "features", "chunk_frames"):
        if any(m[key] != metas[0][key] for m in metas):
            raise SystemExit(f"members disagree on {key}")
    feat_vi = next(v for v in models[0].graph.input if v.name == "features")

    nodes, inits, inputs, state_outs, probs = [], [], [feat_vi], [], []
    for i, m in enumerate(models):
        n, t, si, outs = prefixed_graph(m, f"m{i}_")
        if not outs[0].name.endswith("probs"):
            raise SystemExit("first output of a member must be its probs")
        nodes += n
        inits += t
        inputs += si
        probs.append(outs[0].name)
        state_outs += outs[1:]

    k = len(models)
    inv_k = numpy_helper.from_array(np.array(1.0 / k, dtype=np.float32), "ens_inv_k")
    inits.append(inv_k)
    if args.mode == "geometric":
        inits.append(numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "ens_tiny"))
        logs = []
        for i, p in enumerate(probs):
            nodes.append(helper.make_node("Max", [p, "ens_tiny"], [f"ens_clip_{i}"]))
            nodes.append(helper.make_node("Log", [f"ens_clip_{i}"], [f"ens_log_{i}"]))
            logs.append(f"ens_log_{i}")
        nodes.append(helper.make_node("Sum", logs, ["ens_logsum"]))
        nodes.append(helper.make_node("Mul", ["ens_logsum", "ens_inv_k"], ["ens_logmean"]))
        nodes.append(helper.make_node("Softmax", ["ens_logmean"], ["probs"], axis=-1))
    else:
        nodes.append(helper.make_node("Sum", probs, ["ens_psum"]))
        nodes.append(helper.make_node("Mul", ["ens_psum", "ens_inv_k"], ["probs"]))
    probs_vi = renamed(models[0].graph.output[0], "probs")

    graph = helper.make_graph(nodes, "wakeguard_ensemble", inputs, [probs_vi, *state_outs], inits)
    opset = max(o.version for o in models[0].opset_import if o.domain in ("", "ai.onnx"))
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", max(opset, 13))],
                            producer_name="wakeguard ensemble.py")
    out.ir_version = models[0].ir_version
    onnx.checker.check_model(out)

    # Shared keys from the first member; what describes one member's training
    # (seed, epochs, examples, ...) goes under "ensemble.members".
    shared = ("format", "labels", "features", "chunk_frames", "thresholds", "durations", "trained")
    meta = {k2: v for k2, v in metas[0].items() if k2 in shared}
    meta["state_shapes"] = [s for m in metas for s in m["state_shapes"]]
    meta["parameters"] = int(sum(m.get("parameters", 0) for m in metas))
    meta["context_frames"] = max(m["context_frames"] for m in metas)
    meta["ensemble"] = {"mode": args.mode, "members": [
        {k2: v for k2, v in m.items() if k2 not in shared and k2 != "state_shapes"} for m in metas]}
    entry = out.metadata_props.add()
    entry.key = "wakeguard"
    entry.value = json.dumps(meta, sort_keys=True)
    onnx.save(out, args.out)
    check(args.out, args.members, args.mode)
    print(json.dumps({"members": len(models), "mode": args.mode, "parameters": meta["parameters"],
                      "states": len(meta["state_shapes"])}))


if __name__ == "__main__":
    main()
