# SPDX-License-Identifier: MIT
# Run by `covship pull --combine` with the same interpreter as coverage.py,
# in isolated mode (-I), from pull's work directory (pull_config.c embeds this
# file). It writes the rcfile that every coverage command of the pull gets:
# pull's generated [run] and [paths], then the user's [paths] entries, and the
# user's [report], [html] and [xml] sections. Python reads the user's file
# because coverage.py does (configparser, tomllib): no second parser in C
# that could disagree with it.
#
# argv: OUT_RC GEN_RC INPUT_DIR FAIL_UNDER RCFILE [SEARCH_DIR...]
#   RCFILE empty: the first of .coveragerc, setup.cfg, tox.ini,
#   pyproject.toml (coverage.py's order and rules) in the first SEARCH_DIR
#   that has one. FAIL_UNDER empty: the configuration's own.
# stdout: lines "info: ...", "warn: ...", "error: ..." that pull relays.
# Exit: 0 written, 2 the user's configuration is unusable (one error line).
import configparser
import os
import sqlite3
import sys

SECTIONS = ("report", "html", "xml")
NAMES = (".coveragerc", "setup.cfg", "tox.ini", "pyproject.toml")


def die(msg):
    print("error: " + msg)
    sys.exit(2)


def ini_value(v):
    """A TOML value as coverage.py's INI reader would take it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "\n" + "\n".join(str(x) for x in v)
    return str(v)


def read_toml(path):
    """{section: {option: value}} of [tool.coverage.*], or None without any."""
    try:
        import tomllib
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            die("%s: reading TOML needs Python >= 3.11 or the tomli package; "
                "install tomli or pass --rcfile with an INI file" % path)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (OSError, ValueError) as e:
        die("%s: cannot read it as TOML (%s); fix it or pass --rcfile" % (path, e))
    tool = doc.get("tool", {}).get("coverage")
    if not isinstance(tool, dict):
        return None
    out = {}
    for name, table in tool.items():
        if isinstance(table, dict):
            out[name] = {k: ini_value(v) for k, v in table.items()}
    return out if any(out.values()) else None


def read_ini(path, ours):
    """Like coverage.py: [coverage:X] always, [X] too in a file of its own
    (.coveragerc or --rcfile); the coverage:-prefixed section wins."""
    cp = configparser.RawConfigParser()
    cp.optionxform = str
    try:
        if not cp.read(path, encoding="utf-8"):
            die("%s: cannot read it; check the path given to --rcfile" % path)
    except (configparser.Error, UnicodeDecodeError) as e:
        die("%s: not a valid INI file (%s); fix it or pass --rcfile"
            % (path, str(e).replace("\n", " ")))
    out = {}
    for sec in cp.sections():
        if sec.startswith("coverage:"):
            out[sec[len("coverage:"):]] = dict(cp.items(sec))
    if ours:
        for sec in cp.sections():
            if not sec.startswith("coverage:") and sec not in out:
                out[sec] = dict(cp.items(sec))
    if not ours and not any(out.values()):
        return None
    return out


def read_config(path, ours):
    if path.endswith(".toml"):
        return read_toml(path)
    return read_ini(path, ours)


def find_config(dirs):
    for d in dirs:
        for name in NAMES:
            path = os.path.join(d, name)
            if not os.path.isfile(path):
                continue
            conf = read_config(path, name == ".coveragerc")
            if conf is not None:
                return path, conf
    return None, {}


def apply_exclude_also(report):
    """coverage.py < 7.2 ignores exclude_also (it warns "Unrecognized
    option"): give it the same meaning, the default or configured
    exclude_lines plus these."""
    if "exclude_also" not in report:
        return
    import coverage.config as cc
    if "exclude_also" in {o[1].split(":")[1] for o in cc.CoverageConfig.CONFIG_FILE_OPTIONS}:
        return
    also = report.pop("exclude_also")
    lines = report.get("exclude_lines")
    if lines is None:
        lines = "\n" + "\n".join(cc.DEFAULT_EXCLUDE)
    report["exclude_lines"] = lines.rstrip("\n") + "\n" + also.lstrip("\n")


def writer_versions(indir):
    """coverage.py versions that wrote the data files (their meta table)."""
    found = {}
    for name in sorted(os.listdir(indir)):
        try:
            db = sqlite3.connect("file:%s?mode=ro" % os.path.join(indir, name), uri=True)
            try:
                row = db.execute("select value from meta where key = 'version'").fetchone()
            finally:
                db.close()
        except sqlite3.Error:
            continue  # combine reports a file it cannot read
        if row:
            found[row[0]] = found.get(row[0], 0) + 1
    return found


def check_versions(indir):
    import coverage
    mine = coverage.__version__
    for v, n in sorted(writer_versions(indir).items()):
        if v.split(".")[0] != mine.split(".")[0]:
            print("warn: %d data file(s) were written by coverage.py %s, the report uses %s "
                  "(another major version): install coverage.py %s.x for --python, or the "
                  "numbers may differ" % (n, v, mine, v.split(".")[0]))


def main(argv):
    out_rc, gen_rc, indir, fail_under, rcfile = argv[:5]
    dirs = argv[5:]
    gen = configparser.RawConfigParser()
    gen.optionxform = str
    gen.read(gen_rc, encoding="utf-8")
    if rcfile:
        conf = read_config(rcfile, True)
        path = rcfile
        if conf is None:
            die("--rcfile %s: it has no [tool.coverage.*] table; point --rcfile at the "
                "project's coverage configuration" % rcfile)
    else:
        path, conf = find_config(dirs)
    if path:
        print("info: using the coverage configuration in %s (its [report], [html], [xml] "
              "and [paths])" % os.path.abspath(path))
    for sec in SECTIONS:
        if sec in conf:
            gen[sec] = conf[sec]
    if "report" in conf:
        apply_exclude_also(gen["report"])
    if fail_under:
        if not gen.has_section("report"):
            gen.add_section("report")
        gen["report"]["fail_under"] = fail_under
    for key, value in conf.get("paths", {}).items():
        if not gen.has_section("paths"):
            gen.add_section("paths")
        name = key
        while gen.has_option("paths", name):  # a user key named like ours
            name = "user_" + name
        gen["paths"][name] = value
    with open(out_rc, "x", encoding="utf-8") as f:
        f.write("# written by covship pull: its remap first, then the project's settings\n")
        gen.write(f)
    check_versions(indir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
