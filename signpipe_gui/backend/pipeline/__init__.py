"""The traffic-sign pipeline: inventory, detect, geotag and report stages."""

from __future__ import annotations

from .runner import run_pipeline
from .types import PipelineCancelled, PipelineError

__all__ = ["PipelineCancelled", "PipelineError", "run_pipeline"]
