"""The one list of files optee-tls installs on a target.

Top-level `make install`, the Yocto layer (meta-optee-tls) and the Buildroot
packages (buildroot/) are all checked against this list, so that the three
never drift apart. Paths are written with BitBake's directory variables
(`${libdir}`, ...); `expand()` turns them into concrete paths for one
layout (DEFAULT_DIRS is the plain /usr one used by Debian and Buildroot).

Stable API (other checks import it):
  ENTRIES                      tuple of Entry, in install order
  Entry.path / .mode / .link / .package / .part / .recipe
  DEFAULT_DIRS                 {variable: path} for a /usr layout
  select(parts=None)           entries whose part is in `parts` (None: all)
  expand(path, dirs)           "${libdir}/x" -> "/usr/lib/x"
  expected(dirs, parts)        {absolute path: Entry} for those parts
  scan(root)                   {absolute path: (mode or None, link or None)}
                               for every file/symlink under an install root
  compare(root, dirs, parts)   list of human-readable differences ([] = same)

Parts say which build produces an entry:
  "lib"       libopteetls, headers, provider, snippets (always, `make install`)
  "engine"    the ENGINE and its snippets (`make install` where OpenSSL has
              ENGINEs, i.e. not OpenSSL 4)
  "provisioning"  `make -C provisioning install` (Python package files are
              not listed one by one: PYTHON_PACKAGE names their directory)
  "doc"       documentation `make -C provisioning install` puts in ${docdir}
              (Yocto: the -doc package; Buildroot drops usr/share/doc)
  "ta"        the TA, built by OP-TEE's TA dev kit (never by `make install`)
"""
from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

TA_UUID = "8d3a5b12-6c47-4f0e-9a1d-2b7c0e5f4a61"

# Python import package installed by the provisioning recipe/package; its
# files are whatever the wheel holds, so only the directory is named here.
PYTHON_PACKAGE = "optee_tls"


@dataclass(frozen=True)
class Entry:
    path: str            # with ${var} directories, e.g. "${libdir}/libopteetls.so.1"
    mode: int | None     # permission bits of a regular file; None for a symlink
    package: str         # the Yocto/Buildroot package that ships it
    part: str            # "lib" | "engine" | "provisioning" | "ta"
    link: str | None = None  # symlink target (relative), for symlinks

    @property
    def recipe(self) -> str:
        """Recipe that builds `package` (its -dev/-doc splits live in the same recipe)."""
        return self.package.removesuffix("-dev").removesuffix("-doc")


ENTRIES: tuple[Entry, ...] = (
    Entry("${libdir}/libopteetls.so.1", 0o755, "optee-tls", "lib"),
    Entry("${libdir}/libopteetls.so", None, "optee-tls-dev", "lib",
          link="libopteetls.so.1"),
    Entry("${includedir}/optee_tls.h", 0o644, "optee-tls-dev", "lib"),
    Entry("${includedir}/optee_tls_ta.h", 0o644, "optee-tls-dev", "lib"),
    Entry("${modulesdir}/optee.so", 0o755, "optee-tls", "lib"),
    Entry("${datadir}/optee-tls/optee-provider.cnf", 0o644, "optee-tls", "lib"),
    Entry("${datadir}/optee-tls/optee-provider.conf.d.cnf", 0o644, "optee-tls", "lib"),
    # Activates the provider system-wide (openssl.cnf includes the directory).
    Entry("${sysconfdir}/ssl/openssl.cnf.d/optee-provider.cnf", 0o644, "optee-tls", "lib"),
    Entry("${enginesdir}/optee.so", 0o755, "optee-tls", "engine"),
    Entry("${datadir}/optee-tls/optee-engine.cnf", 0o644, "optee-tls", "engine"),
    Entry("${datadir}/optee-tls/optee-engine.conf.d.cnf", 0o644, "optee-tls", "engine"),
    Entry("${bindir}/optee-tls", 0o755, "python3-optee-tls", "provisioning"),
    Entry("${systemd_system_unitdir}/optee-tls-provision.service", 0o644,
          "python3-optee-tls", "provisioning"),
    Entry("${systemd_system_unitdir}/optee-tls-renew.service", 0o644,
          "python3-optee-tls", "provisioning"),
    Entry("${systemd_system_unitdir}/optee-tls-renew.timer", 0o644,
          "python3-optee-tls", "provisioning"),
    Entry("${sysconfdir}/optee-tls/provision.yaml", 0o644, "python3-optee-tls",
          "provisioning"),
    Entry("${docdir}/optee-tls/provisioning.md", 0o644, "python3-optee-tls-doc", "doc"),
    Entry(f"${{nonarch_base_libdir}}/optee_armtz/{TA_UUID}.ta", 0o444,
          "optee-tls-ta", "ta"),
)

