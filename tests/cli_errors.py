"""The one shape every user error of the CLI must have, shared by the CLI and search tests."""


def assert_user_error(code: int, err: str, *needles: str) -> None:
    """Exit status 2 and exactly one line on stderr: `sldagent: error: ...`, no traceback."""
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sldagent: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
