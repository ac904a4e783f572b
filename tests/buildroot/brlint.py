"""Offline lint of the br2-external tree (buildroot/) against the rules of
Buildroot's manual ("Adding new packages", "Coding style") that matter for
our packages. Buildroot's own utils/check-package is run beyond CI (see
docs/buildroot.md); this covers what CI can check without a Buildroot tree.

    python3 tests/buildroot/brlint.py [buildroot-dir]   # prints findings

Each finding is "path:line: message"; none means clean.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# Buildroot symbols our tree uses, checked against a Buildroot checkout.
KNOWN_SYMBOLS = HERE / "buildroot-symbols.txt"

HEADER_RULE = "#" * 80
INFRAS = ("generic", "python", "cmake", "autotools", "meson", "kconfig")
HELP_LINE = re.compile(r"^\t  \S.{0,61}$")
CONFIG_LINE = re.compile(r"^(menu)?config\s+(BR2_\w+)\s*$")
ATTRIBUTE = re.compile(r"^\t(bool|string|int|hex|tristate|prompt|default|depends on|"
                       r"select|imply|range|help|option)\b")
SYMBOL_REF = re.compile(r"\bBR2_[A-Za-z0-9_]+\b")
MK_ASSIGN = re.compile(r"^(?:define\s+|override\s+)?([A-Z][A-Z0-9_]*)\s*(?:[+:?]?=|$)")


def known_symbols() -> set[str]:
    out = set()
    for line in KNOWN_SYMBOLS.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.add(line)
    return out


def defined_symbols(tree: Path) -> set[str]:
    """Symbols our Config.in files define (plus BR2_EXTERNAL_<NAME>_PATH)."""
    out = set()
    for cfg in tree.rglob("Config.in"):
        for line in cfg.read_text().splitlines():
            m = CONFIG_LINE.match(line)
            if m:
                out.add(m.group(2))
    return out


def external_name(tree: Path) -> str:
    for line in (tree / "external.desc").read_text().splitlines():
        if line.startswith("name:"):
            return line.split(":", 1)[1].strip()
    return ""


def common_text(path: Path, lines: list[str]) -> list[str]:
    out = []
    for n, line in enumerate(lines, 1):
        if line != line.rstrip():
            out.append(f"{path}:{n}: trailing whitespace")
    if lines and not lines[-1].strip():
        out.append(f"{path}:{len(lines)}: empty last line")
    for n in range(1, len(lines)):
        if not lines[n].strip() and not lines[n - 1].strip():
            out.append(f"{path}:{n + 1}: consecutive empty lines")
    return out


def lint_config_in(path: Path, symbols: set[str]) -> list[str]:
    text = path.read_text()
    lines = text.splitlines()
    out = common_text(path, lines)
    in_help = False
    for n, line in enumerate(lines, 1):
        if in_help:
            if not line.strip():
                continue
            if line.startswith(("\t ", "  ")):
                if not HELP_LINE.match(line):
                    out.append(f"{path}:{n}: help text: <tab><2 spaces><at most 62 chars>")
                continue
            in_help = False
        if line.startswith("\thelp"):
            in_help = True
            continue
        if not line.strip() or line.startswith("#"):
            continue
        if line[0] in " \t":
            if line.startswith("\t\t") and lines[n - 2].rstrip().endswith("\\"):
                continue  # continuation of a long depends on
            if line.startswith(" ") or not ATTRIBUTE.match(line):
                out.append(f"{path}:{n}: attribute not indented with one tab: {line.strip()}")
        if re.match(r"^\tdefault n\s*$", line):
            out.append(f"{path}:{n}: 'default n' is the default, drop it")
        for sym in SYMBOL_REF.findall(line.split("#", 1)[0]):
            if sym not in symbols:
                out.append(f"{path}:{n}: unknown symbol {sym}")
    # Attribute order inside each entry: type, default, depends on, select, help.
    order = {"bool": 0, "string": 0, "int": 0, "prompt": 0, "default": 1,
             "depends": 2, "select": 3, "help": 4}
    last = -1
    for n, line in enumerate(lines, 1):
        if CONFIG_LINE.match(line) or line.startswith(("comment", "if ", "endif", "choice")):
            last = -1
            continue
        m = re.match(r"^\t(bool|string|int|prompt|default|depends|select|help)\b", line)
        if m:
            rank = order[m.group(1)]
            if rank < last:
                out.append(f"{path}:{n}: attributes out of order (type, default, "
                           "depends on, select, help)")
            last = rank
    return out


def lint_mk(path: Path, tree: Path) -> list[str]:
    pkg = path.stem
    prefix = pkg.upper().replace("-", "_")
    lines = path.read_text().splitlines()
    out = common_text(path, lines)
    head = [HEADER_RULE, "#", f"# {pkg}", "#", HEADER_RULE]
    if lines[:5] != head or (len(lines) > 5 and lines[5]):
        out.append(f"{path}:1: header must be the 80-'#' block naming {pkg}, then an empty line")
    ev = [ln for ln in lines if ln.startswith("$(eval")]
    infra = [f"$(eval $({i}-package))" for i in INFRAS]
    if len(ev) != 1 or ev[0] not in infra or lines[-1] != ev[0]:
        out.append(f"{path}:{len(lines)}: must end with exactly one $(eval $(<infra>-package))")
    in_define = False
    assigned: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        if line.startswith("define "):
            in_define = True
        elif line.strip() == "endef":
            in_define = False
            continue
        elif in_define:
            if line.strip() and not line.startswith("\t"):
                out.append(f"{path}:{n}: define body must be indented with a tab")
            continue
        m = MK_ASSIGN.match(line)
        if m and (line.startswith("define ") or "=" in line):
            var = m.group(1)
            if not var.startswith((prefix + "_", "HOST_" + prefix + "_")):
                out.append(f"{path}:{n}: variable {var} lacks the package prefix {prefix}_")
            if var.startswith(prefix + "_") and "=" in line:
                assigned[var[len(prefix) + 1:]] = line.split("=", 1)[1].strip()
        if re.match(r"^[A-Z][A-Z0-9_]*\s*[+:?]?=", line) and \
                not re.match(r"^[A-Z][A-Z0-9_]* [+:?]?= ", line + " "):
            out.append(f"{path}:{n}: put one space around '='")
        if "${" in line and not line.lstrip().startswith("#") and "$${" not in line:
            out.append(f"{path}:{n}: use $() rather than ${{}} for make variables")
    for field in ("VERSION", "SITE", "LICENSE"):
        if field not in assigned:
            out.append(f"{path}:0: {prefix}_{field} is missing")
    local = assigned.get("SITE_METHOD") == "local"
    site = assigned.get("SITE", "")
    if not local:
        out.append(f"{path}:0: our own sources must come from this repository "
                   f"({prefix}_SITE_METHOD = local)")
    if re.match(r"^(https?|git|ftp|scp)[:+]", site):
        out.append(f"{path}:0: {prefix}_SITE must not fetch our code from the network")
    hashes = list(path.parent.glob("*.hash"))
    if local and hashes:
        out.append(f"{path}:0: a local package has no hash file (Buildroot checks none)")
    if not local and not hashes:
        out.append(f"{path}:0: {pkg}.hash is missing")
    # Every init script the .mk mentions exists, is installed 0755 and is named
    # S<nn><DAEMON> as the manual asks.
    for n, line in enumerate(lines, 1):
        for script in re.findall(r"\$\(" + prefix + r"_PKGDIR\)/(S\d\d[\w.-]+)", line):
            spath = path.parent / script
            if not spath.exists():
                out.append(f"{path}:{n}: {script} does not exist")
                continue
            if "-m 0755" not in line:
                out.append(f"{path}:{n}: install {script} with -m 0755")
            out += lint_sysv(spath)
    return out


def lint_sysv(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    out = common_text(path, lines)
    daemons = [m.group(1) for m in (re.match(r'^DAEMON="?([^"]*)"?$', ln) for ln in lines)
               if m]
    if len(daemons) != 1:
        out.append(f"{path}:0: define DAEMON exactly once")
    elif not re.fullmatch(r"S\d\d" + re.escape(daemons[0]), path.name):
        out.append(f"{path}:0: file name should be S<nn>{daemons[0]}")
    if not lines or lines[0] != "#!/bin/sh":
        out.append(f"{path}:1: init scripts start with #!/bin/sh")
    for n, line in enumerate(lines, 1):
        if re.match(r"^\t* ", line):
            out.append(f"{path}:{n}: indent with tabs")
    return out


def lint_defconfig(path: Path, symbols: set[str]) -> list[str]:
    lines = path.read_text().splitlines()
    out = common_text(path, lines)
    seen = set()
    for n, line in enumerate(lines, 1):
        m = re.match(r"^(BR2_\w+)=(.*)$", line) or re.match(r"^# (BR2_\w+) is not set$", line)
        if not m:
            out.append(f"{path}:{n}: not a defconfig line")
            continue
        sym = m.group(1)
        if sym in seen:
            out.append(f"{path}:{n}: {sym} set twice")
        seen.add(sym)
        if sym not in symbols:
            out.append(f"{path}:{n}: unknown symbol {sym} (Kconfig would drop it silently)")
    return out


def lint_tree(tree: Path) -> list[str]:
    out = []
    name = external_name(tree)
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        out.append(f"{tree}/external.desc:1: name must be [A-Za-z0-9_]+")
    symbols = known_symbols() | defined_symbols(tree) | {f"BR2_EXTERNAL_{name}_PATH"}
    top = (tree / "Config.in").read_text()
    ext_mk = (tree / "external.mk").read_text()
    if f"$(BR2_EXTERNAL_{name}_PATH)/package/" not in ext_mk:
        out.append(f"{tree}/external.mk:1: must include the packages' .mk files")
    for pkgdir in sorted(p for p in (tree / "package").iterdir() if p.is_dir()):
        src = f'source "$BR2_EXTERNAL_{name}_PATH/package/{pkgdir.name}/Config.in"'
        if src not in top:
            out.append(f"{tree}/Config.in:0: does not source {pkgdir.name}/Config.in")
        mk = pkgdir / f"{pkgdir.name}.mk"
        if not mk.exists():
            out.append(f"{pkgdir}: {mk.name} is missing")
            continue
        out += lint_mk(mk, tree)
        cfg = pkgdir / "Config.in"
        sym = "BR2_PACKAGE_" + pkgdir.name.upper().replace("-", "_")
        if not cfg.exists() or f"config {sym}\n" not in cfg.read_text():
            out.append(f"{pkgdir}/Config.in:1: must define {sym}")
    for cfg in sorted(tree.rglob("Config.in")):
        out += lint_config_in(cfg, symbols)
    for defconfig in sorted((tree / "configs").glob("*_defconfig")):
        out += lint_defconfig(defconfig, symbols)
    return out


if __name__ == "__main__":
    findings = lint_tree(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "buildroot")
    print("\n".join(findings))
    sys.exit(1 if findings else 0)
