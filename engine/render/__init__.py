"""Pictures of pipelines: DAG drawings as text, Mermaid, dot and PNG."""
