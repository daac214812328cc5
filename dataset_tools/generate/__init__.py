"""``python -m dataset_tools generate``: GRASP's generation step (LLM item descriptions from attributes)."""
