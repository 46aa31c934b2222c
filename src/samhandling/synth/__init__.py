"""Synthetic national data: persons, hospital contacts, discharge-ready events, municipal care.

The platform ships no real data. :func:`generate` writes one delivery folder per year in the
interchange format, from a person-level model of Norway's population calibrated to public
figures (docs/synthetic-data.md); :func:`calibration_report` recomputes those figures from the
written files.
"""

from __future__ import annotations

from samhandling.synth.calibration import calibration_report
from samhandling.synth.generate import SynthSummary, generate

__all__ = ["SynthSummary", "calibration_report", "generate"]
