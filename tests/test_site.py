"""tools/build_site.py (`make site`): the course as a Jupyter Book that reads offline.

Static facts about the built HTML; tools/check_site.py (`make check-site`) opens the pages in
a browser and checks what MathJax actually renders.
"""

import importlib.util
import json
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "build_site.py"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# what a page loads: <script src>, <link href> (stylesheets, preloads, icons), <img>, <iframe>
_LOADS = re.compile(r'<(script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)="([^"]*)"')
_INLINE_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.S)


def _load_build_site():
    spec = importlib.util.spec_from_file_location("build_site", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_notebook(path: pathlib.Path, markdown: str) -> None:
    nb = {"cells": [{"cell_type": "markdown", "id": "c1", "metadata": {}, "source": markdown}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")


def _pages(site: pathlib.Path) -> list[pathlib.Path]:
    return [p for p in site.rglob("*.html") if not {"_static", "_sources"} & set(p.parts)]


def _sidebar_links(page: str) -> list[str]:
    nav = re.search(r'<nav class="bd-links bd-docs-nav".*?</nav>', page, re.S)
    assert nav, "no sidebar"
    return re.findall(r'<a class="(?:current )?reference internal" href="([^"]*)"', nav[0])


def _neighbour(page: str, side: str) -> str | None:
    link = re.search(rf'<a class="{side}"\s+href="([^"#]*)', page)
    return link[1] if link else None


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    """The course built once for this module, with the command `make site` runs."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--output-dir", str(out), "--staging",
         str(out.parent / "book")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_every_notebook_has_a_page_in_the_sidebar_and_in_reading_order(site):
    assert NOTEBOOKS, "the course has no notebooks in notebooks/"
    order = ["intro.html"] + [f"{nb.stem}.html" for nb in NOTEBOOKS]
    for name in order:
        assert (site / name).is_file(), f"no page for {name}"
    assert "intro.html" in (site / "index.html").read_text(encoding="utf-8")  # the redirect
    for k, name in enumerate(order):
        page = (site / name).read_text(encoding="utf-8")
        # the sidebar links the page it is on as "#"
        linked = [name if href == "#" else href for href in _sidebar_links(page)]
        assert [h for h in linked if h != "intro.html"] == order[1:], name
        assert 'class="search-button' in page, f"{name} has no search box"
        assert _neighbour(page, "left-prev") == (order[k - 1] if k else None), name
        assert _neighbour(page, "right-next") == (order[k + 1] if k + 1 < len(order)
                                                   else None), name
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()
    # the stored outputs are shown (nothing re-run): the figures are there
    assert list((site / "_images").glob("*.png"))


def test_pages_load_nothing_from_other_hosts(site):
    offenders = []
    for page_path in _pages(site):
        page = page_path.read_text(encoding="utf-8")
        loads = _LOADS.findall(page)
        if page_path.name != "index.html":  # a redirect to intro.html
            assert loads, f"{page_path.name}: loads nothing; is the pattern stale?"
        offenders += [f"{page_path.name}: <{tag} {url}>" for tag, url in loads
                      if url.startswith(("http:", "https:", "//"))]
        offenders += [f"{page_path.name}: inline script names {m[0]}"
                      for body in _INLINE_SCRIPT.findall(page)
                      for m in re.finditer(r"(https?:)?//[\w.-]+\.\w+/", body)]
    for css in (site / "_static").rglob("*.css"):
        offenders += [f"{css.name}: {m[0]}" for m in
                      re.finditer(r"url\(\s*['\"]?(https?:)?//[^)]*\)|@import\s+['\"]?https?:",
                                  css.read_text(encoding="utf-8", errors="replace"))]
    assert not offenders, offenders


def test_every_page_loads_mathjax_3_from_the_site(site):
    """Every page, not only those with formulas in the text: the sidebar's titles have some."""
    for page_path in _pages(site):
        if page_path.name == "index.html":  # a redirect to intro.html
            continue
        page = page_path.read_text(encoding="utf-8")
        mathjax = [url for tag, url in _LOADS.findall(page) if tag == "script"
                   and "mathjax" in url.lower()]
        assert len(mathjax) == 1, f"{page_path.name} loads MathJax {mathjax}"
        script = page_path.parent / mathjax[0].split("?")[0]
        assert script.is_file(), f"{page_path.name} points to missing {mathjax[0]}"
        assert 'VERSION="3.' in script.read_text(encoding="utf-8"), "not MathJax 3"
    fonts = site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("MathJax_*.woff"))) > 10  # the TeX fonts, primes included
    assert not (site / "_static" / "mathjax" / "latest.js").exists()  # it fetches from a CDN


def test_the_table_of_contents_takes_every_numbered_notebook_in_order(tmp_path):
    build_site = _load_build_site()
    for name in ("02_second.ipynb", "01_first.ipynb", "10_tenth.ipynb"):
        _write_notebook(tmp_path / name, "# x")
    with pytest.raises(ValueError, match="without gaps"):  # 03 to 09 are missing
        build_site.course_notebooks(tmp_path)
    for k in range(3, 10):
        _write_notebook(tmp_path / f"{k:02d}_n.ipynb", "# x")
    notebooks = build_site.course_notebooks(tmp_path)
    assert [p.name[:2] for p in notebooks] == [f"{k:02d}" for k in range(1, 11)]
    toc = build_site.toc_yaml(notebooks)
    assert re.findall(r"- file: (\S+)", toc) == [p.stem for p in notebooks]
    _write_notebook(tmp_path / "scratch.ipynb", "# x")
    with pytest.raises(ValueError, match="scratch.ipynb"):  # it would be left out silently
        build_site.course_notebooks(tmp_path)


def test_no_notebooks_or_a_link_to_a_missing_page_fails_the_build(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--notebooks", str(tmp_path), "--output-dir",
         str(tmp_path / "site"), "--staging", str(tmp_path / "book")],
        capture_output=True, text=True)
    assert result.returncode == 1 and "no notebooks" in result.stderr
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    _write_notebook(notebooks / "01_only.ipynb",
                    "# One\n\n$x$. Next: [two](02_missing.ipynb)")
    with pytest.raises(RuntimeError, match="02_missing"):
        _load_build_site().build(notebooks, tmp_path / "site", tmp_path / "book")
    assert not (tmp_path / "site").exists()  # no half-built site left behind
