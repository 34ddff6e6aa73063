"""The executability suite run by ``octractl eval``: one folder per task, each
with ``task.toml`` (what a user would ask) and ``accept/`` (the acceptance
script the model never sees), shipped as package data (``octra_eval``)."""
