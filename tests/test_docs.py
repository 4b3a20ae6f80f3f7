"""The documentation site builds offline with warnings as errors, and holds
what it promises: the chapter's notebook run with its figures, every command
of the CLI and every public name of the API."""

from __future__ import annotations

import argparse
import html
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nndl
from nndl.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The site, built as CI builds it, into a temporary folder; or the one
    ``NNDL_DOCS_SITE`` names, which CI builds as the README says, in an
    environment with only the docs extra."""
    if os.environ.get("NNDL_DOCS_SITE"):
        built = Path(os.environ["NNDL_DOCS_SITE"])
        assert (built / "index.html").is_file(), f"NNDL_DOCS_SITE={built} holds no built site"
        return built
    work = tmp_path_factory.mktemp("docs")
    # the notebook's kernel is the interpreter running the tests, whatever
    # kernels the machine has installed
    spec = work / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    # The notebook's outputs are kept between test runs (keyed by its cells),
    # so a second run builds in seconds; a fresh checkout runs it.
    pytest_cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    cache = pytest_cache.mkdir("docs-jupyter-cache") if pytest_cache else work / "cache"
    out = work / "html"
    command = [
        *(sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"),
        *("-d", str(work / "doctrees")),
        *("-D", "nb_execution_mode=cache", "-D", f"nb_execution_cache_path={cache}"),
        *(str(ROOT / "docs"), str(out)),
    ]
    env = {**os.environ, "JUPYTER_PATH": str(work / "jupyter")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, env=env)
    assert done.returncode == 0, f"the docs build failed:\n{done.stderr[-6000:]}"
    return out


def _text(page: Path) -> str:
    """A page's visible text, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8")))


@pytest.mark.slow
@pytest.mark.docs
def test_the_tutorial_is_the_notebook_run_with_its_figures(site: Path) -> None:
    page = site / "tutorial" / "chapter1.html"
    source = page.read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]*\ssrc="([^"]+)"', source)
    drawn = [s for s in images if s.startswith("data:image/") or (page.parent / s).resolve().is_file()]
    # step/sigmoid, digits, curves, weights, confusion, mistakes, rates, engines
    assert len(drawn) >= 8, images
    text = _text(page)
    epochs = re.findall(r"^Epoch (\d+): (\d+) / 10000 ", text, re.M)
    assert [int(e) for e, _ in epochs] == list(range(10)) + list(range(3))  # NumPy, then PyTensor
    assert int(epochs[9][1]) > 9300
    assert "NAND(1, 1) = 0" in text


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], list[str]]]:
    """Every command and sub-command of ``parser`` with its option strings."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                options = [s for a in sub._actions for s in a.option_strings if s not in ("-h", "--help")]
                found.append(((*path, name), options))
                found += _commands(sub, (*path, name))
    return found


@pytest.mark.slow
@pytest.mark.docs
def test_the_cli_reference_has_every_command_and_flag(site: Path) -> None:
    text = _text(site / "reference" / "cli.html")
    commands = _commands(build_parser())
    assert {path[0] for path, _ in commands} >= {"train", "evaluate", "plot", "predict", "serve", "sweep"}
    # each command's section starts with its usage line, "nndl plot digits [-h] ..."
    starts = [(m.group(1).split(), m.start()) for m in re.finditer(r"^nndl ((?:[a-z]+ )+)\[-h\]", text, re.M)]
    sections = {tuple(path): text[start:end] for (path, start), (_, end) in zip(starts, starts[1:] + [([], None)])}
    for path, options in commands:
        assert path in sections, f"no section for nndl {' '.join(path)}"
        missing = [o for o in options if o not in sections[path]]
        assert not missing, f"nndl {' '.join(path)}: {missing} not in its section"


@pytest.mark.slow
@pytest.mark.docs
def test_the_api_reference_has_every_public_name(site: Path) -> None:
    api = site / "reference" / "api"
    top = (api / "nndl.html").read_text(encoding="utf-8")
    for name in nndl.__all__:
        obj = getattr(nndl, name)
        anchor = f"{obj.__module__}.{obj.__qualname__}"
        page = api / f"{obj.__module__}.html"
        assert f'id="{anchor}"' in page.read_text(encoding="utf-8"), f"{name}: no {anchor} in {page.name}"
        assert f'href="{obj.__module__}.html#{anchor}"' in top, f"{name}: not linked from the nndl page"


def test_every_public_module_has_an_api_page() -> None:
    """Each module of the package (but the command line, whose reference is
    generated from its parser) has its page in the API reference, listed in
    the reference's table of contents."""
    pages = ROOT / "docs" / "reference" / "api"
    toc = (pages / "index.rst").read_text(encoding="utf-8").split()
    modules = [m.name for m in pkgutil.walk_packages(nndl.__path__, "nndl.")]
    public = [m for m in modules if not any(part.startswith("_") for part in m.split(".")) and m != "nndl.cli"]
    assert "nndl.network" in public and "nndl.bench.peers" in public
    for module in public:
        page = pages / f"{module}.rst"
        assert page.is_file(), f"{module} has no page in docs/reference/api"
        text = page.read_text(encoding="utf-8")
        assert f".. automodule:: {module}" in text, f"{page.name} does not document {module}"
        assert module in toc, f"{module} is not in docs/reference/api/index.rst"


