"""Record strings are data, whatever they hold: each output that carries one escapes it here,
for that output's own syntax. The schema restricts names (benchmark, model) to a safe set as
well, but free text (errors, hosts, tags, file names) reaches the same outputs."""
import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_GNUPLOT_PLAIN = re.compile(r"[A-Za-z0-9 _.,:+/%()=-]")


def one_line(text):
    """`text` with every control character (newlines included) replaced by a space."""
    return _CONTROL.sub(" ", str(text))


def gnuplot_string(text):
    """A gnuplot string literal holding `text`, every character outside a plain set written
    as octal escapes of its UTF-8 bytes. gnuplot substitutes `command` backquotes (a system()
    call) inside double-quoted strings before it parses them, and its single-quoted strings
    cannot start with an escaped quote; an escape is neither, and a line break would end the
    command."""
    out = []
    for ch in one_line(text):
        out.append(ch if _GNUPLOT_PLAIN.fullmatch(ch) else "".join(f"\\{b:03o}" for b in ch.encode()))
    return '"' + "".join(out) + '"'


def markdown_text(text):
    """`text` for a Markdown line or table cell: one line, no table pipe, no inline HTML."""
    t = one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", t)


def prometheus_label(text):
    """A label value for Prometheus' text format (backslash, double quote and line feed are
    its escapes; any other control character becomes a space)."""
    t = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return one_line(t)


def file_part(text):
    """`text` as one safe path component: [A-Za-z0-9_.-] only, never '.', '..' or hidden."""
    t = re.sub(r"[^A-Za-z0-9_.-]", "_", str(text)).lstrip(".")
    return t or "_"


def inside(folder, name):
    """folder/name, or ValueError when the result would lie outside `folder`."""
    path = os.path.join(folder, name)
    if os.path.dirname(os.path.abspath(path)) != os.path.abspath(folder):
        raise ValueError(f"{name!r} would lie outside {folder}")
    return path
