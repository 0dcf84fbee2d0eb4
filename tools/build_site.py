"""Build the course site with Jupyter Book 1 (`make site`): notebooks/ -> site/, offline.

    python tools/build_site.py                    # -> site/index.html
    python tools/build_site.py --output-dir DIR   # somewhere else (the tests use a temporary dir)

What it does:
- gathers book/ (_config.yml, the landing page intro.md, a small Sphinx extension in _ext/)
  and every notebooks/NN_*.ipynb into a staging folder, build/book/;
- writes the table of contents (build/book/_toc.yml) from the notebooks it finds, in number
  order, so a new notebook is on the site without anyone editing a list. It stops with an
  error when the numbers have a gap or a repeat, or when notebooks/ holds a notebook not named
  NN_name.ipynb: a notebook is never left out silently;
- runs `jupyter-book build` on it: the notebooks are shown with their stored outputs (nothing is
  executed), with warnings as errors (a link to a missing page fails the build);
- copies the HTML to the output folder and keeps only the parts of MathJax 3 a reader can use
  (sphinx-mathjax-offline ships MathJax whole, SVG and MathML builds included).

Nothing is fetched at build time, and the pages load nothing from the network: MathJax, the
theme, its fonts and the search index are files of the site. tools/check_site.py opens every
page in a browser and checks that.
"""

import argparse
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
NOTEBOOK_NAME = re.compile(r"(?P<number>\d{2})_[A-Za-z0-9_]+\.ipynb")

# MathJax files the pages never load: the other combined builds, the Node.js entry point, and
# latest.js, whose only job is to fetch MathJax from a CDN. Kept: tex-chtml.js (what the pages
# load) and the components it loads on demand (TeX extensions, fonts, menu, accessibility).
MATHJAX_UNUSED = ("latest.js", "node-main.js", "tex-chtml-full.js", "tex-chtml-full-speech.js",
                  "tex-mml-chtml.js", "tex-mml-svg.js", "tex-svg.js", "tex-svg-full.js",
                  "mml-chtml.js", "mml-svg.js")


def course_notebooks(notebook_dir: pathlib.Path) -> list[pathlib.Path]:
    """notebooks/NN_*.ipynb in order; ValueError unless they are numbered 01, 02, ... without gaps.

    Every .ipynb in the folder must follow the pattern: a notebook named otherwise would not be
    on the site, and nobody would notice.
    """
    found = sorted(notebook_dir.glob("*.ipynb"))
    if not found:
        raise ValueError(f"no notebooks (NN_*.ipynb) found in {notebook_dir}")
    misnamed = [p.name for p in found if not NOTEBOOK_NAME.fullmatch(p.name)]
    if misnamed:
        raise ValueError(
            f"{notebook_dir} holds notebooks not named NN_name.ipynb, which the site would leave "
            f"out: {', '.join(misnamed)}. Number them or move them out of the folder.")
    numbers = [int(NOTEBOOK_NAME.fullmatch(p.name)["number"]) for p in found]
    expected = list(range(1, len(found) + 1))
    if numbers != expected:
        raise ValueError(
            f"notebook numbers must run 01, 02, ... without gaps or repeats; found "
            f"{', '.join(p.name for p in found)}")
    return found


def toc_yaml(notebooks: list[pathlib.Path]) -> str:
    """_toc.yml: the landing page, then every notebook in course order."""
    chapters = "\n".join(f"      - file: {p.stem}" for p in notebooks)
    return ("# Written by tools/build_site.py from notebooks/NN_*.ipynb: do not edit.\n"
            "format: jb-book\nroot: intro\nparts:\n"
            "  - caption: The course\n    chapters:\n" + chapters + "\n")


def stage(notebook_dir: pathlib.Path, staging: pathlib.Path) -> list[pathlib.Path]:
    """Fill staging with the book's sources; return the notebooks, in order."""
    notebooks = course_notebooks(notebook_dir)
    if staging.exists():
        shutil.rmtree(staging)
    # book/: _config.yml, the landing page intro.md, and _ext/ (a small Sphinx extension)
    shutil.copytree(BOOK, staging, ignore=shutil.ignore_patterns("_toc.yml", "_build",
                                                                 "__pycache__"))
    for path in notebooks:
        shutil.copy2(path, staging / path.name)
    (staging / "_toc.yml").write_text(toc_yaml(notebooks), encoding="utf-8")
    return notebooks


def jupyter_book_command() -> list[str]:
    # the interpreter running this script: its environment holds jupyter-book
    return [sys.executable, "-c", "from jupyter_book.cli.main import main; main()"]


def prune_mathjax(site: pathlib.Path) -> None:
    mathjax = site / "_static" / "mathjax"
    if not (mathjax / "tex-chtml.js").is_file():
        raise RuntimeError(f"MathJax 3 was not copied into {mathjax}: is sphinx-mathjax-offline "
                           "installed?")
    for name in MATHJAX_UNUSED:
        (mathjax / name).unlink(missing_ok=True)
    # SVG output is what the MathJax menu offers besides CommonHTML: keep its code, not the
    # copies of it under other names


def build(notebook_dir: pathlib.Path, output_dir: pathlib.Path,
          staging: pathlib.Path | None = None, quiet: bool = True) -> list[pathlib.Path]:
    """Build the site into output_dir (replacing it); return the notebook pages, in order."""
    staging = staging or output_dir.parent / (output_dir.name + "-book-src")
    notebooks = stage(notebook_dir, staging)
    command = jupyter_book_command() + [
        "build", str(staging), "--path-output", str(staging), "--builder", "html", "--all",
        "-W", "--keep-going"]
    if quiet:
        command.append("-q")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # Sphinx colours its warnings even into a pipe
        log = ANSI_COLOUR.sub("", result.stdout[-4000:] + result.stderr[-4000:])
        raise RuntimeError("jupyter-book build failed:\n" + log)
    html = staging / "_build" / "html"
    if output_dir.exists():
        shutil.rmtree(output_dir)
    shutil.copytree(html, output_dir)
    prune_mathjax(output_dir)
    pages = [output_dir / f"{p.stem}.html" for p in notebooks]
    missing = [p.name for p in pages if not p.is_file()]
    if missing:
        raise RuntimeError(f"jupyter-book wrote no page for {', '.join(missing)}")
    return pages


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=pathlib.Path, default=ROOT / "notebooks",
                        help="folder holding the course notebooks (default: notebooks/)")
    parser.add_argument("--output-dir", type=pathlib.Path, default=ROOT / "site",
                        help="where to write the site (default: site/)")
    parser.add_argument("--staging", type=pathlib.Path, default=ROOT / "build" / "book",
                        help="where the book's sources are gathered (default: build/book/)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        pages = build(args.notebooks, args.output_dir, args.staging, quiet=not args.verbose)
    except (ValueError, RuntimeError) as exc:
        print(f"build_site: {exc}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in args.output_dir.rglob("*") if p.is_file())
    print(f"built {len(pages)} notebook pages and the landing page into {args.output_dir} "
          f"in {time.perf_counter() - start:.1f} s ({size / 1e6:.1f} MB); "
          f"open {args.output_dir / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
