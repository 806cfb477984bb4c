"""Count the calls of a function while a test runs (to show what a resumed run redid)."""


def count_calls(monkeypatch, owner, name):
    """Wrap ``owner.name`` for the test; return the list its calls' arguments go to."""
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls
