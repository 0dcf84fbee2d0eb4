"""Two changes to the pages Jupyter Book writes for the course site.

MathJax on every page: Sphinx loads it only on pages whose text has a formula, but notebook
titles have formulas too ("13. Layers: $\\partial E/\\partial x$ ..."), and the sidebar shows
them on every page, search and index included.

No thebe: Jupyter Book 1 always loads sphinx-thebe. Its scripts would start a kernel on Binder, a
service this offline site does not use: they name a CDN address, declare THEBE_JS_URL twice
(a script error on every page) and embed a Binder config. The course's notebooks run in
JupyterLab instead (`make lab`).
"""

from docutils import nodes


def _is_thebe(asset) -> bool:
    text = f"{getattr(asset, 'filename', asset)} {getattr(asset, 'attributes', {}).get('body', '')}"
    return "thebe" in text.lower()


def drop_thebe_assets(app, pagename, templatename, context, doctree):
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def drop_thebe_config(app, doctree, docname):
    for node in list(doctree.findall(nodes.raw)):
        if "x-thebe-config" in node.astext():
            node.parent.remove(node)


def setup(app):
    app.set_html_assets_policy("always")
    # after sphinx-thebe (priority 500) has added its config to the page
    app.connect("doctree-resolved", drop_thebe_config, priority=900)
    app.connect("html-page-context", drop_thebe_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
