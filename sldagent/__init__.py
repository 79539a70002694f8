"""sldagent: search symbolic scaling laws that extrapolate to the next, larger training run."""

__version__ = "0.1.0"
