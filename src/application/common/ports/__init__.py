"""Cross-cutting ports, one module per capability: what the use cases of many contexts need.

A port that one context uses lives beside its use cases, in `application/<context>/ports.py`.
"""
