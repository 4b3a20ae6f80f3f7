"""Formulas as MathML, written into the pages when they are built.

The browser typesets MathML itself (MathML Core), so a page shows its
formulas with no script and nothing fetched: the site works offline, as
nndl does. ``latex2mathml`` turns each formula's LaTeX into MathML; the
notebook's Markdown (``$...$``, ``$$...$$``), reStructuredText's
``:math:`` and ``.. math::`` all arrive here as Sphinx's math nodes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator


def _mathml(latex: str, display: str) -> str:
    return convert(latex.strip(), display=display)


def visit_math(self: HTML5Translator, node: nodes.math) -> None:
    self.body.append(self.starttag(node, "span", "", CLASS="math notranslate"))
    self.body.append(_mathml(node.astext(), "inline") + "</span>")
    raise nodes.SkipNode


def visit_math_block(self: HTML5Translator, node: nodes.math_block) -> None:
    self.body.append(self.starttag(node, "div", CLASS="math notranslate"))
    # Blank lines separate equations, as Sphinx's other renderers read them.
    for part in filter(str.strip, node.astext().split("\n\n")):
        self.body.append(_mathml(part, "block"))
    self.body.append("</div>\n")
    raise nodes.SkipNode


def _add_static(app: Sphinx) -> None:
    app.config.html_static_path.append(str(Path(__file__).with_name("static")))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_math_block, None))
    app.connect("builder-inited", _add_static)
    app.add_css_file("mathml.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
