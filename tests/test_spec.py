"""ModelSpec: loading, validation messages that name the key, round trip, digest."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from ceg.errors import SpecError
from ceg.spec import PRIOR_NAMES, ModelSpec, Prior

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def default() -> ModelSpec:
    return ModelSpec.load("default")


@pytest.fixture
def raw(default) -> dict:
    """The default spec as plain data, free to mutate."""
    return copy.deepcopy(default.to_dict())


def test_default_loads_by_name_and_by_path(default):
    assert default.name == "default"
    assert set(default.priors) == set(PRIOR_NAMES)
    assert default.structure.likelihood == "beta_binomial"
    assert default.x_ref == pytest.approx(23.0)
    by_path = ModelSpec.load(MODELS / "default.toml")
    assert by_path.to_dict() == default.to_dict()
    assert by_path.digest() == default.digest()


def test_every_scale_prior_is_half_normal(default):
    for name, positive in PRIOR_NAMES.items():
        assert (default.priors[name].dist == "HalfNormal") == positive, name


@pytest.mark.parametrize(("section", "key", "typo", "suggestion"), [
    ("", "structur", None, "structure"),
    ("structure", "likelihod", "beta_binomial", "likelihood"),
    ("sampler", "chians", 4, "chains"),
    ("convergence", "max_rhatt", 1.01, "max_rhat"),
    ("priors", "family_sdd", {"dist": "HalfNormal", "sigma": 1.0}, "family_sd"),
])
def test_unknown_key_is_named_with_did_you_mean(raw, section, key, typo, suggestion):
    if section:
        raw[section][key] = typo
    else:
        raw[key] = raw.pop("structure")
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(raw, source="spec.toml")
    msg = str(err.value)
    assert "spec.toml" in msg
    assert f"unknown key '{section + '.' if section else ''}{key}'" in msg
    assert f"Did you mean '{suggestion}'?" in msg


def test_unknown_key_inside_a_prior(raw):
    raw["priors"]["shift_mean"]["sigmma"] = 1.0
    with pytest.raises(SpecError, match=r"unknown key 'priors\.shift_mean\.sigmma'\. Did you "
                                        r"mean 'sigma'\? Allowed keys"):
        ModelSpec.from_dict(raw)


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["structure"].update(likelihood="poisson"), "structure.likelihood"),
    (lambda d: d["structure"].update(floor="chanse"), "Did you mean 'chance'"),
    (lambda d: d["structure"].update(concentration="local"), "structure.concentration"),
    (lambda d: d["sampler"].update(name="stan"), "sampler.name"),
    (lambda d: d["structure"].update(family_effects="yes"), "structure.family_effects"),
    (lambda d: d["structure"].update(x_ref_flop=-1.0), "structure.x_ref_flop"),
    (lambda d: d["structure"].update(probability_clip=0.5), "structure.probability_clip"),
    (lambda d: d["sampler"].update(draws=0), "sampler.draws"),
    (lambda d: d["sampler"].update(chains=2.5), "sampler.chains"),
    (lambda d: d["sampler"].update(target_accept=1.2), "sampler.target_accept"),
    (lambda d: d["convergence"].update(max_rhat="low"), "convergence.max_rhat"),
    (lambda d: d["priors"]["family_sd"].update(sigma=-1.0), "priors.family_sd.sigma"),
    (lambda d: d["priors"]["shift_mean"].update(sigma=0), "priors.shift_mean.sigma"),
    (lambda d: d["priors"]["shift_mean"].update(mu="half"), "priors.shift_mean.mu"),
    (lambda d: d["priors"].update(family_sd={"dist": "Normal", "mu": 0.0, "sigma": 1.0}),
     "priors.family_sd is a scale and must be HalfNormal"),
    (lambda d: d["priors"].update(category_sd={"dist": "HalfNormal", "mu": 1.0,
                                               "sigma": 1.0}), "priors.category_sd"),
    (lambda d: d["priors"].update(shift_mean={"dist": "Cauchy", "sigma": 1.0}),
     "priors.shift_mean.dist"),
    (lambda d: d["priors"].update(shift_mean=0.5), "priors.shift_mean must be a table"),
    (lambda d: d["priors"].pop("slope_sd"), "priors missing: ['slope_sd']"),
    (lambda d: d.pop("priors"), "missing key 'priors'"),
    (lambda d: d.pop("name"), "missing key 'name'"),
])
def test_bad_value_is_a_spec_error_naming_the_key(raw, edit, expected):
    edit(raw)
    with pytest.raises(SpecError) as err:
        ModelSpec.from_dict(raw, source="bad.toml")
    assert expected in str(err.value)
    assert "bad.toml" in str(err.value)


def test_to_dict_from_dict_round_trip(default):
    again = ModelSpec.from_dict(default.to_dict(), source=default.source)
    assert again == default
    assert again.to_json() == default.to_json()


def test_digest_ignores_the_source_but_not_a_prior(default, raw):
    assert ModelSpec.from_dict(raw, source="elsewhere.toml").digest() == default.digest()
    raw["priors"]["shift_mean"]["mu"] = 0.6
    changed = ModelSpec.from_dict(raw)
    assert changed.priors["shift_mean"] == Prior(dist="Normal", mu=0.6, sigma=1.0)
    assert changed.digest() != default.digest()


def test_integers_are_accepted_for_floats(raw):
    raw["priors"]["family_sd"]["sigma"] = 2
    raw["structure"]["x_ref_flop"] = 10 ** 23
    spec = ModelSpec.from_dict(raw)
    assert spec.priors["family_sd"].sigma == 2.0
    assert isinstance(spec.structure.x_ref_flop, float)


def test_load_unknown_name_lists_available_with_did_you_mean():
    with pytest.raises(SpecError, match=r"no model spec named 'defualt'.*'default'.*Did you "
                                        r"mean 'default'\?"):
        ModelSpec.load("defualt")


def test_load_missing_path_and_bad_toml(tmp_path):
    with pytest.raises(SpecError, match="file not found"):
        ModelSpec.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        ModelSpec.load(bad)


def test_spec_is_frozen(default):
    with pytest.raises(AttributeError):
        default.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("section, key, on, prior", [
    ("sampler", "mass_matrix", "low_rank", None),
    ("structure", "slope_max", 16.0, None),
    ("structure", "concentration_max", 1e5, None),
    ("structure", "family_scale_slopes", True, "family_scale_sd"),
    ("structure", "family_scale_population_nu", 5.0, None),
    ("structure", "pin_shift_deviation_mean", True, None),
    ("sampler", "mass_matrix_estimate", "draws", None),
    ("sampler", "mass_matrix_window", 200, None)])
def test_a_switch_added_later_changes_the_digest_only_when_it_is_turned_on(default, raw, section,
                                                                           key, on, prior):
    # A spec that leaves the switch off stores no key for it, so fits and sweep records made
    # before the switch existed keep matching (a new switch once orphaned 9 sweep records).
    assert key not in default.to_dict()[section]
    raw[section][key] = on
    if prior:  # the prior the switch brings
        raw["priors"][prior] = {"dist": "HalfNormal", "sigma": 0.2}
    turned_on = ModelSpec.from_dict(raw)
    assert turned_on.to_dict()[section][key] == on
    assert ModelSpec.from_dict(turned_on.to_dict()) == turned_on
    assert turned_on.digest() != default.digest()


def test_a_student_t_population_of_family_scale_slopes_needs_the_slopes(raw):
    # The population of slopes the model does not have is a spec mistake, named as such.
    raw["structure"]["family_scale_population"] = "student_t"
    with pytest.raises(SpecError, match="family_scale_population.*needs "
                                        "structure.family_scale_slopes = true"):
        ModelSpec.from_dict(raw)
    raw["structure"]["family_scale_slopes"] = True
    raw["priors"]["family_scale_sd"] = {"dist": "HalfNormal", "sigma": 0.2}
    spec = ModelSpec.from_dict(raw)
    assert spec.to_dict()["structure"]["family_scale_population"] == "student_t"
    raw["structure"]["family_scale_population_nu"] = 0.0
    with pytest.raises(SpecError, match="family_scale_population_nu must be > 0"):
        ModelSpec.from_dict(raw)


def test_with_target_accept_changes_only_that_setting_and_the_digest():
    from ceg.errors import SpecError

    default = ModelSpec.load("default")
    lower = default.with_target_accept(0.8)
    assert lower.sampler.target_accept == 0.8 and lower.digest() != default.digest()
    back = lower.to_dict()
    back["sampler"]["target_accept"] = default.sampler.target_accept
    assert ModelSpec.from_dict(back).digest() == default.digest()
    for bad in (1.0, 0.3, True):
        with pytest.raises(SpecError, match=r"target_accept = .* outside \[0.5, 1\)"):
            default.with_target_accept(bad)


DOC_SPECS = sorted((MODELS.parent / "docs").rglob("*.toml"))


@pytest.mark.parametrize("path", DOC_SPECS, ids=[str(p.relative_to(MODELS.parent / "docs"))
                                                 for p in DOC_SPECS])
def test_every_spec_the_docs_cite_still_loads(path):
    # The docs give commands such as `ceg fit --model docs/validation/variants/X/spec.toml`
    # for the measurements they report; a change to the spec's schema that stops one of
    # these files loading would leave a command in the docs that no longer runs.
    spec = ModelSpec.load(path)
    assert spec.name and spec.digest() == ModelSpec.from_dict(spec.to_dict()).digest()
