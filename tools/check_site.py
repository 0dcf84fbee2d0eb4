"""Open every page of the built site in a real browser, offline, and check what a reader sees.

    python tools/check_site.py                          # checks site/ (build it first)
    python tools/check_site.py --site DIR --screenshot page.png

The site is served on 127.0.0.1 and opened in Chromium (Debian's /usr/bin/chromium, driven by
playwright). Every request that is not to that local server is blocked and counted. On each
page, once MathJax has finished typesetting, it checks:
- every formula rendered: each Sphinx math element holds a MathJax container, no MathJax error
  (no mjx-merror element, no "Math Processing Error"), no $...\\macro...$ left as plain text;
- no external request, no local file missing (404), no uncaught JavaScript error;
- the sidebar lists every notebook; the search box is there; the previous and next links follow
  the course order (landing page, 01, 02, ...).
It also runs one search on search.html and checks that it finds notebook pages, and that every
notebooks/NN_*.ipynb has its page. Prints a summary; exits 1 on any failure.
"""

import argparse
import functools
import http.server
import pathlib
import re
import sys
import tempfile
import threading
import urllib.parse

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
SEARCH_WORD = "forget"  # a word every reader of the course meets; it must find pages

# Everything the page shows about its formulas, sidebar, search box and neighbours, in one call.
PAGE_FACTS_JS = r"""
() => {
  const maths = [...document.querySelectorAll('.math')];
  const leftover = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skip = 'pre, code, script, style, .math, mjx-container, .highlight';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement && node.parentElement.closest(skip)) continue;
    const m = node.textContent.match(/\$[^$]*\\[A-Za-z]+[^$]*\$/);
    if (m) leftover.push(m[0].slice(0, 60));
  }
  const href = (a) => a ? a.getAttribute('href') : null;
  const sidebar = document.querySelector('nav.bd-docs-nav');
  return {
    maths: maths.length,
    unrendered: maths.filter(e => !e.querySelector('mjx-container'))
                     .map(e => e.textContent.trim().slice(0, 60)),
    rendered: document.querySelectorAll('mjx-container').length,
    merrors: [...document.querySelectorAll('mjx-merror')]
                 .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
    processingError: document.body.innerText.includes('Math Processing Error'),
    leftover: leftover,
    sidebar: sidebar ? [...sidebar.querySelectorAll('a')].map(href) : null,
    search: !!document.querySelector('.search-button__button, form.bd-search input'),
    prev: href(document.querySelector('.prev-next-area a.left-prev')),
    next: href(document.querySelector('.prev-next-area a.right-next')),
  };
}
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of the base class
        pass


def serve(site: pathlib.Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"


def site_pages(site: pathlib.Path) -> list[str]:
    """Every HTML page of the site, as paths relative to it (the theme's templates excluded)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if not {"_static", "_sources"} & set(p.relative_to(site).parts))


def course_order(notebook_dir: pathlib.Path) -> list[str]:
    """The pages in reading order: the landing page, then one page per notebooks/NN_*.ipynb."""
    names = sorted(p.stem for p in notebook_dir.glob("*.ipynb") if re.match(r"\d\d_", p.name))
    return ["intro.html"] + [f"{name}.html" for name in names]


def _page_name(href: str | None) -> str | None:
    return urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1] if href else None


