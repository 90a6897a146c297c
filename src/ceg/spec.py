"""Model specifications: ``models/*.toml`` loaded into a frozen, validated :class:`ModelSpec`.

A spec says which structure the model has (floor, likelihood, pooling, which
effects exist), its priors, the sampler settings and the convergence
thresholds. :func:`ceg.model.build_model` reads only the spec and the data
design; no other module hard-codes model structure.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from ceg.errors import SpecError, did_you_mean

PriorDist = Literal["Normal", "HalfNormal", "StudentT", "HalfStudentT"]
#: The prior families that are scales (positive, no location).
HALF_DISTS: tuple[str, ...] = ("HalfNormal", "HalfStudentT")
#: The prior families with degrees of freedom ``nu``.
STUDENT_DISTS: tuple[str, ...] = ("StudentT", "HalfStudentT")

#: Switches added after specs were saved, fitted and recorded, with the value that turns each
#: off. A spec that leaves a switch off stores no key for it, so its digest (which keys saved
#: fits, the fit cache and sweep records) stays what it was before the switch existed: adding
#: a switch must not make every recorded fit look like a different model. Append new switches.
ADDED_SWITCHES: tuple[tuple[str, str, Any], ...] = (
    ("sampler", "mass_matrix", "diagonal"),
    ("structure", "slope_max", None),
    ("structure", "family_scale_slopes", False),
    ("structure", "family_scale_population", "normal"),
    ("structure", "family_scale_population_nu", 3.0),
    ("structure", "generative_floor_max", None),
    ("structure", "offset_centring", "model"),
    ("structure", "family_floor", False),
    ("structure", "model_effects_within_family", "free"),
    ("structure", "anchor_family_scale_slopes", False),
    ("structure", "anchor_model_effect_trend", False),
    ("structure", "anchor_model_effect_line", False),
    ("structure", "anchor_latent_deviation", False),
    ("structure", "family_population", "normal"),
    ("structure", "family_population_nu", 3.0),
    ("structure", "concentration_max", None),
    ("structure", "floor_max_over_chance", 1.0),
    ("sampler", "max_tree_depth", 10),
    ("structure", "pin_shift_deviation_mean", False),
    ("sampler", "mass_matrix_estimate", "draws_and_gradients"),
    ("sampler", "mass_matrix_window", 80),
)
Floor = Literal["chance", "zero", "learned"]
#: The curve's shape: ``logistic`` is symmetric; ``loglog`` (Gumbel, exp(-exp(-z))) leaves
#: the floor more slowly and rises more steeply once it has, for a given slope.
Link = Literal["logistic", "loglog"]
SlopePopulation = Literal["normal", "student_t"]
ScaleCompute = Literal["raw", "effective"]
#: ``free``: each model effect is N(0, model_sd). ``detrended``: within each family the model
#: effects have no mean and no linear trend in compute (the family effect and the family's
#: scale slope carry those), so they cannot trade against them.
ModelEffectsWithin = Literal["free", "detrended"]
Likelihood = Literal["beta_binomial", "binomial"]
Concentration = Literal["per_benchmark", "global"]
SamplerName = Literal["nutpie", "pymc"]
MassMatrix = Literal["diagonal", "low_rank"]
#: How nutpie estimates the diagonal mass matrix in tuning: from the spread of the draws and
#: of the gradients (its own default), or from the draws alone (as Stan and PyMC do).
MassMatrixEstimate = Literal["draws_and_gradients", "draws"]
#: How the logit offsets are made identifiable: ``model`` centres the profile within each
#: family and the residual within each model; ``nested`` centres the residual within each
#: (family, benchmark) and leaves out the profile of a benchmark's only family.
OffsetCentring = Literal["model", "nested"]
#: Hierarchical effects whose parameterisation a spec may switch to centred.
EffectName = Literal["logit_at_ref", "log_slope", "log_concentration", "family_effect",
                     "protocol_offset", "category_mean", "shift_deviation", "shift_scale_slope",
                     "model_effect"]

#: Every prior the default builder reads, and whether it must be positive.
PRIOR_NAMES: dict[str, bool] = {
    "logit_ref_mean": False,
    "logit_ref_sd": True,
    "log_slope_mean": False,
    "log_slope_sd": True,
    "log_concentration_mean": False,
    "log_concentration_sd": True,
    "family_sd": True,
    "protocol_sd": True,
    "shift_mean": False,
    "category_sd": True,
    "enhancement_sd": True,
    "benchmark_shift_sd": True,
    "slope_mean": False,
    "slope_sd": True,
}

#: Priors read only when a structure switch is on: name -> (switch, must be positive).
#: A spec gives exactly the priors its switches need (see :func:`required_priors`).
VARIANT_PRIORS: dict[str, tuple[str, bool]] = {
    "model_sd": ("model_effects", True),
    "family_scale_sd": ("family_scale_slopes", True),
    "family_benchmark_sd": ("family_benchmark_effects", True),
    "ability_residual_sd": ("ability_residual", True),
    "floor_logit_mean": ("floor", False),
    "floor_logit_sd": ("floor", True),
    "generative_floor_logit_mean": ("generative_floor_max", False),
    "generative_floor_logit_sd": ("generative_floor_max", True),
    "family_floor_sd": ("family_floor", True),
}


@dataclass(frozen=True)
class Prior:
    """A prior distribution.

    ``Normal(mu, sigma)``, ``HalfNormal(sigma)``, ``StudentT(nu, mu, sigma)`` or
    ``HalfStudentT(nu, sigma)`` (the heavier-tailed families; ``nu`` is ``None``
    for the normal ones).
    """

    dist: PriorDist
    sigma: float
    mu: float = 0.0
    nu: float | None = None


@dataclass(frozen=True)
class Structure:
    """Which pieces the model has (see ``models/default.toml`` for each)."""

    x_ref_flop: float = 1e23
    link: Link = "logistic"
    floor: Floor = "chance"
    likelihood: Likelihood = "beta_binomial"
    concentration: Concentration = "per_benchmark"
    protocol_offsets: bool = True
    scale_dependence: bool = True
    latent_compute: bool = True
    family_effects: bool = True
    family_population: SlopePopulation = "normal"
    family_population_nu: float = 3.0
    probability_clip: float = 1e-6
    centred_effects: tuple[str, ...] = ()
    anchor_family_effects: bool = False
    anchor_enhancement_shifts: bool = False
    model_effects: bool = False
    model_effects_within_family: ModelEffectsWithin = "free"
    family_scale_slopes: bool = False
    family_scale_population: SlopePopulation = "normal"
    family_scale_population_nu: float = 3.0
    family_benchmark_effects: bool = False
    ability_residual: bool = False
    slope_population: SlopePopulation = "normal"
    slope_population_nu: float = 3.0
    slope_max: float | None = None
    concentration_max: float | None = None
    generative_floor_max: float | None = None
    #: A learned floor where chance c > 0 lies in [0, min(1, c * this)]: a model without
    #: the ability scores its favourite answer's share, above 1/k where answers are uneven
    #: (ObsScaling's smallest models: 1.14 x chance on BBH temporal_sequences).
    floor_max_over_chance: float = 1.0
    scale_compute: ScaleCompute = "raw"
    offset_centring: OffsetCentring = "model"
    family_floor: bool = False
    anchor_family_scale_slopes: bool = False
    anchor_model_effect_trend: bool = False
    anchor_model_effect_line: bool = False
    anchor_latent_deviation: bool = False
    #: With anchored shifts, give the mean of each enhancement's deviation variables (a
    #: direction no quantity depends on) a narrow prior: the same model, sampled without a
    #: wide direction that a diagonal mass matrix cannot scale (``ceg.model``).
    pin_shift_deviation_mean: bool = False

    def uses(self, prior_switch: str) -> bool:
        """Return whether the switch a variant prior belongs to is on (see VARIANT_PRIORS)."""
        if prior_switch == "floor":
            return self.floor == "learned"
        return bool(getattr(self, prior_switch))


def required_priors(structure: Structure) -> list[str]:
    """Return the names of the priors a spec with ``structure`` must give, in display order.

    Parameters
    ----------
    structure
        The spec's structure switches.

    Returns
    -------
    list of str
        :data:`PRIOR_NAMES`, then the :data:`VARIANT_PRIORS` whose switch is on.
    """
    return [*PRIOR_NAMES, *(n for n, (sw, _) in VARIANT_PRIORS.items() if structure.uses(sw))]


def prior_must_be_positive(name: str) -> bool:
    """Return whether the prior ``name`` is a scale (HalfNormal or HalfStudentT only)."""
    if name in PRIOR_NAMES:
        return PRIOR_NAMES[name]
    return VARIANT_PRIORS[name][1]


@dataclass(frozen=True)
class SamplerSettings:
    """Default sampler settings; ``ceg.fit`` arguments override them."""

    name: SamplerName = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    seed: int = 20231212
    #: nutpie's mass matrix: "diagonal", or "low_rank" (diagonal plus the few directions
    #: of largest posterior correlation, learned in tuning; nutpie only).
    mass_matrix: MassMatrix = "diagonal"
    #: The deepest NUTS tree: at most 2**max_tree_depth - 1 leapfrog steps per draw
    #: (10, the samplers' own default, unless a spec measured a reason for another).
    max_tree_depth: int = 10
    #: nutpie's mass matrix estimate: "draws_and_gradients" (its default) or "draws".
    mass_matrix_estimate: MassMatrixEstimate = "draws_and_gradients"
    #: Tuning draws per window of nutpie's mass matrix estimate (its
    #: ``mass_matrix_switch_freq``, 80 by default): the final mass matrix is learned from
    #: the last one or two windows before the step-size-only end of tuning, so a longer
    #: window is learned from more draws.
    mass_matrix_window: int = 80

    def override(self, *, name: SamplerName | None = None, draws: int | None = None,
                 tune: int | None = None, chains: int | None = None,
                 seed: int | None = None) -> SamplerSettings:
        """Return these settings with every argument that is not ``None`` put in its place.

        Parameters
        ----------
        name, draws, tune, chains, seed
            Overrides (``None`` or 0 for draws, tune and chains keeps the spec's
            value; the seed is stored as a Python ``int``).

        Returns
        -------
        SamplerSettings
            A new frozen instance.
        """
        return replace(self, name=name or self.name, draws=draws or self.draws,
                       tune=tune or self.tune, chains=chains or self.chains,
                       seed=int(self.seed if seed is None else seed))


@dataclass(frozen=True)
class Convergence:
    """Thresholds a fit must meet to count as converged."""

    max_rhat: float = 1.01
    min_ess_bulk: float = 400
    min_ess_tail: float = 400
    max_divergences: int = 0
    min_bfmi: float = 0.3


@dataclass(frozen=True)
class ModelSpec:
    """A complete, validated model specification.

    Load one with :meth:`ModelSpec.load` (a name in ``models/`` or a path).
    """

    name: str
    description: str
    structure: Structure
    priors: dict[str, Prior]
    sampler: SamplerSettings = field(default_factory=SamplerSettings)
    convergence: Convergence = field(default_factory=Convergence)
    source: str = "<memory>"

    @property
    def x_ref(self) -> float:
        """The reference compute in log10 FLOP."""
        import math

        return math.log10(self.structure.x_ref_flop)

    def with_target_accept(self, target_accept: float) -> ModelSpec:
        """Return this spec with another ``sampler.target_accept``.

        Parameters
        ----------
        target_accept
            NUTS's target acceptance rate, in [0.5, 1).

        Returns
        -------
        ModelSpec
            A new spec (another digest: a fit records what it was sampled with).

        Raises
        ------
        SpecError
            If the value is outside [0.5, 1).
        """
        if isinstance(target_accept, bool) or not 0.5 <= target_accept < 1:
            raise SpecError(f"target_accept = {target_accept!r} is outside [0.5, 1): pass a "
                            f"value such as 0.9 (the spec {self.source} has "
                            f"{self.sampler.target_accept})")
        data = self.to_dict()
        data["sampler"]["target_accept"] = float(target_accept)
        return ModelSpec.from_dict(data, self.source)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain data (what :meth:`from_dict` reads)."""
        d = asdict(self)
        d.pop("source")
        for prior in d["priors"].values():
            if prior["dist"] in HALF_DISTS:
                prior.pop("mu")
            if prior["dist"] not in STUDENT_DISTS:
                prior.pop("nu")  # so the digests of normal-only specs are unchanged
        for section, key, off in ADDED_SWITCHES:
            if d[section][key] == off:
                d[section].pop(key)  # a spec that does not use a later switch keeps its digest
        return d

    def to_json(self) -> str:
        """Return the spec as canonical JSON (stored inside saved fits)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def digest(self) -> str:
        """Return a SHA-256 of the spec's content (not of its file name)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def model_digest(self) -> str:
        """Return a SHA-256 of what the spec makes: the spec without its name and description.

        Two specs with the same model digest build the same model and sampler settings;
        :func:`ceg.sampling.compiled_model` shares one compiled model between them (a
        sweep's unchanged ``default`` variant, named ``default+default``, and the default
        spec itself). Records and saved fits keep :meth:`digest`, which includes the name.
        """
        d = self.to_dict()
        d.pop("name")
        d.pop("description")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<memory>") -> ModelSpec:
        """Validate plain data (as read from TOML) and return a spec.

        Parameters
        ----------
        data
            Mapping with keys ``name``, ``description``, ``structure``,
            ``priors``, and optionally ``sampler``, ``convergence``.
        source
            Where the data came from, for messages.

        Returns
        -------
        ModelSpec
            The validated specification.

        Raises
        ------
        SpecError
            Naming the key that is unknown, missing or has a bad value.
        """
        top = {"name", "description", "structure", "priors", "sampler", "convergence"}
        _no_unknown(data, top, source, "")
        for key in ("name", "structure", "priors"):
            if key not in data:
                raise SpecError(f"{source}: missing key '{key}': add it (see models/default.toml)")
        structure = _section(Structure, data.get("structure", {}), source, "structure")
        sampler = _section(SamplerSettings, data.get("sampler", {}), source, "sampler")
        convergence = _section(Convergence, data.get("convergence", {}), source, "convergence")
        priors = _priors(data["priors"], source, structure)
        if structure.x_ref_flop <= 0:
            raise SpecError(f"{source}: structure.x_ref_flop must be > 0 FLOP")
        if structure.family_population != "normal" and not structure.family_effects:
            raise SpecError(f"{source}: structure.family_population = "
                            f"\"{structure.family_population}\" needs "
                            "structure.family_effects = true (it is the population of "
                            "those effects)")
        for key in ("slope_population_nu", "family_scale_population_nu",
                    "family_population_nu"):
            if getattr(structure, key) <= 0:
                raise SpecError(f"{source}: structure.{key} must be > 0")
        if structure.family_scale_population != "normal" and not structure.family_scale_slopes:
            raise SpecError(f"{source}: structure.family_scale_population = "
                            f"\"{structure.family_scale_population}\" needs "
                            "structure.family_scale_slopes = true (it is the population of "
                            "those slopes)")
        if structure.generative_floor_max is not None:
            if not 0 < structure.generative_floor_max < 1:
                raise SpecError(f"{source}: structure.generative_floor_max must be in (0, 1) "
                                "(a score), or left out for a floor of 0 where chance is 0")
            if structure.floor != "learned":
                raise SpecError(f"{source}: structure.generative_floor_max needs "
                                "structure.floor = \"learned\" (it bounds a learned floor)")
        if structure.floor_max_over_chance != 1.0:
            if not 1.0 <= structure.floor_max_over_chance <= 10.0:
                raise SpecError(f"{source}: structure.floor_max_over_chance must be in "
                                f"[1, 10] (found {structure.floor_max_over_chance}): the floor's "
                                "cap as a multiple of chance")
            if structure.floor != "learned":
                raise SpecError(f"{source}: structure.floor_max_over_chance needs "
                                "structure.floor = \"learned\" (it bounds a learned floor)")
        if structure.family_floor and structure.floor != "learned":
            raise SpecError(f"{source}: structure.family_floor needs structure.floor = "
                            "\"learned\" (it moves a learned floor per family)")
        if structure.model_effects_within_family == "detrended" and not (
                structure.model_effects and structure.family_effects
                and structure.family_scale_slopes):
            raise SpecError(f"{source}: structure.model_effects_within_family = \"detrended\" "
                            "needs structure.model_effects, structure.family_effects and "
                            "structure.family_scale_slopes = true (the mean and the trend it "
                            "removes from the model effects are theirs)")
        if structure.anchor_family_scale_slopes and not (
                structure.family_scale_slopes and "log_slope" in structure.centred_effects):
            raise SpecError(f"{source}: structure.anchor_family_scale_slopes needs "
                            "structure.family_scale_slopes = true and \"log_slope\" in "
                            "structure.centred_effects (it anchors centred log slopes on them)")
        if structure.anchor_model_effect_trend and not (
                structure.model_effects and "log_slope" in structure.centred_effects):
            raise SpecError(f"{source}: structure.anchor_model_effect_trend needs "
                            "structure.model_effects = true and \"log_slope\" in "
                            "structure.centred_effects (it anchors centred log slopes on the "
                            "model effects' trend)")
        if structure.anchor_model_effect_line and not (
                structure.model_effects and structure.anchor_family_effects
                and "logit_at_ref" in structure.centred_effects):
            raise SpecError(f"{source}: structure.anchor_model_effect_line needs "
                            "structure.model_effects and structure.anchor_family_effects = "
                            "true and \"logit_at_ref\" in structure.centred_effects (it "
                            "extends the logits' anchoring on the family effects)")
        if structure.anchor_latent_deviation and not (
                structure.anchor_model_effect_trend or structure.anchor_model_effect_line):
            raise SpecError(f"{source}: structure.anchor_latent_deviation needs "
                            "structure.anchor_model_effect_trend or "
                            "structure.anchor_model_effect_line = true (it adds the latent-"
                            "compute models to the line of model effects those anchor on)")
        if structure.pin_shift_deviation_mean and not structure.anchor_enhancement_shifts:
            raise SpecError(f"{source}: structure.pin_shift_deviation_mean needs "
                            "structure.anchor_enhancement_shifts = true (only the anchored "
                            "shifts leave the deviations' mean out of the model)")
        if structure.slope_max is not None and not structure.slope_max > 0:
            raise SpecError(f"{source}: structure.slope_max must be > 0 logits per decade "
                            "(or left out for no cap)")
        if structure.concentration_max is not None and not structure.concentration_max > 1:
            raise SpecError(f"{source}: structure.concentration_max must be > 1 (a beta-"
                            "binomial concentration; or left out for no cap)")
        if not 0 < structure.probability_clip < 0.01:
            raise SpecError(f"{source}: structure.probability_clip must be in (0, 0.01)")
        for key in ("draws", "tune", "chains"):
            if getattr(sampler, key) < 1:
                raise SpecError(f"{source}: sampler.{key} must be >= 1")
        if not 0.5 <= sampler.target_accept < 1:
            raise SpecError(f"{source}: sampler.target_accept must be in [0.5, 1)")
        if not 4 <= sampler.max_tree_depth <= 15:
            raise SpecError(f"{source}: sampler.max_tree_depth must be in [4, 15] (found "
                            f"{sampler.max_tree_depth}; 10 is the samplers' default)")
        if sampler.mass_matrix_estimate not in ("draws_and_gradients", "draws"):
            raise SpecError(f"{source}: sampler.mass_matrix_estimate must be "
                            "\"draws_and_gradients\" (nutpie's default) or \"draws\" (found "
                            f"{sampler.mass_matrix_estimate!r})")
        if not 10 <= sampler.mass_matrix_window <= sampler.tune:
            raise SpecError(f"{source}: sampler.mass_matrix_window must be in [10, "
                            f"sampler.tune = {sampler.tune}] tuning draws (found "
                            f"{sampler.mass_matrix_window}; nutpie's default is 80)")
        if ((sampler.mass_matrix_estimate, sampler.mass_matrix_window)
                != (SamplerSettings.mass_matrix_estimate, SamplerSettings.mass_matrix_window)
                and sampler.name != "nutpie"):
            raise SpecError(f"{source}: sampler.mass_matrix_estimate and "
                            "sampler.mass_matrix_window are nutpie's settings: they need "
                            "sampler.name = \"nutpie\"")
        if sampler.mass_matrix == "low_rank" and sampler.name != "nutpie":
            raise SpecError(f"{source}: sampler.mass_matrix = \"low_rank\" needs "
                            "sampler.name = \"nutpie\" (PyMC's NUTS has no low-rank mass matrix)")
        return cls(name=str(data["name"]), description=str(data.get("description", "")),
                   structure=structure, priors=priors, sampler=sampler,
                   convergence=convergence, source=source)

    @classmethod
    def load(cls, name_or_path: str | Path = "default") -> ModelSpec:
        """Load a spec by name (a file in ``models/``) or by path.

        Parameters
        ----------
        name_or_path
            ``"default"``, another name of a file in ``models/``, or a path
            to a TOML file.

        Returns
        -------
        ModelSpec
            The validated specification.

        Raises
        ------
        SpecError
            If the file is missing, is not TOML, or fails validation.
        """
        path = Path(name_or_path)
        if path.suffix != ".toml" and not path.exists():
            bundled = resources.files("ceg.models")
            names = sorted(p.name[:-5] for p in bundled.iterdir() if p.name.endswith(".toml"))
            if str(name_or_path) not in names:
                raise SpecError(f"no model spec named '{name_or_path}'; available: {names}."
                                f"{did_you_mean(str(name_or_path), names)} Or give a path "
                                "to a .toml file.")
            text = bundled.joinpath(f"{name_or_path}.toml").read_text(encoding="utf-8")
            source = f"models/{name_or_path}.toml"
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise SpecError(f"{path}: file not found: check the path") from None
            source = str(path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"{source}: not valid TOML ({exc})") from None
        return cls.from_dict(data, source)


