"""Running a pipeline definition against a workspace: reuse decisions, state, workers, executors."""
