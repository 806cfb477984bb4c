"""Sphinx configuration: API reference (autodoc + numpydoc) and the example gallery.

Build from the repository root (no network needed)::

    NIMARE_STABILITY_DOCS_ITERS=100 python -m sphinx -b html docs docs/_build/html

``NIMARE_STABILITY_DOCS_ITERS`` sets the Monte Carlo iterations of every example; leave it
unset for the examples' own (paper-like) defaults. Any example that raises fails the build.
"""

import os
import sys
from importlib.metadata import version as _version

sys.path.insert(0, os.path.abspath("."))  # for _gallery
# sphinx-gallery captures stderr: no progress bars in the example pages. Set before tqdm
# is imported (the examples import it, here and in sphinx-gallery's worker processes).
os.environ.setdefault("TQDM_DISABLE", "1")

project = "nimare-stability"
author = "nimare-stability developers"
copyright = "nimare-stability developers"
release = _version("nimare-stability")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "sphinxcontrib.bibtex",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
root_doc = "index"

# -- API reference -------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# The docstrings cite with :footcite: (as NiMARE's do), from the package's references.
bibtex_bibfiles = ["../nimare_stability/references.bib"]
bibtex_reference_style = "author_year"
bibtex_default_style = "plain"

# -- Example gallery -----------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # Execute every plot_*.py; a failing example fails the build (after all have run).
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": "True",
    "run_stale_examples": True,  # re-run even when an example's file is unchanged
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "within_subsection_order": "_gallery.StoryOrder",
    # Run examples two at a time (CI has two cores; each example runs on one).
    "parallel": min(2, os.cpu_count() or 1),
    # "Examples using ..." under each API entry; links from example code to the API.
    "doc_module": ("nimare_stability",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"nimare_stability": None},
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "_gallery.quiet_logs", "_gallery.frozen_heap"),
    "capture_repr": ("_repr_html_", "__repr__"),
    # A cell ending in a plotting call shows its figure, not "<Figure size ...>".
    "ignore_repr_types": r"matplotlib\.(figure|axes|text|legend)|nilearn\.plotting",
    "min_reported_time": 0,
    "show_memory": False,
    "remove_config_comments": True,
}

# -- HTML ----------------------------------------------------------------------------------
html_theme = "alabaster"
html_theme_options = {
    "description": "Resampling stability diagnostics for NiMARE meta-analyses",
    "fixed_sidebar": True,
    "page_width": "1280px",
    "sidebar_width": "230px",
    "body_max_width": "none",
}
html_static_path = []
html_show_sourcelink = False
