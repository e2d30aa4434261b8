"""The answer scorer's features, exactly as `src/answer.rs` computes them.

The second-stage answer scorer (issue 13) runs only in the answer window
after a read-back. From one answer recording (16 kHz mono int16):

1. Speech bounds: 10 ms frames (160 samples); a frame is active when its RMS
   is at least max(ACTIVE_REL * loudest frame RMS, ACTIVE_FLOOR). No active
   frame: no speech, the answer is unclear (the scorer returns None here).
2. The cut: from PAD samples before the first active frame to PAD after the
   end of the last one, clipped to the recording, at most MAX_CUT samples
   (the first MAX_CUT from the cut's start).
3. A WINDOW-sample buffer of zeros holds the cut from sample PAD on (digital
   silence on both sides: the embedding reads a word far better with
   silence around it, measured in the k-fold), as int16-scale floats;
   Google's speech_embedding mel front end (melspectrogram.onnx) gives
   MEL_FRAMES x 32 frames, read as x / 10 + 2 (openWakeWord's convention).
4. Windows of 76 mel frames every 8; the first
   n = clamp(floor((span_frames - 76) / 8) + 1, 1, N_WIN) are embedded
   (embedding_model.onnx, 96 values each), where
   span_frames = (len(cut) + 2 * PAD) // 160: the windows that lie within
   the cut and its silence.
5. Features: the mean and the max over those n embeddings (192 values).
6. The head (answer_head.onnx): a linear layer and softmax over
   (yes, no, cancel, other).
"""
import os

import numpy as np

SR = 16000
FRAME = 160
WINDOW = 40000
PAD = 4800
MAX_CUT = WINDOW - 2 * PAD
ACTIVE_REL = 0.1
ACTIVE_FLOOR = 20.0
MEL_WIN = 76
MEL_STRIDE = 8
MEL_FRAMES = 247
N_WIN = (MEL_FRAMES - 76) // 8 + 1  # 22
LABELS = ["yes", "no", "cancel", "other"]

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "speech_embedding")


def cut(pcm):
    """The scored cut of an answer recording (float64, int16 scale), or None."""
    x = np.asarray(pcm, dtype=np.float64)
    f = len(x) // FRAME
    if f == 0:
        return None
    rms = np.sqrt((x[: f * FRAME].reshape(f, FRAME) ** 2).mean(axis=1))
    level = max(ACTIVE_REL * rms.max(), ACTIVE_FLOOR)
    on = np.flatnonzero(rms >= level)
    if len(on) == 0:
        return None
    a = max(0, on[0] * FRAME - PAD)
    b = min(len(x), (on[-1] + 1) * FRAME + PAD)
    return x[a:min(b, a + MAX_CUT)]


def n_windows(cut_len):
    """Windows within the cut and its silence: clamp((span - 76) // 8 + 1, 1, N_WIN)."""
    span = (min(cut_len, MAX_CUT) + 2 * PAD) // FRAME
    return int(np.clip((span - MEL_WIN) // MEL_STRIDE + 1, 1, N_WIN))


class Embedder:
    def __init__(self, models=MODELS):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        p = ["CPUExecutionProvider"]
        self.mel = ort.InferenceSession(os.path.join(models, "melspectrogram.onnx"), so, providers=p)
        self.emb = ort.InferenceSession(os.path.join(models, "embedding_model.onnx"), so, providers=p)
        self.mel_in = self.mel.get_inputs()[0].name
        self.emb_in = self.emb.get_inputs()[0].name

    def features(self, pcm):
        """192 features of an answer recording, or None when it holds no speech."""
        c = cut(pcm)
        if c is None:
            return None
        buf = np.zeros((1, WINDOW), dtype=np.float32)
        buf[0, PAD: PAD + len(c)] = c
        spec = np.squeeze(self.mel.run(None, {self.mel_in: buf})[0]) / 10 + 2
        assert spec.shape == (MEL_FRAMES, 32), spec.shape
        n = n_windows(len(c))
        wins = np.stack([spec[k * MEL_STRIDE: k * MEL_STRIDE + MEL_WIN] for k in range(n)])
        e = self.emb.run(None, {self.emb_in: wins[:, :, :, None].astype(np.float32)})[0]
        e = e.reshape(n, 96)
        return np.concatenate([e.mean(axis=0), e.max(axis=0)]).astype(np.float32)


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def export_head(path, layers, meta):
    """answer_head.onnx: features [1, 192] -> (MatMul, Add, Relu)* -> MatMul, Add
    -> Softmax -> probs [1, 4]. `layers`: [(w, b), ...]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes, inits, x = [], [], "features"
    for i, (w, b) in enumerate(layers):
        w = np.asarray(w, np.float32)
        b = np.asarray(b, np.float32)
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [helper.make_node("MatMul", [x, f"W{i}"], [f"z{i}"]),
                  helper.make_node("Add", [f"z{i}", f"b{i}"], [f"a{i}"])]
        x = f"a{i}"
        if i + 1 < len(layers):
            nodes.append(helper.make_node("Relu", [x], [f"h{i}"]))
            x = f"h{i}"
    nodes.append(helper.make_node("Softmax", [x], ["probs"], axis=1))
    n_in = np.asarray(layers[0][0]).shape[0]
    g = helper.make_graph(
        nodes, "answer_head",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, n_in])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 4])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="wakeguard answer_head.py")
    m.ir_version = 8
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key = k
        p.value = str(v)
    onnx.checker.check_model(m)
    onnx.save(m, path)
