"""Blueprints: thin request handlers over :mod:`respondr.domain`."""
