"""The curve's link: logistic (default) and loglog (Gumbel), the same in numpy and PyTensor,
and the engine (hence the model) using the spec's choice."""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import pytest

from ceg.curve import inverse_link, success_probability
from ceg.engine import probability
from ceg.spec import ModelSpec, Structure


def test_loglog_is_the_gumbel_distribution_function():
    z = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(inverse_link(z, "loglog"), np.exp(-np.exp(-z)))
    assert inverse_link(0.0, "loglog") == pytest.approx(np.exp(-1))
    assert inverse_link(0.0, "logistic") == pytest.approx(0.5)
    # thinner lower tail and longer upper tail than the logistic
    assert inverse_link(-3.0, "loglog") < inverse_link(-3.0, "logistic")
    assert 1 - inverse_link(3.0, "loglog") > 1 - inverse_link(3.0, "logistic")


@pytest.mark.parametrize("link", ["logistic", "loglog"])
def test_numpy_and_pytensor_agree(link):
    z = np.linspace(-6, 6, 25)
    tensor = pt.dvector("z")
    graph = inverse_link(tensor, link, pt).eval({tensor: z})
    np.testing.assert_allclose(graph, inverse_link(z, link), rtol=1e-12)


def test_success_probability_keeps_the_floor_with_either_link():
    for link in ("logistic", "loglog"):
        p = success_probability(np.array([-50.0, 50.0]), 0.0, 1.0, 0.25, link=link)
        np.testing.assert_allclose(p, [0.25, 1.0], atol=1e-12)


def test_the_engine_follows_the_spec_link():
    theta, midpoint, slope, floor = np.array([22.0, 23.0]), 23.0, 2.0, 0.25
    logistic = probability(Structure(link="logistic"), theta, midpoint, slope, floor, clip=False)
    loglog = probability(Structure(link="loglog"), theta, midpoint, slope, floor, clip=False)
    np.testing.assert_allclose(loglog, 0.25 + 0.75 * np.exp(-np.exp(-slope * (theta - 23.0))))
    assert not np.allclose(logistic, loglog)


def test_a_spec_can_ask_for_the_loglog_link_and_it_changes_the_digest():
    default = ModelSpec.load("default")
    raw = default.to_dict()
    raw["structure"]["link"] = "loglog"
    spec = ModelSpec.from_dict(raw)
    assert spec.structure.link == "loglog" and spec.digest() != default.digest()
    raw["structure"]["link"] = "probit"
    with pytest.raises(Exception, match="link"):
        ModelSpec.from_dict(raw)


def test_the_model_builder_uses_the_link():
    import ceg
    from ceg.design import make_design
    from ceg.model import build_model
    from fakes import synthetic_table
    from graph_eval import log_density

    reg = ceg.load_registries()
    design = make_design(synthetic_table(), reg)
    default = ModelSpec.load("default")
    raw = default.to_dict()
    raw["structure"]["link"] = "loglog"
    logps = []
    for spec in (default, ModelSpec.from_dict(raw)):
        model = build_model(spec, design)
        point = model.initial_point(random_seed=0)
        logps.append(log_density(model)(point))
    assert np.isfinite(logps).all() and logps[0] != pytest.approx(logps[1])
