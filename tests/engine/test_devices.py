"""Devices: which settings can train here and the one description the editor and CLI show."""

from __future__ import annotations

import pytest
import torch

from engine.errors import TrainingError
from engine.training import devices
from engine.training.devices import describe_device, device_available, resolve_device


def no_gpu(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: False)


def test_without_a_gpu_auto_is_the_cpu(monkeypatch):
    no_gpu(monkeypatch)
    assert describe_device() == describe_device("cpu") == "CPU"
    assert [device_available(n) for n in ("auto", "cpu", "cuda", "mps")] == [
        True,
        True,
        False,
        False,
    ]


def test_a_cuda_gpu_is_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda _d=None: "NVIDIA H200")
    assert describe_device("auto") == "CUDA: NVIDIA H200"
    assert describe_device(torch.device("cuda", 0)) == "CUDA: NVIDIA H200"
    assert device_available("cuda")


def test_apples_gpu_comes_after_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert describe_device() == "MPS (Apple GPU)" and device_available("mps")


def test_describing_a_device_that_is_not_here_says_what_to_use(monkeypatch):
    no_gpu(monkeypatch)
    with pytest.raises(TrainingError, match="device 'cuda' is not available here"):
        describe_device("cuda")
    assert resolve_device("auto") == torch.device("cpu")