def check(site: pathlib.Path, notebook_dir: pathlib.Path, screenshot: pathlib.Path | None,
          screenshot_page: str, timeout_ms: int, verbose: bool = False) -> int:
    order = course_order(notebook_dir)
    pages = site_pages(site)
    failures = []
    missing_pages = [name for name in order if name not in pages]
    failures += [f"{name}: no such page in the site" for name in missing_pages]
    server, base = serve(site)
    external: list[str] = []
    local_missing: list[str] = []
    js_errors: list[str] = []
    totals = {"pages": 0, "formulas": 0, "math_errors": 0}

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base) or url.startswith(("data:", "blob:", "about:")):
            request_route.continue_()
        else:
            external.append(url)
            request_route.abort()

    def on_response(response):
        if response.url.startswith(base) and response.status >= 400:
            local_missing.append(f"{response.status} {response.url[len(base):]}")

    with tempfile.TemporaryDirectory(prefix="check-site-profile-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900})
        context.route("**/*", route)
        page = context.new_page()
        page.on("response", on_response)
        page.on("pageerror", lambda exc: js_errors.append(f"{page.url[len(base):]}: {exc}"))

        for name in pages:
            before = (len(external), len(local_missing), len(js_errors))
            page.goto(base + name, wait_until="load", timeout=timeout_ms)
            if name == "index.html":  # Jupyter Book's redirect to the landing page
                page.wait_for_url(base + "intro.html", timeout=timeout_ms)
            has_maths = page.evaluate("() => document.querySelector('.math') !== null")
            if has_maths:
                try:
                    page.wait_for_function(
                        "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                        timeout=timeout_ms)
                    page.evaluate("() => MathJax.startup.promise.then(() => true)")
                except PlaywrightError as exc:
                    failures.append(f"{name}: MathJax did not load or finish "
                                    f"({str(exc).splitlines()[0]})")
            facts = page.evaluate(PAGE_FACTS_JS)
            if verbose:
                print(f"  {name}: {facts['maths']} math elements, {facts['rendered']} rendered")
            totals["pages"] += 1
            totals["formulas"] += facts["rendered"]
            errors = len(facts["merrors"]) + len(facts["unrendered"]) + facts["processingError"]
            totals["math_errors"] += errors
            for text in facts["merrors"]:
                failures.append(f"{name}: MathJax error in a formula: {text}")
            for text in facts["unrendered"][:5]:
                failures.append(f"{name}: formula not rendered: {text}")
            if facts["processingError"]:
                failures.append(f"{name}: 'Math Processing Error' on the page")
            for text in facts["leftover"][:5]:
                failures.append(f"{name}: TeX shown as plain text: {text}")
            if has_maths and facts["rendered"] == 0:
                failures.append(f"{name}: has TeX but no rendered formula")
            failures += _navigation_failures(name, facts, order)
            if (len(external), len(local_missing), len(js_errors)) != before:
                failures.append(f"{name}: external requests, missing files or script errors "
                                "(listed below)")

        failures += _search_failures(page, base, order, timeout_ms)
        if screenshot:
            page.goto(base + screenshot_page, wait_until="load", timeout=timeout_ms)
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
            page.evaluate("() => document.querySelector('div.math').scrollIntoView("
                          "{block: 'center'})")
            page.screenshot(path=str(screenshot))
        context.close()
    server.shutdown()

    failures += [f"external request blocked: {url}" for url in external]
    failures += [f"local file missing: {what}" for what in local_missing]
    failures += [f"script error: {what}" for what in js_errors]
    notebook_pages = sum(1 for name in order[1:] if name in pages)
    print(f"pages opened: {totals['pages']} ({notebook_pages} of {len(order) - 1} notebooks)")
    print(f"formulas rendered: {totals['formulas']}")
    print(f"math errors: {totals['math_errors']}")
    print(f"external requests: {len(external)}")
    print(f"missing local files: {len(local_missing)}; script errors: {len(js_errors)}")
    if screenshot:
        print(f"screenshot of {screenshot_page}: {screenshot}")
    if failures:
        print(f"FAILED: {len(failures)} problem(s)", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print("site check passed")
    return 0


def _navigation_failures(name: str, facts: dict, order: list[str]) -> list[str]:
    if name in ("index.html", "search.html", "genindex.html") and name not in order:
        expected_prev = expected_next = "any"  # pages outside the course: no neighbours to check
    elif name in order:
        k = order.index(name)
        expected_prev = order[k - 1] if k > 0 else None
        expected_next = order[k + 1] if k + 1 < len(order) else None
    else:
        return [f"{name}: a page that is not in the course order"]
    failures = []
    shown = name if name != "index.html" else "index.html (intro.html)"
    if facts["sidebar"] is None:
        failures.append(f"{shown}: no sidebar")
    else:
        # the sidebar links the page it is on as "#"
        linked = {name if (h or "#").startswith("#") else _page_name(h) for h in facts["sidebar"]}
        absent = [p for p in order[1:] if p not in linked]
        if absent:
            failures.append(f"{shown}: sidebar does not link {', '.join(absent)}")
    if not facts["search"]:
        failures.append(f"{shown}: no search box")
    if name == "index.html":  # shows intro.html: its neighbours
        expected_prev, expected_next = None, order[1]
    for side, expected in (("prev", expected_prev), ("next", expected_next)):
        got = _page_name(facts[side])
        if expected != "any" and got != expected:
            failures.append(f"{shown}: {side} link goes to {got}, expected {expected}")
    return failures


def _search_failures(page, base: str, order: list[str], timeout_ms: int) -> list[str]:
    page.goto(f"{base}search.html?q={SEARCH_WORD}", wait_until="load", timeout=timeout_ms)
    try:
        page.wait_for_function(
            "() => document.querySelectorAll('#search-results ul.search li').length > 0",
            timeout=timeout_ms)
    except PlaywrightError:
        return [f"search.html: searching for '{SEARCH_WORD}' found nothing"]
    found = page.evaluate(
        "() => [...document.querySelectorAll('#search-results ul.search li a')]"
        ".map(a => a.getAttribute('href'))")
    if not {_page_name(h) for h in found} & set(order[1:]):
        return [f"search.html: searching for '{SEARCH_WORD}' found no notebook page"]
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=pathlib.Path, default=ROOT / "site",
                        help="the built site (default: site/)")
    parser.add_argument("--notebooks", type=pathlib.Path, default=ROOT / "notebooks",
                        help="the course notebooks, each of which needs a page")
    parser.add_argument("--screenshot", type=pathlib.Path,
                        help="also save a screenshot of one page with formulas here (PNG)")
    parser.add_argument("--screenshot-page", default="03_gates.html")
    parser.add_argument("--timeout", type=float, default=30, help="seconds per page")
    parser.add_argument("--verbose", action="store_true", help="one line per page")
    args = parser.parse_args(argv)
    if not (args.site / "intro.html").is_file():
        print(f"check_site: no built site in {args.site}: run tools/build_site.py first",
              file=sys.stderr)
        return 1
    if not pathlib.Path(CHROMIUM).is_file():
        print(f"check_site: {CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    return check(args.site, args.notebooks, args.screenshot, args.screenshot_page,
                 int(args.timeout * 1000), args.verbose)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
