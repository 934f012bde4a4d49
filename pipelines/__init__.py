"""headrace.pipelines."""
