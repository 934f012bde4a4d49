"""The prefect executor and the workspace's local Prefect server (the only code importing prefect)."""
