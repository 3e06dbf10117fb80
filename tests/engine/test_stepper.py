"""The stepper shows the numbers a plain training step computes: same batch, same weights, same
outputs, loss, gradients and updated weights (engine/insight/stepper.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from engine.compile import compile_design
from engine.data import prepare_data
from engine.insight.stepper import Stage, Stepper
from engine.io import dumps, load_design
from engine.training.loops import make_optimizer

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"
BATCH = 4


def _template(name: str):
    return load_design(TEMPLATES / f"{name}.json")


def _close(a, b) -> bool:
    return torch.allclose(torch.as_tensor(a).float(), torch.as_tensor(b).float(), atol=1e-6)


def _by_kind(stages: list[Stage], kind: str, step: str | None = None) -> list[Stage]:
    return [s for s in stages if s.kind == kind and (step is None or s.step == step)]


def _plain_forward(net, x):
    """A plain forward pass of a fresh module, with each layer's output kept in the graph."""
    outs: dict[str, torch.Tensor] = {}
    handles = [
        m.register_forward_hook(lambda _m, _i, o, n=n: outs.__setitem__(n, o))
        for n, m in net.layers.items()
    ]
    out = net(x)
    for h in handles:
        h.remove()
    return out, outs


@pytest.mark.parametrize("name", ["mlp", "cnn", "lstm", "autoencoder"])
def test_backprop_stages_equal_a_plain_step(name):
    design = _template(name)
    saved = dumps(design)
    stepper = Stepper(design, batch_size=BATCH)
    stages = stepper.next_batch()
    rec = stepper.record
    cfg = stepper.config

    # the batch is the design's prepared training data, preprocessed as training does
    data = prepare_data(design.data, None, cfg.seed)
    idx = torch.as_tensor(rec.indices)
    x = torch.from_numpy(data.x_train)[idx]
    (data_in,) = _by_kind(stages, "data")
    assert data_in.node == stepper.loop.net.input_ids[0]
    assert _close(data_in.tensors["input"], x)

    # a plain forward/backward/step from the same weights and random state
    net = compile_design(design)
    net.load_state_dict(rec.weights_before[net.network])
    net.train()
    torch.set_rng_state(rec.rng_state)
    out, outs = _plain_forward(net, x)
    if name == "autoencoder":
        target = x
        loss = F.mse_loss(out, x.reshape(out.shape))
    else:
        target = torch.from_numpy(data.y_train)[idx].long()
        loss = F.cross_entropy(out, target)
    order = list(net.layers.keys())
    grads = torch.autograd.grad(loss, [outs[n] for n in order], retain_graph=True)
    opt = make_optimizer([p for p in net.parameters() if p.requires_grad], cfg)
    opt.zero_grad()
    loss.backward()
    opt.step()

    forward = _by_kind(stages, "forward")
    assert [s.node for s in forward] == order  # topological order
    for stage in forward:
        assert _close(stage.tensors["output"], outs[stage.node].detach()), stage.node
    (error,) = _by_kind(stages, "error")
    assert error.numbers["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert _close(error.tensors["output"], out.detach())
    assert _close(error.tensors["target"], target)
    assert "loss" in error.caption.lower() and "mean" in error.caption
    backward = _by_kind(stages, "backward")
    assert [s.node for s in backward] == order[::-1]
    for stage, grad in zip(backward, grads[::-1]):
        assert _close(stage.tensors["gradient"], grad), stage.node
    after = stepper.weights()[net.network]
    for key, value in net.state_dict().items():
        assert _close(after[key], value), key
    updates = _by_kind(stages, "update")
    assert {s.node for s in updates} == {n for n in order if list(net.layers[n].parameters())}
    for stage in updates:
        changed = torch.cat(
            [
                (after[k] - rec.weights_before[net.network][k]).reshape(-1)
                for k, _ in net.layers[stage.node].named_parameters()
                for k in [f"layers.{stage.node}.{k}"]
            ]
        )
        assert stage.numbers["change_norm"] == pytest.approx(float(changed.norm()), rel=1e-4)
        assert stage.numbers["change_norm"] > 0
        assert stage.tensors["hist_counts"].sum() == changed.numel()
        assert "Adam" in stage.caption

    # the stages come in the loop's order, each with a caption; the design is untouched
    kinds = [s.kind for s in stages]
    first = {k: kinds.index(k) for k in ("data", "forward", "error", "backward", "update")}
    assert list(first.values()) == sorted(first.values())
    assert all(s.caption.strip() for s in stages)
    assert dumps(design) == saved

    # the next batch continues from the updated weights, on other samples
    again = stepper.next_batch()
    assert not set(stepper.record.indices) & set(rec.indices)
    assert _by_kind(again, "error")[0].numbers["loss"] != pytest.approx(loss.item())


def test_gan_shows_discriminator_then_generator_step():
    design = _template("gan")
    stepper = Stepper(design, batch_size=BATCH)
    stages = stepper.next_batch()
    rec, cfg, loop = stepper.record, stepper.config, stepper.loop
    d_step, g_step = "discriminator step", "generator step"
    assert [s.step for s in stages] == sorted((s.step for s in stages), key=[d_step, g_step].index)

    real = torch.from_numpy(prepare_data(design.data, None, cfg.seed).x_train)[
        torch.as_tensor(rec.indices)
    ]
    gen, disc = compile_design(design, loop.gen.network), compile_design(design, loop.disc.network)
    gen.load_state_dict(rec.weights_before[gen.network])
    disc.load_state_dict(rec.weights_before[disc.network])
    gen.train()
    disc.train()
    opt_g = make_optimizer(list(gen.parameters()), cfg)
    opt_d = make_optimizer(list(disc.parameters()), cfg)
    torch.set_rng_state(rec.rng_state)
    b = len(real)
    z = torch.randn((b, *loop.noise_shape))
    fake = gen(z)
    logits, d_outs = _plain_forward(disc, torch.cat([real, fake.detach()]))
    logits = logits.reshape(2 * b, -1)
    ones = torch.ones_like(logits[:b])
    bce = F.binary_cross_entropy_with_logits
    d_loss = bce(logits[:b], ones) + bce(logits[b:], torch.zeros_like(ones))
    d_order = list(disc.layers.keys())
    d_grads = torch.autograd.grad(d_loss, [d_outs[n] for n in d_order], retain_graph=True)
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    g_loss = bce(disc(fake).reshape(b, -1), ones)
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()

    d_error, g_error = _by_kind(stages, "error")
    assert d_error.step == d_step and g_error.step == g_step
    assert d_error.numbers["loss"] == pytest.approx(d_loss.item(), rel=1e-5)
    assert g_error.numbers["loss"] == pytest.approx(g_loss.item(), rel=1e-5)
    assert "real" in d_error.caption and "generator" in g_error.caption
    data_g, data_d = _by_kind(stages, "data")
    assert _close(data_g.tensors["input"], z)
    assert _close(data_d.tensors["input"], torch.cat([real, fake.detach()]))
    assert _close(_by_kind(stages, "forward", d_step)[len(gen.layers) - 1].tensors["output"], fake)
    d_back = [s for s in _by_kind(stages, "backward", d_step)]
    assert [s.node for s in d_back] == d_order[::-1]
    for stage, grad in zip(d_back, d_grads[::-1]):
        assert _close(stage.tensors["gradient"], grad), stage.node
    after = stepper.weights()
    for net in (gen, disc):
        for key, value in net.state_dict().items():
            assert _close(after[net.network][key], value), key
    assert {s.node for s in _by_kind(stages, "update", d_step)} <= set(disc.layers.keys())
    assert {s.node for s in _by_kind(stages, "update", g_step)} <= set(gen.layers.keys())
    assert _by_kind(stages, "backward", g_step)[-1].node == list(gen.layers.keys())[0]


def test_som_stages_follow_competitive_learning():
    design = _template("som")
    saved = dumps(design)
    stepper = Stepper(design, batch_size=BATCH)
    loop = stepper.loop
    decay = 1.0 / (1.0 + loop.seen / (loop.total / 2.0))
    stages = stepper.next_batch()
    rec = stepper.record
    assert [s.kind for s in stages] == ["data", "distances", "neighbourhood", "update"]
    assert all(s.node == loop.som_id for s in stages[1:])

    x = torch.from_numpy(prepare_data(design.data, None, stepper.config.seed).x_train)[
        torch.as_tensor(rec.indices)
    ]
    w = rec.weights_before[loop.net.network][f"layers.{loop.som_id}.weight"]
    dist = torch.cdist(x, w)
    best, bmu = dist.min(1)
    rows, cols = loop.rows, loop.cols
    grid = torch.tensor([[r, c] for r in range(rows) for c in range(cols)], dtype=torch.float32)
    sigma, lr = loop.sigma0 * decay, loop.lr0 * decay
    h = torch.exp(-((grid[bmu].unsqueeze(1) - grid.unsqueeze(0)) ** 2).sum(-1) / (2 * sigma**2))
    mass = h.sum(0)
    w_new = w + lr * (h.t() @ x - mass.unsqueeze(1) * w) / mass.clamp_min(1.0).unsqueeze(1)

    data_in, distances, neighbourhood, update = stages
    assert _close(data_in.tensors["input"], x)
    assert _close(distances.tensors["distances"].reshape(len(x), -1), dist)
    assert (distances.tensors["bmu"] == torch.stack([bmu // cols, bmu % cols], 1).numpy()).all()
    assert distances.numbers["quantization_error"] == pytest.approx(float(best.mean()), rel=1e-5)
    assert _close(neighbourhood.tensors["neighbourhood"].reshape(len(x), -1), h)
    assert neighbourhood.numbers["sigma"] == pytest.approx(sigma)
    after = stepper.weights()[loop.net.network][f"layers.{loop.som_id}.weight"]
    assert torch.allclose(after, w_new, atol=1e-5)
    assert update.numbers["change_norm"] == pytest.approx(float((w_new - w).norm()), rel=1e-4)
    assert "no backpropagation" in update.caption
    assert dumps(design) == saved