def _no_unknown(data: dict, allowed: set[str], source: str, section: str) -> None:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: [{section}] must be a table of keys")
    for key in data:
        if key not in allowed:
            where = f"{section}.{key}" if section else key
            raise SpecError(f"{source}: unknown key '{where}'.{did_you_mean(key, allowed)} "
                            f"Allowed keys{' in [' + section + ']' if section else ''}: "
                            f"{sorted(allowed)}")


def _section(cls: type, data: dict, source: str, section: str) -> Any:
    fields = cls.__dataclass_fields__
    hints = get_type_hints(cls)
    _no_unknown(data, set(fields), source, section)
    values = {}
    for key, value in data.items():
        default = fields[key].default
        options = get_args(hints[key]) if "Literal" in str(hints[key]) else ()
        if options and value not in options:
            raise SpecError(f"{source}: {section}.{key} = {value!r} is not one of "
                            f"{list(options)}.{did_you_mean(str(value), map(str, options))}")
        if key == "centred_effects":
            allowed = get_args(EffectName)
            if not isinstance(value, list | tuple) or any(v not in allowed for v in value):
                raise SpecError(f"{source}: {section}.{key} must be a list drawn from "
                                f"{list(allowed)}, not {value!r}")
            value = tuple(value)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SpecError(f"{source}: {section}.{key} must be true or false, not {value!r}")
        if default is None and float in get_args(hints[key]) and value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"{source}: {section}.{key} must be a number, not {value!r} "
                                "(or leave the key out)")
            value = float(value)
        if isinstance(default, int | float) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"{source}: {section}.{key} must be a number, not {value!r}")
            if isinstance(default, int) and not isinstance(default, bool) and value != int(value):
                raise SpecError(f"{source}: {section}.{key} must be a whole number")
            value = type(default)(value)
        values[key] = value
    return cls(**values)


