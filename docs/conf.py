"""Sphinx configuration for nndl's documentation.

Sphinx, because nndl's docstrings are numpydoc-style reStructuredText and
the libraries nndl sits among (NumPy, scikit-learn, matplotlib, PyTensor)
publish theirs with Sphinx and the PyData theme. Build and check, offline,
with warnings as errors::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The nndl beside these docs, installed or not, for the API reference and for
# the kernel that runs the chapter's notebook.
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(DOCS / "_ext"))  # this site's own Sphinx extensions
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))

import nndl  # noqa: E402

project = "nndl"
author = "nndl contributors"
copyright = "nndl contributors"
version = release = nndl.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "mathml",  # formulas typeset by the browser, nothing fetched (docs/_ext/mathml.py)
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
    "myst_nb",
]

smartquotes = False  # "--eta" in the command-line reference stays two hyphens
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
suppress_warnings: list[str] = []

# -- cross-references --------------------------------------------------------

# Every reference to nndl must resolve; the build is offline, so names from
# the Python standard library and third-party packages cannot be looked up
# (no intersphinx) and are shown as plain text.
nitpicky = True
_EXTERNAL = (
    r"(numpy|np|numpy\.typing|npt|matplotlib|pathlib|os|io|typing|collections|argparse|gzip|threading"
    r"|starlette|uvicorn|torch|pytensor|sklearn|joblib|dask|distributed|tqdm|PIL|concurrent|enum"
    r"|contextlib|signal|types|datetime|json|socket|zipfile|ndarray|asyncio)(\..*)?"
)
nitpick_ignore_regex = [
    (r"py:(class|obj|data|exc|func|meth|attr|mod)", _EXTERNAL),
    # builtins and typing names as autodoc writes them in signatures
    (r"py:(class|obj|data)", r"(Any|Callable|Iterator|Iterable|Sequence|Mapping|Path|NDArray|ArrayLike|DTypeLike)"),
    (r"py:(class|obj|data)", r"(IO|BinaryIO|TextIO|Literal|Self|ClassVar|Generator|PathLike|Figure|Axes|H11Protocol)"),
    (r"py:(class|obj|data)", r"(SharedVariable|TensorVariable)"),  # PyTensor's, in a dataclass field
    # Starlette's, in the server's signatures (imported for type checking only), and a type variable
    (r"py:(class|obj|data)", r"(ASGIApp|Scope|Receive|Send|Request|Response|JSONResponse|nndl\.serve\.routes\.T)"),
]

# -- API reference -----------------------------------------------------------

autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "show-inheritance": True,
    # each object once, where it is defined, though a module's __all__ re-exports it
    "ignore-module-all": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_type_aliases = {"np.typing.DTypeLike": "numpy.typing.DTypeLike", "npt.DTypeLike": "numpy.typing.DTypeLike"}
autosummary_generate = False
python_use_unqualified_type_names = True
numpydoc_show_class_members = False  # autodoc lists the members, each once
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False  # "tuple of int, default=(30,)" is prose, not a class name


def _top_level_names() -> str:
    """A table of ``nndl.__all__``, each name linked to where it is defined."""
    lines = ["", ".. autosummary::", "   :nosignatures:", ""]
    for name in sorted(nndl.__all__, key=str.lower):
        obj = getattr(nndl, name)
        lines.append(f"   ~{obj.__module__}.{obj.__qualname__}")
    return "\n".join(lines) + "\n"


def _source_read(app, docname: str, source: list[str]) -> None:
    if docname == "reference/api/nndl":
        source[0] = source[0].replace(".. nndl-all::", _top_level_names())
    elif docname == "guide/security":
        policy = ROOT / "SECURITY.md"
        if policy.is_file():
            app.env.note_dependency(str(policy))  # rebuilt when the policy changes
            source[0] += "\n\n" + _as_section(policy.read_text(encoding="utf-8"))


def _as_section(markdown: str) -> str:
    """A Markdown file from the repository's root as part of a page: headings
    one level down, and links to the repository's files (which are not pages
    here) shown as their paths."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            line = re.sub(r"^(#{1,5}) ", r"#\1 ", line)
            line = re.sub(r"\[([^\]]+)\]\((?!https?:|mailto:)([^)#\s]*)(#[^)\s]*)?\)", _path_not_link, line)
        out.append(line)
    return "\n".join(out) + "\n"


def _path_not_link(match: re.Match) -> str:
    text, path = match.group(1), match.group(2)
    if not path:  # an anchor in the same file: its text
        return text
    return f"`{path}`" if text.strip("`") == path else f"{text} (`{path}`)"


def _resolve_short_names(app, env, node, contnode):
    """Let a docstring name an nndl object by its last part (``DataError``,
    ``TrainConfig``), as Python code imports it: Sphinx then looks for the
    one object whose full name ends so, nearest to where it is named first.
    Two candidates still fail the build, with a warning naming both."""
    if node.get("refdomain") != "py" or node.get("refspecific") or node["reftarget"].startswith(("~", ".")):
        return None
    node["refspecific"] = True
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], node["reftarget"], node, contnode)


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out what scikit-learn attaches to every estimator (``set_fit_request``, ...)."""
    module = getattr(obj, "__module__", None) or ""
    if what == "class" and module.startswith("sklearn."):
        return True
    return None


def _factory_defaults(app, what, name, obj, options, signature, return_annotation):
    """A dataclass field's ``default_factory`` shows as ``<factory>``, which is
    not Python, so the signature could not be parsed: show ``...`` instead."""
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), return_annotation
    return None


#: The chapter page's widgets: the very files ``nndl serve`` serves, copied
#: into the site as ``_static/chapter/`` for docs/chapter.md (one source).
CHAPTER_WIDGETS = ROOT / "src" / "nndl" / "serve" / "web" / "chapter"


def _copy_widgets(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        shutil.copytree(CHAPTER_WIDGETS, Path(app.outdir) / "_static" / "chapter", dirs_exist_ok=True)


def _drop_modules_without_source(app) -> list:
    """viewcode's index of source pages also lists the modules it found no
    source for (``builtins``), linking to pages it never writes: forget them
    before it writes the index."""
    modules = getattr(app.env, "_viewcode_modules", {})
    for name in [name for name, entry in modules.items() if entry is False]:
        del modules[name]
    return []


def setup(app) -> None:
    app.connect("build-finished", _copy_widgets)
    app.connect("html-collect-pages", _drop_modules_without_source, priority=400)
    app.connect("autodoc-process-signature", _factory_defaults)
    app.connect("source-read", _source_read)
    app.connect("missing-reference", _resolve_short_names)
    app.connect("autodoc-skip-member", _skip_foreign_members)


# -- notebooks ---------------------------------------------------------------

# The chapter's notebook is stored without outputs and run on every build, so
# the pages show what this version of nndl computes.
nb_execution_mode = "force"
nb_execution_timeout = 600  # seconds per cell; the whole notebook takes about a minute
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_math_renderer = "mathml"
html_favicon = "images/favicon.svg"
html_context = {"default_mode": "auto"}  # light or dark as the reader's system is
html_title = f"nndl {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
# Pages with no pages under them have no section to navigate: no left sidebar.
html_sidebars = {page: [] for page in ("index", "getting-started", "reference/cli", "contributing")}
html_show_sourcelink = False
html_sidebars = {"chapter": []}  # the widgets get the page's width
html_last_updated_fmt = None
