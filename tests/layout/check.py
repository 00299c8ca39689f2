#!/usr/bin/env python3
"""check.py [SRC [RULES]]: the layout of src/ against tests/layout/rules, as TAP.

Reads every .c and .h file of src/ as text (nothing is compiled) and fails,
naming the file and the line, when
- a file lies in no folder the table names;
- the table has a cycle, or names a folder that does not use it;
- an #include "..." names no file of src/, or a folder its folder may not
  include, or a header private to another folder (one in a subfolder);
- a .c file calls or names a function (or data) defined in a folder its
  folder may not include: an extern declaration is no way around the table;
- in cli/, a file other than the table reaches a command, any file reaches
  the table, or a command reaches another command;
- a file reaches into a file a "forbid:" line keeps it from.
Then it proves that it can fail: each rule is broken on purpose in a copy of
the tree held in memory, and each must be reported.

Definitions are found the way clang-format lays them out (.clang-format:
a function's "{" alone at column 0, file-scope data at column 0).
"""

import functools
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def read_rules(text):
    allowed, table, forbid, lines = {}, None, [], {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, rest = line.partition(":")
        key, words = key.strip(), rest.split()
        if key == "table":
            table = words[0]
        elif key == "forbid":
            forbid.append((words[0], words[1]))
        else:
            allowed[key] = words
            lines[key] = n
    return allowed, table, forbid, lines


@functools.lru_cache(maxsize=None)
def strip_code(text):
    """Comments, strings and character constants blanked, lines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1 : j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


DATA = re.compile(
    r"^(?!static\b|extern\b|typedef\b|return\b)(?:const\s+)?(?:(?:struct|enum|union|unsigned)\s+)?"
    r"\w+\s*(?:const\s*)?\**\s*(\w+)\s*(?:\[[^\]]*\])?\s*(?:=|;)"
)


def without_attributes(decl):
    """decl without its __attribute__((...)) parts."""
    while "__attribute__" in decl:
        i = decl.index("__attribute__")
        j, depth = decl.index("(", i), 0
        for k in range(j, len(decl)):
            depth += {"(": 1, ")": -1}.get(decl[k], 0)
            if depth == 0:
                break
        decl = decl[:i] + decl[k + 1 :]
    return decl


@functools.lru_cache(maxsize=None)
def definitions(code):
    """Non-static functions and data at file scope: {name: line}."""
    defs, lines = {}, code.split("\n")
    for i, line in enumerate(lines):
        if line.rstrip() == "{" and i > 0:
            j = i - 1
            while j > 0 and lines[j][:1] in (" ", "\t") and lines[j].strip():
                j -= 1
            # a return type on a line of its own ("static ... int\nname(...)")
            while j > 0 and lines[j - 1].strip() and lines[j - 1][:1] not in ("#", " ", "\t"):
                if lines[j - 1].rstrip().endswith((";", "}", "{")):
                    break
                j -= 1
            decl = without_attributes(" ".join(l.strip() for l in lines[j:i]))
            m = re.search(r"(\w+)\s*\(", decl)
            if m and not decl.startswith("static") and not decl.startswith("typedef"):
                defs[m.group(1)] = j + 1
        elif line[:1] not in ("", " ", "\t", "#", "}", "{"):
            m = DATA.match(line)
            if m and "(" not in line.split("=", 1)[0]:
                defs[m.group(1)] = i + 1
    return defs


IDENT = re.compile(r"(->|\.)?\s*\b([A-Za-z_]\w*)\b")


@functools.lru_cache(maxsize=None)
def references(code):
    """Identifiers not used as a struct member: [(name, line)]."""
    refs = []
    for n, line in enumerate(code.split("\n"), 1):
        if line.startswith("#"):
            continue
        for m in IDENT.finditer(line):
            if not m.group(1):
                refs.append((m.group(2), n))
    return refs


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(path):
    return path.split("/", 1)[0]


def check(files, rules_text):
    """files: {path below src/: text}. Returns {rule: [failure, ...]}."""
    allowed, table, forbid, rule_lines = read_rules(rules_text)
    fails = {r: [] for r in ("folder", "table", "include", "private", "reach", "cli", "forbid")}
    used = {f: set() for f in allowed}

    for path in sorted(files):
        if folder_of(path) not in allowed or "/" not in path:
            fails["folder"].append(f"src/{path}: in no folder of tests/layout/rules")

    # the table: known folders, no cycle
    for f, deps in allowed.items():
        for d in deps:
            if d not in allowed:
                fails["table"].append(f"tests/layout/rules:{rule_lines[f]}: {f}: no folder {d}")
    state = {}

    def visit(f, trail):
        if state.get(f) == 1:
            cyc = trail[trail.index(f) :] + [f]
            fails["table"].append("tests/layout/rules: a cycle: " + " -> ".join(cyc))
            return
        if state.get(f) == 2:
            return
        state[f] = 1
        for d in allowed.get(f, []):
            if d in allowed:
                visit(d, trail + [f])
        state[f] = 2

    for f in allowed:
        visit(f, [])

    def may(src_folder, dst_folder):
        return src_folder == dst_folder or dst_folder in allowed.get(src_folder, [])

    def what_may(f):
        deps = allowed.get(f, [])
        return f"{f} may include {' '.join(deps) if deps else 'no other folder'}"

    # includes
    for path, text in sorted(files.items()):
        own = folder_of(path)
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            where = f"src/{path}:{text.count(chr(10), 0, m.start()) + 1}"
            if inc not in files:
                fails["include"].append(f'{where}: #include "{inc}" names no file of src/')
                continue
            dst = folder_of(inc)
            if dst != own:
                used.setdefault(own, set()).add(dst)
            if not may(own, dst):
                fails["include"].append(f'{where}: #include "{inc}": {what_may(own)}')
            elif dst != own and inc.count("/") > 1:
                fails["private"].append(
                    f'{where}: #include "{inc}": private to {dst}/ (not at its root)'
                )

    # what each file calls or names
    code = {p: strip_code(t) for p, t in files.items()}
    defined = {}
    for path in sorted(code):
        if path.endswith(".c"):
            for name, line in definitions(code[path]).items():
                if name != "main":
                    defined.setdefault(name, (path, line))
    commands = {p for p, _ in defined.values() if p.startswith("cli/")} & {
        p for name, (p, _) in defined.items() if name.startswith("cmd_")
    }
    for path in sorted(code):
        if not path.endswith(".c"):
            continue  # a header declares; the .c files that include it call
        own = folder_of(path)
        seen = set()
        for name, line in references(code[path]):
            if name not in defined or (name, line) in seen:
                continue
            seen.add((name, line))
            dst_path, _ = defined[name]
            if dst_path == path:
                continue
            dst = folder_of(dst_path)
            where = f"src/{path}:{line}"
            if dst != own:
                used.setdefault(own, set()).add(dst)
            if not may(own, dst):
                fails["reach"].append(f"{where}: {name} (src/{dst_path}): {what_may(own)}")
            if dst_path == table:
                fails["cli"].append(f"{where}: {name} is the table's (src/{table})")
            elif dst_path in commands and path != table:
                kind = "a command" if path in commands else "a helper"
                fails["cli"].append(
                    f"{where}: {name} is the command src/{dst_path}'s; {kind} reaches "
                    "helpers only, only the table (src/{0}) reaches commands".format(table)
                )
            for prefix, target in forbid:
                if path.startswith(prefix) and dst_path == target:
                    fails["forbid"].append(f"{where}: {name}: src/{prefix} never reaches src/{target}")

    for f, deps in allowed.items():
        for d in deps:
            if d in allowed and d not in used.get(f, set()):
                fails["table"].append(
                    f"tests/layout/rules:{rule_lines[f]}: {f} may include {d} but uses nothing of it"
                )
    return fails


POINTS = [
    ("folder", "every file of src/ lies in a folder the table names"),
    ("table", "the table names known folders, uses them all, and has no cycle"),
    ("include", "each include names a file of src/ in a folder its folder may include"),
    ("private", "no folder includes a header private to another (one in a subfolder)"),
    ("reach", "each file calls or names only functions of folders its folder may include"),
    ("cli", "cli/: only the table reaches a command; no command reaches another"),
    ("forbid", "the forbid: lines (inventory's scanners never call inventory.c)"),
]

# Each rule broken on purpose: (what, file, text to find, replacement, rules
# change or None, the rule that must fail).
MUTATIONS = [
    ("config includes inventory/inventory.h", "config/edit.c", '#include "config/edit.h"',
     '#include "config/edit.h"\n#include "inventory/inventory.h"', None, "include"),
    ("host includes the scanners' private header", "host/host.c", '#include "host/host.h"',
     '#include "host/host.h"\n#include "inventory/scan/scan.h"', None, "private"),
    ("plan calls the config store by an extern declaration", "plan/sync.c", "\nvoid sync_opts(",
     "\nint ct_pve_container_version(int rootfd);\nvoid sync_opts(", None, "reach"),
    ("the status command calls the check command", "cli/status.c", "\nint cmd_status(",
     "\nint cmd_status_check(struct cli *cli);\nint cmd_status_check(struct cli *cli)\n{\n"
     "\treturn cmd_check(cli);\n}\n\nint cmd_status(", None, "cli"),
    ("an output helper calls a command", "cli/output.c", "\nint cli_fail(",
     "\nint cli_fail_discover(struct cli *cli);\nint cli_fail_discover(struct cli *cli)\n{\n"
     "\treturn cmd_discover(cli);\n}\n\nint cli_fail(", None, "cli"),
    ("a scanner calls back into inventory.c", "inventory/scan/pci.c", "\nvoid inv_scan_pci(",
     "\nconst char *pci_vendor(void);\nconst char *pci_vendor(void)\n{\n"
     "\treturn lxgpu_vendor_name(LXGPU_VENDOR_AMD);\n}\n\nvoid inv_scan_pci(", None, "forbid"),
    ("the table lets inventory include hook", None, None, None,
     ("inventory:    util", "inventory:    util hook"), "table"),
]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "src")
    rules_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "rules")
    files = {}
    for root, _, names in os.walk(src):
        for name in names:
            if name.endswith((".c", ".h")):
                p = os.path.join(root, name)
                with open(p, encoding="utf-8", errors="replace") as f:
                    files[os.path.relpath(p, src).replace(os.sep, "/")] = f.read()
    with open(rules_path, encoding="utf-8") as f:
        rules = f.read()

    print(f"1..{len(POINTS) + len(MUTATIONS)}")
    n, bad = 0, 0
    fails = check(files, rules)
    for rule, what in POINTS:
        n += 1
        for msg in fails[rule]:
            print(f"# {msg}")
            print(msg, file=sys.stderr)  # meson test --print-errorlogs shows stderr
        ok = not fails[rule]
        bad += not ok
        print(f"{'ok' if ok else 'not ok'} {n} - {what}")
    for what, path, find, repl, rules_edit, rule in MUTATIONS:
        n += 1
        tree, text = dict(files), rules
        if path:
            if path not in tree or find not in tree[path]:
                print(f"not ok {n} - self-test: {what}: src/{path} no longer has {find!r}")
                print(f"self-test: src/{path} no longer has {find!r}", file=sys.stderr)
                bad += 1
                continue
            tree[path] = tree[path].replace(find, repl, 1)
        if rules_edit:
            text = text.replace(*rules_edit)
        got = check(tree, text)
        new = [m for m in got[rule] if m not in fails[rule]]
        for msg in new:
            print(f"# {msg}")
        bad += not new
        if not new:
            print(f"self-test: {what}: the {rule} check did not fail", file=sys.stderr)
        print(f"{'ok' if new else 'not ok'} {n} - self-test: {what}: the {rule} check fails")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