def _priors(data: dict, source: str, structure: Structure) -> dict[str, Prior]:
    needed = required_priors(structure)
    _no_unknown(data, set(PRIOR_NAMES) | set(VARIANT_PRIORS), source, "priors")
    missing = [n for n in needed if n not in data]
    if missing:
        raise SpecError(f"{source}: priors missing: {missing}; every prior the structure "
                        "uses must be given (see models/default.toml and models/*.toml)")
    unused = sorted(set(data) - set(needed))
    if unused:
        why = "; ".join(f"{n} needs structure.{VARIANT_PRIORS[n][0]}" for n in unused)
        raise SpecError(f"{source}: priors given but not used by the structure: {unused} "
                        f"({why}); remove them or turn the switch on")
    out = {}
    for name, entry in data.items():
        where = f"priors.{name}"
        if not isinstance(entry, dict):
            raise SpecError(f"{source}: {where} must be a table like "
                            "{ dist = \"Normal\", mu = 0.0, sigma = 1.0 }")
        _no_unknown(entry, {"dist", "mu", "sigma", "nu"}, source, where)
        dist = entry.get("dist")
        if dist not in get_args(PriorDist):
            raise SpecError(f"{source}: {where}.dist = {dist!r}; use one of "
                            f"{list(get_args(PriorDist))}."
                            f"{did_you_mean(str(dist), get_args(PriorDist))}")
        if prior_must_be_positive(name) and dist not in HALF_DISTS:
            raise SpecError(f"{source}: {where} is a scale and must be HalfNormal or "
                            f"HalfStudentT, not {dist!r}")
        if dist in HALF_DISTS and "mu" in entry:
            raise SpecError(f"{source}: {where}: a {dist} has no mu; remove it")
        nu = entry.get("nu")
        if dist in STUDENT_DISTS:
            if isinstance(nu, bool) or not isinstance(nu, int | float) or not nu > 0:
                raise SpecError(f"{source}: {where}.nu (degrees of freedom of the {dist}) "
                                f"must be a number > 0, not {nu!r}; e.g. nu = 3")
            nu = float(nu)
        elif "nu" in entry:
            raise SpecError(f"{source}: {where}: a {dist} has no nu; remove it, or use "
                            f"{'HalfStudentT' if dist in HALF_DISTS else 'StudentT'}")
        sigma = entry.get("sigma")
        if isinstance(sigma, bool) or not isinstance(sigma, int | float) or sigma <= 0:
            raise SpecError(f"{source}: {where}.sigma must be a number > 0, not {sigma!r}")
        mu = entry.get("mu", 0.0)
        if isinstance(mu, bool) or not isinstance(mu, int | float):
            raise SpecError(f"{source}: {where}.mu must be a number, not {mu!r}")
        out[name] = Prior(dist=dist, sigma=float(sigma), mu=float(mu), nu=nu)
    return out
