"""Open every course notebook in a real JupyterLab and check that opening it changes nothing.

    make check-lab          # or: .venv/bin/python tools/check_lab.py [notebooks/03_gates.ipynb ...]

Starts `jupyter lab` on 127.0.0.1 in a scratch copy of notebooks/, opens each notebook in
headless Chromium (Debian's, driven by playwright), waits until its kernel is idle, and fails
if JupyterLab marks the notebook modified (it would ask "save changes?" on close and autosave
a rewritten file) or if the file on disk changed. Exits non-zero on any failure.
"""

import hashlib
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def digest(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_lab(folder: pathlib.Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               "--ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={folder}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              cwd=folder)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    sys.exit("jupyter lab did not answer within 180 s")


def check(paths) -> int:
    from playwright.sync_api import sync_playwright

    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = pathlib.Path(scratch)
        for path in paths:
            shutil.copy(path, folder / path.name)
        port = free_port()
        server = start_lab(folder, port)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                for n, path in enumerate(paths):
                    before = digest(folder / path.name)
                    page = browser.new_page()
                    # a workspace of its own, reset: JupyterLab would otherwise reopen the
                    # notebooks of earlier pages beside this one, in hidden tabs
                    page.goto(f"http://127.0.0.1:{port}/lab/workspaces/check{n}/tree/"
                              f"{path.name}?reset")
                    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell",
                                           state="attached", timeout=120_000)
                    # the kernel has started and answered: JupyterLab has written what it
                    # writes on connecting (language_info, kernelspec) into the model by then
                    page.wait_for_function(
                        "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]"
                        ".some(e => /Idle/.test(e.textContent))", timeout=60_000)
                    page.wait_for_timeout(1500)
                    dirty = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty")
                    modified = dirty.count() > 0
                    page.close()
                    changed = digest(folder / path.name) != before
                    status = "modified on open" if modified else "unchanged"
                    if changed:
                        status += ", file rewritten"
                    print(f"{path.name:40s} {status}")
                    if modified or changed:
                        failures.append(path.name)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{len(paths)} notebooks opened in JupyterLab, {len(failures)} marked modified")
    return 1 if failures else 0


def main(argv) -> int:
    paths = [pathlib.Path(a).resolve() for a in argv] or sorted(
        (ROOT / "notebooks").glob("[0-9]*.ipynb"))
    return check(paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