PARTS = ("lib", "engine", "provisioning", "doc", "ta")

# A /usr layout (Debian, Buildroot). Yocto's values come from BitBake.
DEFAULT_DIRS: dict[str, str] = {
    "prefix": "/usr",
    "bindir": "/usr/bin",
    "libdir": "/usr/lib",
    "includedir": "/usr/include",
    "datadir": "/usr/share",
    "docdir": "/usr/share/doc",
    "sysconfdir": "/etc",
    "localstatedir": "/var",
    "nonarch_base_libdir": "/lib",
    "systemd_system_unitdir": "/usr/lib/systemd/system",
    "modulesdir": "/usr/lib/ossl-modules",
    "enginesdir": "/usr/lib/engines-3",
}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def select(parts: set[str] | frozenset[str] | tuple[str, ...] | None = None) -> list[Entry]:
    """Entries of the given parts (all when None), in install order."""
    if parts is not None:
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise ValueError(f"unknown manifest parts: {sorted(unknown)}")
    return [e for e in ENTRIES if parts is None or e.part in parts]


def expand(path: str, dirs: dict[str, str]) -> str:
    """Replace ${var} by dirs[var]; an unknown variable is an error."""
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in dirs:
            raise KeyError(f"no value for ${{{name}}} in {path}")
        return dirs[name]
    return _VAR.sub(sub, path)


def expected(dirs: dict[str, str], parts=None) -> dict[str, Entry]:
    return {expand(e.path, dirs): e for e in select(parts)}


def scan(root: Path | str) -> dict[str, tuple[int | None, str | None]]:
    """Every regular file and symlink under root, as absolute target paths."""
    root = Path(root)
    found: dict[str, tuple[int | None, str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            p = Path(dirpath) / name
            rel = "/" + str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                found[rel] = (None, os.readlink(p))
            else:
                found[rel] = (stat.S_IMODE(st.st_mode), None)
    return found


def _python_files(found: dict, dirs: dict[str, str]) -> set[str]:
    """Paths belonging to the installed Python package (site-packages)."""
    out = set()
    for path in found:
        parts = path.split("/")
        if "site-packages" in parts or "dist-packages" in parts:
            tail = parts[parts.index("site-packages" if "site-packages" in parts
                                     else "dist-packages") + 1:]
            if tail and (tail[0] == PYTHON_PACKAGE or
                         re.match(r"optee_tls-[^/]*\.dist-info$", tail[0])):
                out.add(path)
    return out


def compare(root: Path | str, dirs: dict[str, str], parts=None) -> list[str]:
    """Differences between what is installed under root and the manifest."""
    want = expected(dirs, parts)
    found = scan(root)
    problems = []
    if parts is None or "provisioning" in parts:
        py = _python_files(found, dirs)
        if not any(f"/{PYTHON_PACKAGE}/__init__.py" in p for p in py):
            problems.append(f"missing: Python package {PYTHON_PACKAGE}")
        for p in py:
            del found[p]
    for path, entry in want.items():
        if path not in found:
            problems.append(f"missing: {path}")
            continue
        mode, link = found.pop(path)
        if entry.link is not None:
            if link != entry.link:
                problems.append(f"{path}: symlink to {link!r}, expected {entry.link!r}")
        elif link is not None:
            problems.append(f"{path}: a symlink, expected a file")
        elif mode != entry.mode:
            problems.append(f"{path}: mode {mode:04o}, expected {entry.mode:04o}")
    problems += [f"not in the manifest: {p}" for p in sorted(found)]
    return problems
