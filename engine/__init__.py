"""headrace.engine: typed components, @pipeline DAGs, PipelineParameters, runs and run history."""

from .component import Component, component
from .context import RunContext, get_run_context
from .errors import (
    ArtifactError,
    DefinitionError,
    HeadraceError,
    ParameterError,
    StepFailedError,
    WorkspaceError,
)
from .pipeline import Pipeline, PipelineParameter, pipeline
from .run import Artifact, PipelineRun, StepRun
from .status import Status
from .workspace import Workspace

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
    "pipeline",
]
