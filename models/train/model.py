"""The wakeguard keyword model: a causal dilated TCN that streams.

Every convolution is "valid" (no padding) and causal, so the network maps
T input frames to T - context output frames, where `context` is the
receptive field minus one. Streaming is exact: for each layer the last
`ctx_i` frames of its input are kept as state and prepended to the next
chunk. The exported ONNX graph does exactly that with explicit state inputs
and outputs, so tract runs it with static shapes and no pulse machinery:

    inputs : features [1, chunk, n_mfcc] (time-major, as the ring buffer holds them),
             state_0 [1, n_mfcc, ctx_0], state_i [1, C, ctx_i] ...
    outputs: probs [1, chunk, n_labels] (softmax over labels), state_0_out ..., state_i_out ...

The runtime feeds `chunk` new frames per call and gets one posterior vector
per frame (10 ms), delayed by nothing but the chunking itself.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = [
    "background",
    "alexa",
    "computer",
    "jarvis",
    "smart_mirror",
    "snowboy",
    "view_glass",
    "send_message",
    "yes",
    "no",
    "cancel",
]


class CausalConv(nn.Module):
    def __init__(self, cin, cout, kernel, dilation):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(cout)
        self.ctx = (kernel - 1) * dilation

    def forward(self, x):  # valid conv: T -> T - ctx
        return self.bn(self.conv(x))


class StreamingTCN(nn.Module):
    def __init__(self, n_in=20, channels=48, dilations=(1, 2, 4, 8, 16, 32), kernel=3,
                 n_labels=len(LABELS)):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        self.inp = CausalConv(n_in, channels, kernel, 1)
        self.blocks = nn.ModuleList([CausalConv(channels, channels, kernel, d) for d in dilations])
        self.head = nn.Conv1d(channels, n_labels, 1)
        self.dropout = nn.Dropout(0.1)

    @property
    def contexts(self):
        return [self.inp.ctx] + [b.ctx for b in self.blocks]

    @property
    def context(self):
        return sum(self.contexts)

    def normalise(self, x):
        return (x - self.mean[None, :, None]) / self.std[None, :, None]

    def forward(self, x):
        """x: [B, n_in, T] raw features -> logits [B, n_labels, T - context]."""
        h = F.relu(self.inp(self.normalise(x)))
        for b in self.blocks:
            y = F.relu(b(h))
            h = self.dropout(y) + h[:, :, b.ctx:]
        return self.head(h)


class StreamingWrapper(nn.Module):
    """The exported graph: one chunk in, posteriors and new states out."""

    def __init__(self, tcn: StreamingTCN):
        super().__init__()
        self.tcn = tcn

    def forward(self, x, *states):
        t = self.tcn
        new_states = []
        x = x.transpose(1, 2)
        inp = torch.cat([states[0], t.normalise(x)], dim=2)
        new_states.append(inp[:, :, -t.inp.ctx:])
        h = F.relu(t.inp(inp))
        for b, s in zip(t.blocks, states[1:]):
            inp = torch.cat([s, h], dim=2)
            new_states.append(inp[:, :, -b.ctx:])
            h = F.relu(b(inp)) + h
        probs = torch.softmax(t.head(h), dim=1).transpose(1, 2)
        return (probs, *new_states)


def fold_batchnorm(tcn: StreamingTCN):
    """Fold every BatchNorm into its convolution (eval mode only)."""
    for m in [tcn.inp, *tcn.blocks]:
        if isinstance(m.bn, nn.Identity):
            continue  # folded already
        bn, conv = m.bn, m.conv
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        folded = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size[0],
                           dilation=conv.dilation[0], bias=True)
        folded.weight.data = conv.weight.data * scale[:, None, None]
        folded.bias.data = bn.bias.data - bn.running_mean * scale
        m.conv = folded
        m.bn = nn.Identity()
    return tcn


def initial_states(tcn: StreamingTCN, n_in: int):
    """Zero states equal to having seen silence... of zero-valued normalised features."""
    chans = [n_in] + [tcn.head.in_channels] * len(tcn.blocks)
    return [torch.zeros(1, c, k) for c, k in zip(chans, tcn.contexts)]


def load_onnx_tcn(path):
    """A wakeguard ONNX model (batch-norm folded) as a StreamingTCN for batched
    full-sequence inference: weights from the graph's initializers."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(path)
    w = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    channels = w["tcn.inp.conv.weight"].shape[0]
    tcn = fold_batchnorm(StreamingTCN(channels=channels).eval())
    sd = {k[len("tcn."):]: v for k, v in w.items() if k.startswith("tcn.")}
    # the input normalisation is exported as constants of the Sub and Div nodes
    consts = {n.op_type: n.input[1] for n in m.graph.node if n.op_type in ("Sub", "Div")}
    sd["mean"] = w[consts["Sub"]].reshape(-1)
    sd["std"] = w[consts["Div"]].reshape(-1)
    # the exporter drops a folded bias that is all zeros (an untrained model)
    for k, v in tcn.state_dict().items():
        if k.endswith(".conv.bias") and k not in sd:
            sd[k] = torch.zeros_like(v)
    tcn.load_state_dict(sd)
    return tcn.eval()
