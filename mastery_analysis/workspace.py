"""The notebook workspace: a folder of the person's own copies of the shipped notebooks.

:func:`sync_workspace` copies the everyday notebooks (not ``reports/`` or ``app/``: the
package runs those itself) into a folder and records what it copied in a manifest,
``.mastery-workspace.json`` (the package version and the sha256 of every file as copied).
Run again after an upgrade, it adds new notebooks and updates the ones still exactly as it
copied them, and it never overwrites a notebook the person changed: that one is kept, and
the result says so. :func:`start_lab` then starts JupyterLab on the folder (``mastery lab``
and ``make lab`` both go through here).

In a source checkout the default workspace is the checkout's ``notebooks/`` itself: there is
nothing to copy, the sources are edited in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .errors import MasteryError
from .resources import notebooks_dir

MANIFEST = ".mastery-workspace.json"
PACKAGE_ONLY = ("reports", "app")
"""Subfolders of the shipped notebooks that the package runs itself and does not copy."""


class WorkspaceError(MasteryError):
    """The workspace folder cannot be used (not a folder, unwritable, a broken manifest)."""


@dataclass
class SyncResult:
    """What :func:`sync_workspace` did, file by file (paths relative to the workspace)."""

    folder: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    """Notebooks the person changed (or made) while a different version ships: left alone."""
    edited: list[str] = field(default_factory=list)
    """Notebooks the person changed where nothing new ships: left alone, nothing to say."""
    previous_version: str | None = None
    """The package version the workspace was last synced by (None: a new workspace)."""
    version: str = __version__
    in_place: bool = False
    """True when the workspace is the shipped folder itself (a source checkout)."""

    def lines(self) -> list[str]:
        """The result in sentences, for the terminal."""
        if self.in_place:
            return [f"workspace: {self.folder} (the checkout's own notebooks; nothing to copy)"]
        out = [f"workspace: {self.folder}"]
        if self.previous_version is not None and self.previous_version != self.version:
            out.append(f"notebooks of mastery-analysis {self.previous_version} -> {self.version}")
        for label, names in (("added", self.added), ("updated", self.updated)):
            if names:
                out.append(f"{label} {len(names)}: {', '.join(names)}")
        for name in self.kept:
            out.append(f"kept {name}: you changed it, so the new version was not copied over it "
                       f"(rename or delete yours and run `mastery lab` again to get the new one)")
        if self.edited:
            out.append(f"your changes to {len(self.edited)} notebook"
                       f"{'s' if len(self.edited) > 1 else ''} are left as they are: "
                       f"{', '.join(self.edited)}")
        if not (self.added or self.updated or self.kept):
            out.append(f"the {len(self.unchanged) + len(self.edited)} notebooks are up to date")
        return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_notebooks(source: Path | None = None) -> dict[str, Path]:
    """The notebooks a workspace gets: relative POSIX path -> shipped file."""
    source = Path(source) if source is not None else notebooks_dir()
    found = {}
    for path in sorted(source.rglob("*.ipynb")):
        rel = path.relative_to(source)
        if rel.parts[0] in PACKAGE_ONLY or ".ipynb_checkpoints" in rel.parts:
            continue
        found[rel.as_posix()] = path
    return found


def read_manifest(folder: str | os.PathLike) -> dict:
    """The workspace's manifest (``{"package_version": ..., "files": {path: sha256}}``);
    an empty one when the folder has none yet."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return {"package_version": None, "files": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise ValueError("files must map paths to sha256 digests")
    except (ValueError, KeyError, TypeError) as exc:
        raise WorkspaceError(f"the workspace manifest {path} is damaged ({exc}); delete it and "
                             "run again (notebooks you changed are then kept, the others "
                             "are left as they are)") from None
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sync_workspace(folder: str | os.PathLike, *, source: str | os.PathLike | None = None,
                   version: str = __version__) -> SyncResult:
    """Copy the shipped notebooks into ``folder``, keeping every notebook the person changed.

    For each shipped notebook: missing in the folder, it is copied (added); present and
    byte for byte what the manifest says was copied last time, it is replaced by the shipped
    one if that differs (updated) or left (unchanged); present and different from what was
    copied, or present without a manifest entry and different from the shipped one, it is
    kept as it is. The manifest records the package version and what was copied.

    Parameters
    ----------
    folder : path
        The workspace (created if missing).
    source : path, optional
        The shipped notebooks (default: :func:`~mastery_analysis.resources.notebooks_dir`).
    version : str
        The package version recorded in the manifest.

    Returns
    -------
    SyncResult
    """
    source_dir = Path(source).resolve() if source is not None else notebooks_dir().resolve()
    folder = Path(folder).expanduser().resolve()
    if folder == source_dir:
        return SyncResult(folder=folder, in_place=True,
                          unchanged=sorted(shipped_notebooks(source_dir)))
    if folder.exists() and not folder.is_dir():
        raise WorkspaceError(f"cannot use {folder} as the workspace: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create the workspace {folder}: {exc.strerror or exc}") from None
    manifest = read_manifest(folder)
    recorded: dict[str, str] = dict(manifest["files"])
    result = SyncResult(folder=folder, previous_version=manifest.get("package_version"),
                        version=version)
    try:
        for rel, shipped in shipped_notebooks(source_dir).items():
            target = folder / rel
            new = shipped.read_bytes()
            new_hash = hashlib.sha256(new).hexdigest()
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_atomic(target, new)
                recorded[rel] = new_hash
                result.added.append(rel)
                continue
            current = _sha256(target)
            if current == new_hash:
                recorded[rel] = new_hash
                result.unchanged.append(rel)
            elif recorded.get(rel) == current:  # as we copied it: safe to update
                _write_atomic(target, new)
                recorded[rel] = new_hash
                result.updated.append(rel)
            elif recorded.get(rel) == new_hash:  # changed by the person, nothing new shipped
                result.edited.append(rel)
            else:  # changed by the person (or made under that name) and a new one ships
                result.kept.append(rel)
        body = {"package_version": version, "files": dict(sorted(recorded.items()))}
        _write_atomic(folder / MANIFEST, (json.dumps(body, indent=2) + "\n").encode())
    except OSError as exc:
        raise WorkspaceError(f"cannot write into the workspace {folder}: "
                             f"{exc.strerror or exc}") from None
    return result


def lab_command(folder: str | os.PathLike, *, browser: bool = True, port: int | None = None,
                extra: list[str] | None = None) -> list[str]:
    """The command that starts JupyterLab on ``folder`` with this Python."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={Path(folder)}"]
    if not browser:
        cmd.append("--no-browser")
    if port is not None:
        cmd.append(f"--port={port}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # JupyterLab refuses root without it (containers often are)
    return cmd + list(extra or [])


def start_lab(folder: str | os.PathLike, *, browser: bool = True, port: int | None = None,
              extra: list[str] | None = None) -> int:
    """Run JupyterLab on ``folder`` until it stops; return its exit code."""
    if not _has_jupyterlab():
        raise WorkspaceError("JupyterLab is not installed in this environment "
                             "(pip install jupyterlab)")
    cmd = lab_command(folder, browser=browser, port=port, extra=extra)
    proc = subprocess.Popen(cmd, cwd=str(folder))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through mastery's handler
        proc.terminate()  # JupyterLab shuts down cleanly on SIGTERM (no question asked)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 0


def _has_jupyterlab() -> bool:
    import importlib.util

    return importlib.util.find_spec("jupyterlab") is not None


__all__ = ["MANIFEST", "SyncResult", "WorkspaceError", "shipped_notebooks", "read_manifest",
           "sync_workspace", "lab_command", "start_lab"]
