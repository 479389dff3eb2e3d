"""The pose encoder: keypoints and confidences of each frame -> the backbone's width, then temporal context."""

from __future__ import annotations

import math

import torch
from torch import nn


class TemporalBlock(nn.Module):
    """Residual 1-D convolution over time with a pre-norm."""

    def __init__(self, d_model: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.conv = nn.Conv1d(d_model, d_model, kernel_size, padding=kernel_size // 2)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # Zero the padding after the norm too: the convolution must see zeros there, as at a video's edges.
        y = self.conv((self.norm(x) * mask).transpose(1, 2)).transpose(1, 2)
        return (x + self.dropout(self.act(y))) * mask


class PoseEncoder(nn.Module):
    """``pose_feature (B, T', d)`` of the spec from keypoints [B, T, P, 3] and confidences [B, T, P].

    Each frame's points and confidences are flattened and projected to ``d_model``; residual temporal
    convolutions add context from neighbouring frames. With ``stride`` > 1 the features are averaged over
    windows of ``stride`` frames after the first convolution (T' = ceil(T / stride)), as SLT models commonly
    downsample: a sign spans 8-30 frames, and the backbone attends over fewer, richer steps. Padded frames are
    zeroed after every step and never enter an average, so a video's features do not depend on how much
    padding its batch needed. With ``positions``, sinusoidal position encodings are added to the output steps:
    the convolutions see only neighbours, and mT5 has relative positions in self-attention only, so without them
    the decoder's cross-attention cannot tell which step comes first and keeps the signs, not their order.
    """

    def __init__(
        self,
        n_points: int,
        d_model: int,
        layers: int = 2,
        kernel_size: int = 5,
        dropout: float = 0.1,
        stride: int = 1,
        velocity: bool = True,
        positions: bool = False,
    ):
        super().__init__()
        self.stride = stride
        self.velocity = velocity
        self.positions = positions
        per_point = 7 if velocity else 4  # x, y, z, confidence (and dx, dy, dz)
        self.frame = nn.Sequential(nn.Linear(n_points * per_point, d_model), nn.LayerNorm(d_model), nn.GELU())
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TemporalBlock(d_model, kernel_size, dropout) for _ in range(layers))
        self.out_norm = nn.LayerNorm(d_model)

    def forward(
        self, keypoints: torch.Tensor, conf: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``mask`` [B, T] is 1 on real frames, 0 on padding. Returns (features [B, T', d], mask [B, T'])."""
        b, t = keypoints.shape[:2]
        frame_mask = mask.to(keypoints.dtype)[..., None]
        parts = [keypoints.reshape(b, t, -1), conf.reshape(b, t, -1)]
        if self.velocity:
            parts.append(_velocity(keypoints, conf).reshape(b, t, -1))
        x = torch.cat(parts, dim=-1)
        x = self.dropout(self.frame(x)) * frame_mask
        for i, block in enumerate(self.blocks):
            x = block(x, frame_mask)
            if i == 0:
                x, frame_mask = self._downsample(x, frame_mask)
        if not self.blocks:
            x, frame_mask = self._downsample(x, frame_mask)
        x = self.out_norm(x)
        if self.positions:
            x = x + sinusoids(x.shape[1], x.shape[2], x.device, x.dtype)
        return x * frame_mask, frame_mask[..., 0]

    def _downsample(self, x: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean over each window of ``stride`` frames, counting real frames only."""
        if self.stride == 1:
            return x, frame_mask
        pool = nn.functional.avg_pool1d
        summed = pool(x.transpose(1, 2), self.stride, self.stride, ceil_mode=True).transpose(1, 2)
        counts = pool(frame_mask.transpose(1, 2), self.stride, self.stride, ceil_mode=True).transpose(1, 2)
        new_mask = (counts > 0).to(x.dtype)
        return summed / counts.clamp(min=1e-6) * new_mask, new_mask


def sinusoids(steps: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The transformer's sinusoidal position encodings [steps, width] (Vaswani et al. 2017, section 3.5)."""
    position = torch.arange(steps, device=device, dtype=torch.float32)[:, None]
    rates = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(steps, width, device=device)
    table[:, 0::2] = torch.sin(position * rates)
    table[:, 1::2] = torch.cos(position * rates[: width // 2])
    return table.to(dtype)


def _velocity(keypoints: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """Per-point motion from the previous frame, 0 where the point is missing in either frame (and at t=0)."""
    seen = (conf > 0).to(keypoints.dtype)[..., None]
    moved = torch.zeros_like(keypoints)
    moved[:, 1:] = (keypoints[:, 1:] - keypoints[:, :-1]) * seen[:, 1:] * seen[:, :-1]
    return moved
