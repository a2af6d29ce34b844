#!/usr/bin/env bash
# The documentation site (docs/: the README's sections as pages, the API
# reference from the docstrings) builds with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet . sphinx numpydoc myst-parser
(cd "$work" && "$work/venv/bin/python" -m sphinx -W --keep-going -q -b html \
    "$OLDPWD/docs" "$work/html")
test -s "$work/html/api.html" && grep -q "dilation_rate" "$work/html/api.html"
echo "docs: built without warnings ($(ls "$work/html" | wc -l) entries)"
