"""Render the course to static HTML, for reading without a kernel (`make html`).

    python tools/build_html.py                    # notebooks/ -> site/
    python tools/build_html.py --output-dir DIR   # somewhere else (the tests use a temporary dir)

Every notebooks/NN_*.ipynb becomes NN_*.html as stored (the notebooks are kept executed, so
nothing is re-run and no kernel is needed), figures embedded as PNG data. Links between
notebooks (`[next](08_through_time.ipynb)`) are rewritten to the .html pages, and index.html
lists the notebooks in order with the title of each (its first `# ` heading).
Offline, at build time and when reading: MathJax, which typesets the LaTeX, is copied from the
jupyter-server-mathjax package into site/mathjax/, and the pages load it from there rather than
from a CDN. RequireJS, which the template adds for widgets, is left out: the course has none.
"""

import argparse
import html
import pathlib
import re
import shutil
import sys

import jupyter_server_mathjax
import nbformat
from nbconvert import HTMLExporter

ROOT = pathlib.Path(__file__).resolve().parent.parent

# href="03_gates.ipynb" or href="03_gates.ipynb#section": a link to a sibling notebook
_NOTEBOOK_LINK = re.compile(r'href="(?P<name>[0-9][^"/#]*)\.ipynb(?P<anchor>#[^"]*)?"')


def notebook_paths(notebook_dir: pathlib.Path) -> list[pathlib.Path]:
    """The course notebooks, in order: the files whose name starts with a digit, sorted."""
    return sorted(notebook_dir.glob("[0-9]*.ipynb"))


def title_of(nb) -> str:
    """The text of the first level-1 markdown heading, or '' when there is none."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return ""


MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
_REQUIRE_JS = re.compile(r'<script src="[^"]*require(\.min)?\.js"></script>\n?')


def copy_mathjax(output_dir: pathlib.Path) -> None:
    """MathJax 2 (what nbconvert's template expects) into output_dir/mathjax."""
    static = pathlib.Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(static, output_dir / "mathjax", dirs_exist_ok=True)


def _link_pages(body: str) -> str:
    return _NOTEBOOK_LINK.sub(
        lambda m: f'href="{m["name"]}.html{m["anchor"] or ""}"', body)


def render_index(entries: list[tuple[str, str]]) -> str:
    """index.html for [(page file name, title), ...] in course order (titles carry their number)."""
    items = "\n".join(
        f'    <li><a href="{html.escape(page)}">{html.escape(title)}</a></li>'
        for page, title in entries
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>lstm-teach: the LSTM and backpropagation through time</title>
  <style>
    body {{ font-family: sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.5; }}
    ul {{ list-style: none; padding-left: 0; }}
    li {{ margin: 0.3em 0; }}
  </style>
</head>
<body>
  <h1>lstm-teach: the LSTM and backpropagation through time</h1>
  <p>The course notebooks, rendered with their stored outputs. To run and change them,
  open the notebooks in Jupyter (<code>make lab</code>).</p>
  <ul>
{items}
  </ul>
</body>
</html>
"""


def build(notebook_dir: pathlib.Path, output_dir: pathlib.Path) -> list[pathlib.Path]:
    """Write one page per notebook and index.html into output_dir; return the pages written."""
    paths = notebook_paths(notebook_dir)
    if not paths:
        raise ValueError(f"no notebooks (NN_*.ipynb) found in {notebook_dir}")
    output_dir.mkdir(parents=True, exist_ok=True)
    copy_mathjax(output_dir)
    # the default template: stored outputs, no execution
    exporter = HTMLExporter(mathjax_url=MATHJAX_URL)
    entries = []
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        page = output_dir / f"{path.stem}.html"
        page.write_text(_link_pages(_REQUIRE_JS.sub("", body)), encoding="utf-8")
        entries.append((page.name, title_of(nb) or path.stem))
        written.append(page)
    index = output_dir / "index.html"
    index.write_text(render_index(entries), encoding="utf-8")
    written.append(index)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=pathlib.Path, default=ROOT / "notebooks",
                        help="folder holding the course notebooks (default: notebooks/)")
    parser.add_argument("--output-dir", type=pathlib.Path, default=ROOT / "site",
                        help="where to write the HTML (default: site/)")
    args = parser.parse_args(argv)
    try:
        written = build(args.notebooks, args.output_dir)
    except ValueError as exc:
        print(f"build_html: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written) - 1} notebook pages and index.html to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
