"""Integrations with other libraries; each submodule imports its library lazily and says how to install it."""
