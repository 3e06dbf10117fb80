"""engine.memory: the training memory estimate by part, per optimizer, and what fits."""

from __future__ import annotations

import pytest

import engine.memory as memory
from engine.memory import estimate_memory, fmt_bytes, memory_problems, optimizer_slots
from engine.shapes import analyze
from tests.engine.builders import chain
from tests.helpers import huge_mlp

MIB = 2**20


def mlp():
    """Input(100) → Linear(50) → Linear(10): 5,050 + 510 = 5,560 weights; 160 values/sample."""
    return chain(
        ("x", "Input", {"shape": [100]}),
        ("fc1", "Linear", {"out_features": 50}),
        ("fc2", "Linear", {"out_features": 10}),
    )


def test_parts_add_up_for_adam():
    design = mlp()
    est = estimate_memory(
        design, analyze(design), batch_size=32, optimizer="adam", available=10 * MIB
    )
    weights = 5_560 * 4
    assert (est.parameters, est.gradients, est.optimizer_state) == (weights, weights, 2 * weights)
    # outputs kept for backward (100 + 50 + 10) plus the largest output's gradient (100)
    assert est.activations_per_sample == (160 + 100) * 4
    assert est.activations == 32 * est.activations_per_sample
    assert est.total == 4 * weights + est.activations
    assert est.fits and est.max_batch == (10 * MIB - 4 * weights) // est.activations_per_sample


@pytest.mark.parametrize(
    ("optimizer", "momentum", "slots"),
    [
        ("adam", 0.0, 2),
        ("adamw", 0.0, 2),
        ("sgd", 0.0, 0),
        ("sgd", 0.9, 1),
        ("rmsprop", 0.0, 1),
        ("rmsprop", 0.5, 2),
    ],
)
def test_optimizer_state_per_weight(optimizer, momentum, slots):
    assert optimizer_slots(optimizer, momentum) == slots
    design = mlp()
    est = estimate_memory(
        design,
        analyze(design),
        batch_size=1,
        optimizer=optimizer,
        momentum=momentum,
        available=None,
    )
    assert est.optimizer_state == slots * est.parameters
    assert est.fits and est.max_batch is None  # free memory unknown: never refused


def test_som_training_has_no_gradients_or_optimizer_state():
    design = chain(("x", "Input", {"shape": [4]}), ("som", "SOM", {"rows": 3, "cols": 3}))
    est = estimate_memory(design, analyze(design), batch_size=8, task="som", available=MIB)
    assert est.parameters > 0 and est.gradients == 0 and est.optimizer_state == 0


def test_too_big_a_batch_names_the_batch_that_fits():
    design = mlp()
    est = estimate_memory(design, analyze(design), batch_size=10_000, available=MIB)
    assert not est.fits
    best = est.max_batch
    assert 0 < best < 10_000
    assert estimate_memory(design, analyze(design), batch_size=best, available=MIB).fits
    assert not estimate_memory(design, analyze(design), batch_size=best + 1, available=MIB).fits
    assert (
        est.summary().startswith("does not fit at batch 10000")
        and f"at most batch {best}" in est.summary()
    )
    (problem,) = memory_problems(est)
    assert problem.node is None and f"batch_size to {best}" in problem.fix


def test_a_layer_too_big_for_any_batch_is_named_with_its_bytes():
    design = huge_mlp(1_000_000)
    analysis = analyze(design)
    assert analysis.valid  # shape inference alone: nothing was allocated
    est = estimate_memory(design, analysis, batch_size=64, available=8 * 2**30)
    assert est.max_batch == 0 and "not even batch 1" in est.summary()
    (problem,) = memory_problems(est)
    fc2 = 1_000_001_000_000 * 4 * 4 + 1_000_000 * 4  # Adam: weights ×4, one output
    assert problem.node == "fc2" and f"{fc2:,} bytes" in problem.message
    assert "8.00 GiB free RAM" in problem.message


def test_a_huge_input_is_named_too():
    design = chain(("x", "Input", {"shape": [10**9, 10**9]}), ("fc", "Linear", {"out_features": 2}))
    est = estimate_memory(design, analyze(design), batch_size=1, available=2**34)
    (problem,) = memory_problems(est)
    assert problem.node == "x" and "EiB" in problem.message


def test_free_memory_comes_from_meminfo(monkeypatch, tmp_path):
    free = memory.system_available_memory()
    assert free is None or free > 0
    monkeypatch.setattr(memory, "system_available_memory", lambda: 123 * MIB)
    assert memory.available_memory("cpu") == 123 * MIB
    design = mlp()
    assert (
        estimate_memory(design, analyze(design), batch_size=1, device="cpu").available == 123 * MIB
    )


def test_fmt_bytes():
    assert [fmt_bytes(n) for n in (512, 4096, 1.5 * MIB, 4 * 2**40)] == [
        "512 B",
        "4.00 KiB",
        "1.50 MiB",
        "4.00 TiB",
    ]
