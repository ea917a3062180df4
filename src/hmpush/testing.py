"""pytest plugin (entry point `pytest11: hmpush`): fixtures for the local Push server.

Importing this module must stay cheap: heavy imports happen inside the fixtures.
"""

from __future__ import annotations
