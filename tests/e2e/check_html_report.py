#!/usr/bin/env python3
"""Checks an `mlo monitor --html` report.

usage: check_html_report.py REPORT.html N [COLUMN...]

Passes (exit 0) when the file starts a document with <!DOCTYPE html> and holds exactly N inline
<svg>...</svg> elements, each well-formed XML (xml.etree.ElementTree), with at least one <rect>
and a non-empty <title> or <text> (naming its column). With COLUMN arguments, the i-th svg must
name the i-th column in its <title> or a <text>. Fails (exit 1) with a message otherwise.
Standard library only.
"""

import re
import sys
import xml.etree.ElementTree as ET

SVG_RE = re.compile(r"<svg\b.*?</svg\s*>", re.DOTALL | re.IGNORECASE)
SVG_OPEN_RE = re.compile(r"<svg\b", re.IGNORECASE)


def local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def fail(message):
    print("check_html_report: " + message, file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) < 3:
        fail("usage: check_html_report.py REPORT.html N [COLUMN...]")
    path, columns = argv[1], argv[3:]
    try:
        expected = int(argv[2])
    except ValueError:
        fail("N must be an integer, not %r" % argv[2])
    if columns and len(columns) != expected:
        fail("%d column names given for N = %d" % (len(columns), expected))
    try:
        with open(path, encoding="utf-8") as f:
            doc = f.read()
    except (OSError, UnicodeDecodeError) as e:
        fail("cannot read %s: %s" % (path, e))

    if "<!doctype html>" not in doc.lower():
        fail("%s: no <!DOCTYPE html>" % path)
    svgs = SVG_RE.findall(doc)
    opened = len(SVG_OPEN_RE.findall(doc))
    if opened != len(svgs):
        fail("%s: %d <svg> start tags but %d complete <svg>...</svg> elements"
             % (path, opened, len(svgs)))
    if len(svgs) != expected:
        fail("%s: %d svg elements, expected %d" % (path, len(svgs), expected))

    for i, svg in enumerate(svgs, 1):
        try:
            root = ET.fromstring(svg)
        except ET.ParseError as e:
            fail("%s: svg #%d is not well-formed XML: %s\n  starts: %s"
                 % (path, i, e, svg[:120].replace("\n", " ")))
        if local(root.tag) != "svg":
            fail("%s: svg #%d: root element is <%s>" % (path, i, local(root.tag)))
        elements = list(root.iter())
        if not any(local(e.tag) == "rect" for e in elements):
            fail("%s: svg #%d has no <rect>" % (path, i))
        names = ["".join(e.itertext()).strip() for e in elements
                 if local(e.tag) in ("title", "text")]
        names = [n for n in names if n]
        if not names:
            fail("%s: svg #%d has no <title> or <text> naming its column" % (path, i))
        if columns:
            column = columns[i - 1]
            if not any(column in n for n in names):
                fail("%s: svg #%d does not name column %r (titles/texts: %s)"
                     % (path, i, column, ", ".join(repr(n) for n in names[:5])))
    print("check_html_report: %s: %d svg elements ok" % (path, len(svgs)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
