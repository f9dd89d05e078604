"""An interactive agent that uses Python functions as tools, against any OpenAI-compatible
endpoint (the gateway by default). Run it with `python -m contrib.agent` or `make agent`."""

from contrib.agent.loop import Agent, AgentResult
from contrib.agent.toolbox import Toolbox, function_tool

__all__ = ["Agent", "AgentResult", "Toolbox", "function_tool"]
