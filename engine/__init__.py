"""headrace.engine: typed components, @pipeline DAGs, PipelineParameters, runs and run history."""

from .definitions.component import Component, component
from .definitions.model import PipelineParameter
from .definitions.pipeline import Pipeline, pipeline
from .errors import (
    ArtifactError,
    DefinitionError,
    HeadraceError,
    ParameterError,
    StepFailedError,
    WorkspaceError,
)
from .execution.context import RunContext, get_run_context
from .parallel import parallel_run
from .status import Status
from .store.runs import Artifact, PipelineRun, StepRun
from .store.workspace import Workspace

__all__ = [
    "Artifact",
    "ArtifactError",
    "Component",
    "DefinitionError",
    "HeadraceError",
    "ParameterError",
    "Pipeline",
    "PipelineParameter",
    "PipelineRun",
    "RunContext",
    "Status",
    "StepFailedError",
    "StepRun",
    "Workspace",
    "WorkspaceError",
    "component",
    "get_run_context",
    "parallel_run",
    "pipeline",
]
