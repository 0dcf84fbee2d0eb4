"""tools/build_html.py (`make html`): one page per notebook, an index, links that resolve."""

import html.parser
import importlib.util
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "build_html.py"


def _load_build_html():
    spec = importlib.util.spec_from_file_location("build_html", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def _hrefs(page: pathlib.Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.hrefs


def _local(hrefs):
    """Links to files beside the page (not anchors, not web addresses)."""
    return [h.split("#")[0] for h in hrefs if not h.startswith(("#", "http:", "https:", "mailto:"))
            and h.split("#")[0]]


def _write_notebook(path, title, text, code="x = 1 + 1\nprint(x)"):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code, execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="2\n")]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n{text}"), cell]
    nbformat.write(nb, path)


def test_small_course_builds_with_titles_order_and_rewritten_links(tmp_path):
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    _write_notebook(notebooks / "02_second.ipynb", "Second & last",
                    "Back to [one](01_first.ipynb).")
    _write_notebook(notebooks / "01_first.ipynb", "First one",
                    "Next: [two](02_second.ipynb#top), or [the web](https://example.org/a.ipynb).")
    (notebooks / "scratch.ipynb").write_text((notebooks / "01_first.ipynb").read_text())
    out = tmp_path / "site"
    build_html = _load_build_html()
    written = build_html.build(notebooks, out)

    expected = ["01_first.html", "02_second.html", "index.html"]
    assert sorted(p.name for p in out.iterdir() if p.name != "mathjax") == expected
    assert [p.name for p in written] == expected
    index = (out / "index.html").read_text()
    assert _hrefs(out / "index.html") == ["01_first.html", "02_second.html"]
    assert "First one" in index and "Second &amp; last" in index
    first = _hrefs(out / "01_first.html")
    assert "02_second.html#top" in first
    assert "https://example.org/a.ipynb" in first  # only links to sibling notebooks change
    assert "01_first.html" in _hrefs(out / "02_second.html")
    page = (out / "01_first.html").read_text()
    assert "<pre>2" in page.replace("\n", "") or ">2\n</pre>" in page  # the stored output is shown


def test_empty_notebook_folder_is_an_error(tmp_path):
    build_html = _load_build_html()
    with pytest.raises(ValueError, match="no notebooks"):
        build_html.build(tmp_path, tmp_path / "site")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--notebooks", str(tmp_path), "--output-dir",
         str(tmp_path / "site")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "no notebooks" in result.stderr


def test_the_course_renders_with_index_and_working_links(tmp_path):
    notebooks = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    assert notebooks, "the course has no notebooks in notebooks/"
    out = tmp_path / "site"
    result = subprocess.run([sys.executable, str(SCRIPT), "--output-dir", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr

    pages = [out / f"{nb.stem}.html" for nb in notebooks]
    for page in pages:
        assert page.is_file(), f"{page.name} was not written"
    index_links = _hrefs(out / "index.html")
    assert index_links == [page.name for page in pages]  # every notebook, in course order

    for page in pages:
        for href in _local(_hrefs(page)):
            sibling = "/" not in href
            assert not (sibling and href.endswith(".ipynb")), f"{page.name} still links to {href}"
            if href.endswith(".html"):
                assert (out / href).is_file(), f"{page.name} links to missing {href}"


def test_pages_load_nothing_from_the_network(tmp_path):
    """MathJax is copied beside the pages; no script or style comes from a CDN."""
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    _write_notebook(notebooks / "01_maths.ipynb", "Maths", "The loss $E = \\frac12 (h - y)^2$.")
    out = tmp_path / "site"
    _load_build_html().build(notebooks, out)
    page = (out / "01_maths.html").read_text()
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    mathjax = [s for s in sources if "MathJax.js" in s]
    assert mathjax and (out / mathjax[0].split("?")[0]).is_file()
