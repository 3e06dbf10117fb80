"""Small torch modules behind layer types that have no direct ``torch.nn`` equivalent.

They are written to be traceable by ``torch.export`` and exportable to ONNX with a dynamic batch
dimension (no Python branching on tensor values, batch size read from the input).
"""

from __future__ import annotations

import torch
from torch import nn


class Reshape(nn.Module):
    """Reshape each sample to ``shape`` (batch dimension kept)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class Recurrent(nn.Module):
    """RNN / LSTM / GRU with batch-first input that returns the whole sequence or the last step.

    The last step is the final hidden state of the top layer; when bidirectional, the forward and
    backward final states are concatenated (each direction has then read the whole sequence).
    """

    def __init__(
        self,
        kind: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bidirectional: bool,
        dropout: float,
        return_sequences: bool,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        cls = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[kind]
        extra = {"nonlinearity": nonlinearity} if kind == "RNN" else {}
        self.rnn = cls(
            input_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
            **extra,
        )
        self.kind = kind
        self.bidirectional = bidirectional
        self.return_sequences = return_sequences

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(x)
        if self.return_sequences:
            return out
        h_n = state[0] if self.kind == "LSTM" else state
        if self.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=-1)
        return h_n[-1]


class Merge(nn.Module):
    """Element-wise sum, product or difference of equally shaped inputs, or concatenation along a
    sample dim."""

    def __init__(self, op: str, dim: int = 0) -> None:
        super().__init__()
        self.op = op
        self.dim = dim

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if self.op == "cat":
            return torch.cat(xs, dim=self.dim)
        if self.op == "sub":
            return xs[0] - xs[1]
        out = xs[0]
        for x in xs[1:]:
            out = out + x if self.op == "add" else out * x
        return out

    def extra_repr(self) -> str:
        return f"op={self.op!r}" + (f", dim={self.dim}" if self.op == "cat" else "")


class SelfOrganizingMap(nn.Module):
    """A rows × cols grid of prototype vectors; ``forward`` returns each unit's Euclidean distance.

    The prototypes are a parameter without gradient: they are trained by competitive learning
    (best-matching unit and a shrinking Gaussian neighbourhood), not by backpropagation.
    """

    def __init__(self, in_features: int, rows: int, cols: int) -> None:
        super().__init__()
        self.rows, self.cols = rows, cols
        weight = torch.rand(rows * cols, in_features)
        self.weight = nn.Parameter(weight, requires_grad=False)
        ys, xs = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        self.register_buffer(
            "grid", torch.stack([ys, xs], -1).reshape(-1, 2).float(), persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        diff = x.unsqueeze(1) - self.weight.unsqueeze(0)
        return diff.pow(2).sum(-1).clamp_min(0).sqrt()

    def extra_repr(self) -> str:
        return f"in_features={self.weight.shape[1]}, rows={self.rows}, cols={self.cols}"


class Softmax(nn.Module):
    """Softmax or log-softmax along a sample dimension (batch excluded)."""

    def __init__(self, dim: int, log: bool) -> None:
        super().__init__()
        self.dim = dim
        self.log = log

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.log:
            return torch.log_softmax(x, dim=self.dim)
        return torch.softmax(x, dim=self.dim)


class Permute(nn.Module):
    """Reorders the dimensions of each sample (``dims`` count the batch as 0, which stays first)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Reduce(nn.Module):
    """Mean or maximum over sample dimensions (``dims`` count the batch as 0)."""

    def __init__(self, op: str, dims: tuple[int, ...], keepdim: bool = False) -> None:
        super().__init__()
        self.op = op
        self.dims = tuple(dims)
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op == "max":
            return x.amax(dim=self.dims, keepdim=self.keepdim)
        return x.mean(dim=self.dims, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"op={self.op!r}, dims={self.dims}, keepdim={self.keepdim}"


class Scale(nn.Module):
    """Multiplies by a learned scale of ``shape`` (broadcast over each sample)."""

    def __init__(self, shape: tuple[int, ...], init: float = 1.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full(tuple(shape), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class SelfAttention(nn.Module):
    """Multi-head self-attention on (batch, tokens, features), optionally causal."""

    def __init__(
        self,
        features: int,
        num_heads: int,
        tokens: int,
        dropout: float = 0.0,
        bias: bool = True,
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(
            features, num_heads, dropout=dropout, bias=bias, batch_first=True
        )
        self.causal = causal
        mask = torch.ones(tokens, tokens, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask if self.causal else None
        return self.attn(x, x, x, attn_mask=mask, need_weights=False)[0]


class PositionalEncoding(nn.Module):
    """Adds a learned or sinusoidal position code to (batch, tokens, features)."""

    def __init__(self, tokens: int, features: int, kind: str = "learned") -> None:
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.weight = nn.Parameter(torch.randn(tokens, features) * 0.02)
        else:
            position = torch.arange(tokens, dtype=torch.float32).unsqueeze(1)
            even = torch.arange(0, features, 2, dtype=torch.float32)
            # 1 / 10000^(2i / d)
            rate = torch.exp(even * (-9.210340371976184 / features))
            code = torch.zeros(tokens, features)
            code[:, 0::2] = torch.sin(position * rate)
            code[:, 1::2] = torch.cos(position * rate[: features // 2])
            self.register_buffer("weight", code, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight


class PatchEmbedding(nn.Module):
    """Embeds square patches of images (N, C, H, W) as tokens (N, tokens, features)."""

    def __init__(self, channels: int, features: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, features, patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)
