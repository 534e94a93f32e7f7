#!/usr/bin/env python3
"""Finishes the man pages that swift-argument-parser's generate-manual wrote into DIR.

    scripts/man-pages.py [--date YYYY-MM-DD] DIR

For s2sd.1, s2sctl.1 and s2s-notify.1 in DIR (mdoc, from each program's --help):
  * blank lines, which groff reports as "Empty input line", become paragraph breaks (.Pp), and
    paragraph breaks where mdoc wants none (after a heading, before a list's end...) go;
  * s2sd's synopsis loses the "subcommand" that generate-manual gives every command with
    subcommands (s2sd has only the hidden ones ArgumentParser adds, such as help);
  * the sections a help text cannot hold, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO, come from
    Packaging/man/PROGRAM.1.in, before AUTHORS if there is one.
It also writes s2sd.conf.5 from Packaging/man/s2sd.conf.5 (hand-written), with the date.
Used by `make man` and by the Debian package (Packaging/debian/rules).
"""
import argparse
import datetime
import pathlib
import re
import sys

TOP = pathlib.Path(__file__).resolve().parent.parent
SOURCES = TOP / "Packaging" / "man"
PROGRAMS = ["s2sd", "s2sctl", "s2s-notify"]
# Macros after which a paragraph break is redundant, and before which it is.
NO_PP_AFTER = (".Sh", ".Ss", ".Pp", ".Bl", ".It", ".Bd")
NO_PP_BEFORE = (".Sh", ".Ss", ".Pp", ".El", ".It", ".Ed")


def macro(line):
    return line.split(" ", 1)[0]


def tidy(lines):
    """Blank lines become .Pp; redundant .Pp go."""
    lines = [".Pp" if not line.strip() else line for line in lines]
    result = []
    for line in lines:
        if line == ".Pp" and result and macro(result[-1]) in NO_PP_AFTER:
            continue
        if macro(line) in NO_PP_BEFORE:
            while result and result[-1] == ".Pp":
                result.pop()
        result.append(line)
    while result and result[-1] == ".Pp":
        result.pop()
    return result


def fix_synopsis(program, lines):
    """s2sd has no subcommands a user can name: its synopsis shows none."""
    if program != "s2sd":
        return lines
    out = []
    in_synopsis = False
    for line in lines:
        if line.startswith(".Sh "):
            in_synopsis = line.strip() == ".Sh SYNOPSIS"
        if in_synopsis and re.match(r"^\.Ar subcommand\b", line):
            continue
        out.append(line)
    return out


def add_sections(program, lines):
    extra = (SOURCES / f"{program}.1.in").read_text().rstrip("\n").split("\n")
    for index, line in enumerate(lines):
        if line.strip() == ".Sh AUTHORS":
            return lines[:index] + extra + lines[index:]
    return lines + extra


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    parser.add_argument("directory", type=pathlib.Path)
    args = parser.parse_args()
    for program in PROGRAMS:
        page = args.directory / f"{program}.1"
        if not page.exists():
            sys.exit(f"man-pages.py: {page} is missing")
        lines = page.read_text().rstrip("\n").split("\n")
        lines = add_sections(program, tidy(fix_synopsis(program, lines)))
        page.write_text("\n".join(lines) + "\n")
    date = datetime.date.fromisoformat(args.date)
    text = (SOURCES / "s2sd.conf.5").read_text().replace("@DATE@", f"{date:%B} {date.day}, {date.year}")
    (args.directory / "s2sd.conf.5").write_text(text)


if __name__ == "__main__":
    main()
