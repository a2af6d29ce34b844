"""Sphinx configuration: the API reference (autodoc + numpydoc) and the
README's sections as pages (MyST).  CI builds it with warnings as errors:

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os

import sepconv

project = "sepconv"
author = "the sepconv developers"
copyright = "2026, the sepconv developers"
release = version = sepconv.__version__

extensions = ["sphinx.ext.autodoc", "numpydoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"


# The README, the benchmark results and the changelog become pages, with the
# README's repository-relative links pointing at the pages instead.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PAGES = {"guide.md": "README.md", "results.md": "bench/RESULTS.md",
          "changelog.md": "CHANGELOG.md"}
_LINKS = {"(docs/optimization.md)": "(../optimization.md)",
          "(bench/RESULTS.md)": "(results.md)",
          "(docs/roofline.png)": "(../roofline.png)"}


def _write_pages(app):
    folder = os.path.join(app.srcdir, "_generated")
    os.makedirs(folder, exist_ok=True)
    for page, source in _PAGES.items():
        with open(os.path.join(_ROOT, source), encoding="utf-8") as handle:
            text = handle.read()
        for old, new in _LINKS.items():
            text = text.replace(old, new)
        target = os.path.join(folder, page)
        if not os.path.exists(target) or open(target, encoding="utf-8").read() != text:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)


def setup(app):
    app.connect("builder-inited", _write_pages)