@pytest.mark.slow
@pytest.mark.docs
@pytest.mark.browser
def test_the_chapter_widgets_work_from_disk_offline(site: Path) -> None:
    """The built chapter page opened from disk in Chromium, every request
    to anything but a file refused: the widgets draw, their functions are
    nndl's Python's, a slider moves the numbers as Python says, and nothing
    fails (no script error, no console error but the theme's) or is fetched
    from elsewhere."""
    from chapter_page import check_descent_functions, check_perceptron_functions, check_the_neuron_slider
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("needs Chromium (apt-get install chromium); CI installs it")
    page_file = site / "chapter.html"
    assert (site / "_static" / "chapter" / "perceptron.js").read_bytes() == (
        ROOT / "src" / "nndl" / "serve" / "web" / "chapter" / "perceptron.js"
    ).read_bytes()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            problems: list[str] = []

            def only_files(route) -> None:
                if route.request.url.startswith("file:"):
                    route.continue_()
                else:
                    problems.append(f"asked the network for {route.request.url}")
                    route.abort()

            context.route("**/*", only_files)
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(str(e)))
            # the theme's own script's messages are the whole site's business, not the widgets'
            theme = "/_static/scripts/pydata-sphinx-theme.js"
            page.on(
                "console", lambda m: m.type == "error" and theme not in m.location["url"] and problems.append(m.text)
            )
            page.goto(page_file.as_uri())
            page.wait_for_selector("[data-widget=minibatch] dd[data-key=cost20]")
            widgets = page.eval_on_selector_all(
                "[data-widget]", "els => els.map(e => e.classList.contains('nndl-widget'))"
            )
            assert len(widgets) == 9 and all(widgets)
            check_perceptron_functions(page)
            check_descent_functions(page)
            check_the_neuron_slider(page)
            assert problems == [], problems
        finally:
            browser.close()


