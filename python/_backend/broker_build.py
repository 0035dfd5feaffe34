"""A PEP 517 build backend in the standard library only.

It builds a pure-Python wheel of the ``broker`` package (and a source
archive), so ``pip install ./python`` works without setuptools or a
network. The metadata is read from pyproject.toml's [project] table
(name, version, description, requires-python, pytest11 entry point).
"""

import base64
import hashlib
import io
import os
import tarfile
import zipfile

try:
    import tomllib  # Python 3.11+
except ImportError:  # pragma: no cover - 3.9, 3.10
    tomllib = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _project():
    path = os.path.join(ROOT, "pyproject.toml")
    if tomllib is not None:
        with open(path, "rb") as f:
            return tomllib.load(f)["project"]
    # A minimal reader for the keys above: key = "value" lines.
    out, section = {"entry-points": {"pytest11": {}}}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if "=" not in line or line.startswith("#"):
                continue
            k, v = (s.strip() for s in line.split("=", 1))
            v = v.strip('"')
            if section == "project":
                out[k] = v
            elif section == "project.entry-points.pytest11":
                out["entry-points"]["pytest11"][k] = v
    return out


def _files():
    pkg = os.path.join(ROOT, "broker")
    for name in sorted(os.listdir(pkg)):
        if name.endswith(".py") or name == "py.typed":
            yield "broker/" + name, os.path.join(pkg, name)


def _metadata(p):
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {p['name']}\n"
        f"Version: {p['version']}\n"
        f"Summary: {p.get('description', '')}\n"
        f"Requires-Python: {p.get('requires-python', '>=3.9')}\n"
    )


def _dist(p):
    return p["name"].replace("-", "_") + "-" + p["version"]


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    p = _project()
    dist = _dist(p)
    info = dist + ".dist-info/"
    entries = [(arc, open(path, "rb").read()) for arc, path in _files()]
    eps = p.get("entry-points", {}).get("pytest11", {})
    entries.append((info + "METADATA", _metadata(p).encode()))
    entries.append((info + "WHEEL", b"Wheel-Version: 1.0\nGenerator: broker_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    if eps:
        text = "[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
        entries.append((info + "entry_points.txt", text.encode()))
    record = []
    for arc, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{arc},sha256={digest},{len(data)}")
    record.append(info + "RECORD,,")
    entries.append((info + "RECORD", ("\n".join(record) + "\n").encode()))
    name = dist + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            z.writestr(zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return name


def build_sdist(sdist_directory, config_settings=None):
    p = _project()
    dist = _dist(p)
    name = dist + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for rel in ["pyproject.toml", "_backend/broker_build.py"] + [a for a, _ in _files()]:
            t.add(os.path.join(ROOT, rel), arcname=dist + "/" + rel)
        pkg = _metadata(p).encode()
        ti = tarfile.TarInfo(dist + "/PKG-INFO")
        ti.size = len(pkg)
        t.addfile(ti, io.BytesIO(pkg))
    return name
