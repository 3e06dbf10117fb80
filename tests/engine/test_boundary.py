"""The decision boundary of a 2-D classifier (engine/insight/boundary.py): the grid is the model's
own softmax on the grid points; a moons run sends it with every epoch, a 4-feature run does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.insight.boundary import GRID, decision_boundary, grid_points
from engine.training import History, Trainer
from tests.engine.builders import chain

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

MOONS = {
    "source": "builtin",
    "name": "moons",
    "options": {"n_samples": 300},
    "split": {"val": 0.2, "test": 0.0},
    "preprocess": {"scale": "standard"},
}


def _design(data, features, classes=2, loss="cross_entropy"):
    design = chain(
        ("x", "Input", {"shape": [features]}),
        ("h", "Linear", {"out_features": 8}),
        ("act", "Tanh"),
        ("out", "Linear", {"out_features": classes}),
    )
    design.name = "points"
    design.data = data
    design.training = {
        "task": "classification",
        "epochs": 2,
        "batch_size": 32,
        "lr": 0.05,
        "loss": loss,
    }
    return design


def test_the_grid_is_the_models_softmax_on_the_grid_points():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    points = torch.randn(50, 2) * torch.tensor([2.0, 0.5]) + torch.tensor([1.0, -3.0])
    labels = torch.randint(0, 3, (50,))
    grid = decision_boundary(net, points, labels, size=16)
    assert grid.probabilities.shape == (16, 16, 3)
    expected = torch.softmax(net(torch.from_numpy(grid_points(grid.xs, grid.ys))), dim=1)
    np.testing.assert_allclose(
        grid.probabilities.reshape(-1, 3), expected.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    # row i is ys[i], column j is xs[j]
    j, i = 5, 11
    at = torch.softmax(net(torch.tensor([[grid.xs[j], grid.ys[i]]])), dim=1)[0]
    np.testing.assert_allclose(grid.probabilities[i, j], at.detach().numpy(), rtol=1e-5)
    # the grid spans the points (with a margin) and the points travel along
    x0, y0, w, h = grid.extent
    assert x0 < float(points[:, 0].min()) and x0 + w > float(points[:, 0].max())
    assert y0 < float(points[:, 1].min()) and y0 + h > float(points[:, 1].max())
    np.testing.assert_array_equal(grid.points, points.numpy())
    np.testing.assert_array_equal(grid.labels, labels.numpy())


def test_one_logit_gives_sigmoid_probabilities_of_two_classes():
    net = torch.nn.Linear(2, 1)
    grid = decision_boundary(net, torch.randn(20, 2), torch.zeros(20), binary=True, size=8)
    p1 = torch.sigmoid(net(torch.from_numpy(grid_points(grid.xs, grid.ys))))[:, 0]
    np.testing.assert_allclose(
        grid.probabilities[..., 1].reshape(-1), p1.detach().numpy(), rtol=1e-5
    )
    np.testing.assert_allclose(grid.probabilities.sum(-1), 1.0, rtol=1e-6)


def test_a_moons_run_sends_the_boundary_each_epoch_and_others_do_not(tmp_path):
    history = History()
    trainer = Trainer(_design(MOONS, 2), callbacks=[history], out_dir=tmp_path / "moons")
    trainer.fit()
    grids = [e.samples.boundary for e in history.epochs]
    assert len(grids) == 2 and all(g is not None for g in grids)
    assert grids[0].probabilities.shape == (GRID, GRID, 2)
    assert not np.allclose(grids[0].probabilities, grids[1].probabilities)  # it learns
    # the last grid is the trained network's softmax on the grid points
    net = next(iter(trainer.networks.values())).eval()
    with torch.no_grad():
        out = net(torch.from_numpy(grid_points(grids[1].xs, grids[1].ys)))
    np.testing.assert_allclose(
        grids[1].probabilities.reshape(-1, 2), torch.softmax(out, 1).numpy(), atol=1e-5
    )
    assert set(np.unique(grids[1].labels)) == {0, 1} and grids[1].points.shape[1] == 2
    iris = {"source": "builtin", "name": "iris", "split": {"val": 0.2, "test": 0.0}}
    history = History()
    Trainer(_design(iris, 4, 3), callbacks=[history], out_dir=tmp_path / "iris").fit()
    assert all(e.samples.boundary is None for e in history.epochs)
