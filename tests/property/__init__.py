"""Property-based tests: random and mutated input must give a clear error, never a crash.

A package (unlike the other test folders) so that its ``conftest.py`` is imported as
``property.conftest`` and does not replace ``tests/conftest.py`` as the module ``conftest``
that other test modules import helpers from.
"""
