"""Sensitivity of the CEGs and the headline to priors, likelihood and model choices.

- :func:`power_scaling`: local prior and likelihood sensitivity by power-scaling
  (Kallioinen et al. 2023), from a fit's stored ``log_prior`` and
  ``log_likelihood``, without refitting (:mod:`ceg.sensitivity.power_scaling`).
"""

from ceg.sensitivity.power_scaling import (
    MAX_PARETO_K,
    THRESHOLD,
    PowerScalingResult,
    power_scaling,
)

__all__ = ["MAX_PARETO_K", "THRESHOLD", "PowerScalingResult", "power_scaling"]