# What a page needs to show, by tag: an outside address in any of these is
# a request the page makes as it loads (links a reader may follow are not).
_LOADED = re.compile(
    r"<(?:script|img|iframe|source|video|audio|embed|track)\b[^>]*\ssrc=[\"']([^\"']+)"
    r"|<link\b(?=[^>]*\srel=[\"'](?:stylesheet|icon|shortcut icon|preload|modulepreload|manifest)[\"'])"
    r"[^>]*\shref=[\"']([^\"']+)"
    r"|<object\b[^>]*\sdata=[\"']([^\"']+)",
    re.I,
)
_CSS_URL = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])([^\"')\s]+)", re.I)


def _outside(url: str) -> bool:
    return bool(re.match(r"(?i)(https?:)?//", url.strip()))


@pytest.mark.slow
@pytest.mark.docs
def test_no_page_asks_an_outside_host_for_what_it_shows(site: Path) -> None:
    """Scripts, styles, fonts, images and frames all come with the site, so
    it shows the same offline; links to other sites may stay."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    found = []
    for page in pages:
        for match in _LOADED.finditer(page.read_text(encoding="utf-8")):
            url = next(g for g in match.groups() if g)
            if _outside(url):
                found.append(f"{page.relative_to(site)}: {url}")
    for sheet in sorted(site.rglob("*.css")):
        found += [f"{sheet.relative_to(site)}: {u}" for u in _CSS_URL.findall(sheet.read_text("utf-8")) if _outside(u)]
    assert not found, "pages that fetch from outside:\n" + "\n".join(found[:20])
    # the scan sees what it looks for: the tutorial's figures and the theme's styles
    tutorial = (site / "tutorial" / "chapter1.html").read_text(encoding="utf-8")
    loaded = [next(g for g in m.groups() if g) for m in _LOADED.finditer(tutorial)]
    assert any(u.endswith(".png") for u in loaded) and any(".css" in u for u in loaded)
    assert "mathjax" not in " ".join(loaded).lower()


@pytest.mark.slow
@pytest.mark.docs
@pytest.mark.browser
def test_the_site_opened_from_disk_offline_shows_typeset_formulas(site: Path) -> None:
    """Every page opened in Chromium from the disk, every request to the
    network refused: nothing is refused (nothing was asked), no page logs an
    error, and the tutorial's formulas are typeset, each a MathML ``math``
    element the browser lays out with a size."""
    from test_browser import ARGS, CHROMIUM

    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip("needs Chromium (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    # the site's pages (not the theme's templates in _static), the highlighted
    # source pages represented by their index
    pages = [
        p
        for p in sorted(site.rglob("*.html"))
        if "_static" not in p.parts and ("_modules" not in p.parts or p.parent.name == "_modules")
    ]
    refused: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.route(re.compile(r"^(?!file:)"), lambda route: (refused.append(route.request.url), route.abort()))
            page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: {m.text}"))
            page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
            for path in pages:
                page.goto(path.as_uri(), wait_until="load")
                if path.name == "chapter1.html":
                    sizes = page.eval_on_selector_all(
                        "math", "ms => ms.map(m => [m.getBoundingClientRect().width, m.getBoundingClientRect().height])"
                    )
                    shown = page.eval_on_selector_all("div.math math", "ms => ms.length")
                    text = page.inner_text("main")
        finally:
            browser.close()
    assert not refused, f"requests outside the site: {refused[:10]}"
    assert not problems, problems[:10]
    assert len(sizes) >= 40 and shown >= 3, (len(sizes), shown)
    assert all(w > 0 and h > 0 for w, h in sizes), sizes
    assert "\\(" not in text and "\\begin" not in text and "$$" not in text  # no LaTeX left untypeset


@pytest.mark.slow
@pytest.mark.docs
def test_every_link_within_the_site_leads_to_a_file_and_every_sidebar_has_links(site: Path) -> None:
    """No page links to a page the build never wrote (as the source index once
    did to ``builtins.html``); each page has an icon; a section navigation
    shown in the left sidebar lists the section's pages."""
    broken, empty = [], []
    for page in sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts):
        source = page.read_text(encoding="utf-8")
        for url in re.findall(r'\s(?:href|src)="([^"#?]*)[^"]*"', source):
            if url and not re.match(r"(?i)[a-z][a-z0-9+.-]*:|//", url) and not (page.parent / url).exists():
                broken.append(f"{page.relative_to(site)}: {url}")
        if page.name not in ("search.html", "genindex.html") and not re.search(r'<link rel="icon" href="[^"]+', source):
            empty.append(f"{page.relative_to(site)}: no icon")
        nav = re.search(r'aria-label="Section Navigation">.*?bd-toc-item navbar-nav">(.*?)</div>', source, re.S)
        if nav and "<a " not in nav.group(1):
            empty.append(f"{page.relative_to(site)}: empty section navigation")
    assert not broken, broken[:20]
    assert not empty, empty[:20]


@pytest.mark.slow
@pytest.mark.docs
def test_each_modules_api_page_documents_its_classes_and_functions(site: Path) -> None:
    """Every public class and function is on its module's page (a module the
    build could not import, as ``nndl.sklearn`` once was, leaves its page
    empty)."""
    import importlib
    import inspect

    missing = []
    for info in pkgutil.walk_packages(nndl.__path__, "nndl."):
        name = info.name
        if any(part.startswith("_") for part in name.split(".")) or name == "nndl.cli":
            continue
        module = importlib.import_module(name)
        page = (site / "reference" / "api" / f"{name}.html").read_text(encoding="utf-8")
        for attr, obj in vars(module).items():
            own = (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", None) == name
            if own and not attr.startswith("_") and f'id="{name}.{attr}"' not in page:
                missing.append(f"{name}.{attr}")
    assert not missing, missing
