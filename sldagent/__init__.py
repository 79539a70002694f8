"""sldagent: search symbolic scaling laws that extrapolate to the next, larger training run."""

__version__ = "0.1.0"
__all__ = ["FittedLaw", "ScalingLawSearch", "__version__"]


def __getattr__(name: str):
    """The Python API, imported on first use (the command line does not need it)."""
    if name == "ScalingLawSearch":
        from sldagent.api import ScalingLawSearch

        return ScalingLawSearch
    if name == "FittedLaw":
        from sldagent.fitted import FittedLaw

        return FittedLaw
    raise AttributeError(f"module 'sldagent' has no attribute {name!r}")
