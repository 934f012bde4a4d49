"""headrace.engine: typed components, @pipeline DAGs, PipelineParameters, runs and run history."""

from .definitions.component import Component, component
from .definitions.loader import observe_file_specs as _observe_file_specs
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
from .fingerprint.loads import track as _track_module_load
from .fingerprint.loads import watch as _watch_module_loads
from .parallel import parallel_run
from .status import Status
from .store.runs import Artifact, PipelineRun, StepRun
from .store.workspace import Workspace

_observe_file_specs(_track_module_load)  # pipeline files loaded by path, too
_watch_module_loads()  # from now on, a module edited after its import is known to be

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
