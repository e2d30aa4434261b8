"""Exported wakeguard models (ONNX with metadata key "wakeguard"), with no
torch needed: their metadata, and their posteriors streamed chunk by chunk
with onnxruntime, as the Rust runtime feeds them."""
import json

import numpy as np
import onnx


def metadata(model, name="model"):
    """The "wakeguard" metadata of a loaded ONNX model, as a dict."""
    for p in model.metadata_props:
        if p.key == "wakeguard":
            return json.loads(p.value)
    raise SystemExit(f"{name}: not a wakeguard model (no 'wakeguard' metadata)")


def read_metadata(path):
    return metadata(onnx.load(path), path)


def run_streaming(path, seq):
    """Posteriors [T, labels] of an exported model over features seq [T, n_in],
    fed `chunk_frames` at a time from zero states, states carried."""
    import onnxruntime as ort

    meta = read_metadata(path)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    states = [np.zeros(s, np.float32) for s in meta["state_shapes"]]
    chunk = meta["chunk_frames"]
    outs = []
    for i in range(0, len(seq), chunk):
        probs, *states = sess.run(None, dict(zip(names, [seq[None, i:i + chunk], *states])))
        outs.append(probs[0])
    return np.concatenate(outs)
