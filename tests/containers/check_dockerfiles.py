#!/usr/bin/env python3
"""dtbench's own Dockerfile checks, and a stage's build steps as shell lines.

  check_dockerfiles.py FILE...
      Checks each file; prints one line per problem, `FILE:LINE: RULE message`; exit 1 if any.
  check_dockerfiles.py --steps STAGE --context DIR FILE
      Prints the steps of STAGE (its ENV, ARG, SHELL, WORKDIR and RUN lines, with Docker's
      variable substitution done) as bash lines calling `dt_run LOCATION DIR -- COMMAND...`,
      for running the stage directly on a machine, in a copy of the build context that stands
      in for the stage's WORKDIR. Exit 2 where a step cannot run that way.

hadolint (run beside this by tests/containers/run.sh) checks the general practice; these rules
are only what it does not check: syntax that hadolint's parser accepts (an empty line inside a
continuation, an unclosed here-document, an unknown flag), a variable Docker expands that the
stage never declared, commands chained with ';' that go on after a failure, ENV's legacy form,
and a '#' inside an instruction. Standard library only.
"""
import glob
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field

RULES = {
    "DT001": "syntax",
    "DT005": "a variable Docker expands is not declared (ARG or ENV) in this stage",
    "DT012": "commands chained with ';' go on after a failure: use && or start with set -e",
    "DT014": "ENV in the legacy 'key value' form: use key=value",
    "DT017": "'#' inside an instruction is not a comment (comments are whole lines)",
}
KNOWN = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
         "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL", "MAINTAINER"}
FLAGS = {"FROM": {"platform"}, "RUN": {"mount", "network", "security"},
         "COPY": {"from", "chown", "chmod", "link", "parents", "exclude"},
         "ADD": {"chown", "chmod", "link", "keep-git-dir", "checksum", "exclude", "unpack"},
         "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"}}
# Instructions whose arguments Docker substitutes variables in.
EXPANDS = {"ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME",
           "WORKDIR", "ARG"}
# Build arguments every build has without declaring them.
PREDEFINED = {"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM",
              "BUILDOS", "BUILDARCH", "BUILDVARIANT", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY",
              "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY",
              "all_proxy"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What base images are known to set (None: a value this checker does not know).
BASE_ENV = {"": {"PATH": DEFAULT_PATH},
            "nvidia/cuda": {"PATH": None, "LD_LIBRARY_PATH": None, "CUDA_VERSION": None,
                            "NVIDIA_VISIBLE_DEVICES": None, "NVIDIA_DRIVER_CAPABILITIES": None,
                            "NVIDIA_REQUIRE_CUDA": None}}
VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass
class Problem:
    file: str
    line: int
    rule: str
    detail: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.rule} {self.detail}"


@dataclass
class Instruction:
    file: str
    line: int
    keyword: str
    flags: list            # [(name, value)]
    rest: str              # the arguments after the flags
    heredocs: list = field(default_factory=list)   # [(delimiter, body)]


@dataclass
class Stage:
    index: int
    name: str
    image: str
    vars: dict             # name -> value (None: declared, value unknown or unset)
    shell: list
    instructions: list = field(default_factory=list)
    base: dict = field(default_factory=dict)       # the environment the stage started with
    envs: set = field(default_factory=set)         # names set by ENV (a child stage inherits them)


class Dockerfile:
    def __init__(self, path, text=None):
        self.path = path
        self.problems = []
        self.global_args = {}
        self.stages = []
        self._parse(open(path, encoding="utf-8").read() if text is None else text)

    def problem(self, line, rule, detail):
        self.problems.append(Problem(self.path, line, rule, detail))

    # ---- lines into instructions ----------------------------------------------------------
    def _parse(self, text):
        lines = text.split("\n")
        escape, i = "\\", 0
        while i < len(lines):  # parser directives: only at the very top
            m = re.match(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*$", lines[i])
            if not m:
                break
            if m.group(1).lower() == "escape":
                escape = m.group(2)
            i += 1
        instructions = []
        while i < len(lines):
            if not lines[i].strip() or lines[i].lstrip().startswith("#"):
                i += 1
                continue
            start, parts = i + 1, []
            while True:
                body = lines[i].rstrip()
                i += 1
                if not body.endswith(escape):
                    parts.append(body)
                    break
                parts.append(body[:-len(escape)])
                # Docker drops comment lines inside a continuation, and joins across empty
                # ones (which it warns about: a forgotten backslash swallows what follows).
                while i < len(lines) and (lines[i].lstrip().startswith("#") or not lines[i].strip()):
                    if not lines[i].strip() and i + 1 < len(lines):
                        self.problem(i + 1, "DT001", "empty line inside a continuation: the next line joins this instruction")
                    i += 1
                if i >= len(lines):
                    self.problem(start, "DT001", "line continuation runs past the end of the file")
                    break
            word, rest = re.match(r"(\S+)\s*(.*)", "".join(parts).strip(), re.S).groups()
            keyword = word.upper()
            if keyword not in KNOWN:
                self.problem(start, "DT001", f"unknown instruction '{word}'")
                continue
            ins = Instruction(self.path, start, keyword, [], rest.strip())
            while m := re.match(r"--([\w-]+)(?:=(\S*))?\s*", ins.rest):
                name, value = m.group(1), m.group(2) or ""
                if name not in FLAGS.get(keyword, set()):
                    self.problem(start, "DT001", f"{keyword} has no flag --{name}")
                ins.flags.append((name, value))
                ins.rest = ins.rest[m.end():]
            if keyword in ("RUN", "COPY", "ADD"):
                for m in re.finditer(r"(?<!<)<<(?!<)(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2", ins.rest):
                    strip_tabs, delim, body = m.group(1) == "-", m.group(3), []
                    while i < len(lines) and (lines[i].lstrip("\t") if strip_tabs else lines[i]) != delim:
                        body.append(lines[i])
                        i += 1
                    if i >= len(lines):
                        self.problem(start, "DT001", f"here-document '{delim}' is never closed")
                    i += 1
                    ins.heredocs.append((delim, "\n".join(body)))
            instructions.append(ins)
        self._stages(instructions)

    # ---- stages, scopes and the per-instruction rules --------------------------------------
    def _stages(self, instructions):
        stage = None
        for ins in instructions:
            if ins.keyword == "FROM":
                stage = self._from(ins)
                continue
            if stage is None:
                if ins.keyword == "ARG":  # anything else before FROM is hadolint's DL3061
                    self._arg(ins, self.global_args, global_scope=True)
                continue
            stage.instructions.append(ins)
            self._check(ins, stage)

    def _from(self, ins):
        words = self._words(ins, self._visible(self.global_args))
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].upper() != "AS"):
            self.problem(ins.line, "DT001", "FROM takes IMAGE [AS NAME]")
            words = (words or ["scratch"])[:1]
        image, name = words[0], (words[2].lower() if len(words) == 3 else "")
        parent = self._stage(image)
        if parent:  # ENV carries into a stage built on another, ARG does not
            vars_ = {k: v for k, v in parent.vars.items() if k in parent.envs or k in parent.base}
            shell = list(parent.shell)
        else:
            repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
            vars_ = dict(BASE_ENV.get(repo.removeprefix("docker.io/"), BASE_ENV[""]))
            shell = ["/bin/sh", "-c"]
        stage = Stage(len(self.stages), name, image, vars_, shell, [], dict(vars_))
        self.stages.append(stage)
        return stage

    def _stage(self, ref):
        """The earlier stage that a FROM, --from or from= names, else None."""
        if ref.isdigit():
            return self.stages[int(ref)] if int(ref) < len(self.stages) else None
        return next((s for s in self.stages if s.name and s.name == ref.lower()), None)

    def _visible(self, scope):
        return {**{k: None for k in PREDEFINED}, **scope}

    def _arg(self, ins, scope, global_scope=False):
        for word in self._words(ins, self._visible(scope) if global_scope else scope):
            name, eq, value = word.partition("=")
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.problem(ins.line, "DT001", f"ARG name '{name}' is not a name")
                continue
            scope[name] = value if eq else (None if global_scope else self.global_args.get(name))

    def _check(self, ins, stage):
        k = ins.keyword
        if k == "ARG":
            self._arg(ins, stage.vars)
        elif k == "ENV":
            pairs = self._words(ins, stage.vars)
            if pairs and "=" not in pairs[0]:
                self.problem(ins.line, "DT014", f"'ENV {ins.rest}'")
                pairs = [f"{pairs[0]}={' '.join(pairs[1:])}"]
            new = {}
            for p in pairs:
                name, eq, value = p.partition("=")
                if not eq or not name:
                    self.problem(ins.line, "DT001", f"ENV wants NAME=VALUE, not '{p}'")
                new[name] = value
            stage.vars.update(new)  # all pairs of one ENV see the values from before it
            stage.envs.update(new)
        elif k in ("COPY", "ADD"):
            args = self._json(ins) if ins.rest.startswith("[") else self._words(ins, stage.vars)
            if len(args) < 2 and not ins.heredocs:
                self.problem(ins.line, "DT001", f"{k} takes SOURCE... DEST")
        elif k in ("CMD", "ENTRYPOINT"):  # the shell form is hadolint's DL3025
            if ins.rest.startswith("["):
                self._json(ins)
        elif k == "SHELL":
            shell = self._json(ins)
            if not shell:
                self.problem(ins.line, "DT001", "SHELL takes a JSON array, e.g. [\"/bin/bash\", \"-c\"]")
            else:
                stage.shell = shell
        elif k == "RUN":
            self._run(ins, stage)
        elif k in EXPANDS:
            self._words(ins, stage.vars)

    def _json(self, ins):
        try:
            value = json.loads(ins.rest)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except ValueError:
            pass
        self.problem(ins.line, "DT001", f"{ins.keyword}: '{ins.rest}' is not a JSON array of strings")
        return []

    def _words(self, ins, scope):
        """Splits the arguments into words as Docker does (quotes, backslashes), substituting
        variables from `scope`; reports undeclared variables and unquoted '#'."""
        words, cur, quote, i, text, started = [], [], None, 0, ins.rest, False
        while i < len(text):
            c = text[i]
            if quote != "'" and c == "$" and (m := VAR.match(text, i)):
                cur.append(self._substitute(ins, m, scope))
                i, started = m.end(), True
                continue
            if quote:
                if c == quote:
                    quote = None
                elif c == "\\" and quote == '"' and i + 1 < len(text):
                    i += 1
                    cur.append(text[i])
                else:
                    cur.append(c)
            elif c in "\"'":
                quote, started = c, True
            elif c == "\\" and i + 1 < len(text):
                i += 1
                cur.append(text[i])
                started = True
            elif c.isspace():
                if started:
                    words.append("".join(cur))
                cur, started = [], False
            else:
                if c == "#" and not started:
                    self.problem(ins.line, "DT017", f"'{text[i:]}'")
                    return words
                cur.append(c)
                started = True
            i += 1
        if started:
            words.append("".join(cur))
        return words

    def _substitute(self, ins, m, scope):
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3) or ""
        known = name in scope
        value = scope.get(name)
        if not known and op is None:
            self.problem(ins.line, "DT005", f"${name} in {ins.keyword}: declare it with ARG or ENV in this stage")
        if op in (":-", "-"):
            return value if (value if op == ":-" else known) else word
        if op in (":+", "+"):
            return word if (value if op == ":+" else known) else ""
        return value if value is not None else ""

    # ---- RUN --------------------------------------------------------------------------------
    def _run(self, ins, stage):
        if ins.rest.startswith("["):
            self._json(ins)
            return
        script = "\n".join([ins.rest] + [body for _, body in ins.heredocs])
        commands = shell_commands(script)
        errexit = any(re.fullmatch(r"-[a-z]*e[a-z]*", a) for a in stage.shell[1:])
        if not ins.heredocs and not errexit and not _starts_with_set_e(commands) and _chained_by_semicolon(commands):
            self.problem(ins.line, "DT012", "a failing command before ';' does not fail the build")

    # ---- the steps of a stage, for running it directly --------------------------------------
    def steps(self, stage_name, context):
        """Bash lines running `stage_name`'s steps in a copy of `context` (the stand-in for its
        first WORKDIR); raises ValueError naming a step that cannot run that way."""
        stage = self._stage(stage_name)
        if stage is None:
            raise ValueError(f"{self.path}: no stage '{stage_name}'")
        out, root, cwd = [], None, "/"
        chain = [stage]
        while (parent := self._stage(chain[0].image)) is not None:
            chain.insert(0, parent)
        state = Stage(0, "", "", dict(chain[0].base), ["/bin/sh", "-c"])
        for st in chain:
            for ins in st.instructions:
                loc = f"{self.path}:{ins.line}"
                vars_, shell = state.vars, state.shell
                if ins.keyword in ("ARG", "ENV", "SHELL"):
                    self._check(ins, state)
                elif ins.keyword == "WORKDIR":
                    path = os.path.normpath(os.path.join(cwd, " ".join(self._words(ins, vars_))))
                    root = root or path
                    if os.path.commonpath([root, path]) != root:
                        raise ValueError(f"{loc}: WORKDIR {path} is outside the stand-in {root}")
                    cwd = path
                elif ins.keyword in ("COPY", "ADD"):
                    self._copy_in_place(ins, loc, vars_, cwd, root or "/", context)
                elif ins.keyword == "USER":
                    raise ValueError(f"{loc}: USER: the direct run is root's")
                elif ins.keyword == "RUN":
                    for name, value in ins.flags:
                        opts = dict(o.partition("=")[::2] for o in value.split(",")) if name == "mount" else {}
                        if opts and opts.get("type", "bind") != "cache":
                            raise ValueError(f"{loc}: RUN --mount={value}: only cache mounts can run directly")
                    if ins.rest.startswith("["):
                        argv = json.loads(ins.rest)
                    else:
                        argv = shell + ["\n".join([ins.rest] + [b for _, b in ins.heredocs])]
                    env = [f"{k}={v}" for k, v in vars_.items() if v is not None]
                    if "HOME" not in vars_:
                        env.insert(0, "HOME=/root")
                    rel = os.path.relpath(cwd, root) if root else "."
                    out.append(f"# {loc}")
                    out.append(" ".join(["dt_run", shlex.quote(loc), shlex.quote(rel), "--", "env", "-i"]
                                        + [shlex.quote(a) for a in env + argv]))
        return out

    def _copy_in_place(self, ins, loc, vars_, cwd, root, context):
        """COPY is done by the copy of the context, which is only right when each source lands
        where it lies in the context, relative to the stand-in."""
        if any(n == "from" for n, _ in ins.flags) or ins.heredocs:
            raise ValueError(f"{loc}: {ins.keyword} from a stage or here-document cannot run directly")
        args = self._json(ins) if ins.rest.startswith("[") else self._words(ins, vars_)
        *sources, dest = args
        dest_dir = os.path.normpath(os.path.join(cwd, dest))
        for src in sources:
            matches = glob.glob(os.path.join(context, src))
            if not matches:
                raise ValueError(f"{loc}: {src} is not in the build context")
            norm = os.path.normpath(src)
            if norm == "." or os.path.isdir(os.path.join(context, src)):
                lands = dest_dir
            elif dest.endswith("/") or len(sources) > 1:
                lands = os.path.join(dest_dir, os.path.basename(norm))
            else:
                lands = dest_dir
            want = os.path.normpath(os.path.join(root, norm))
            if lands != want:
                raise ValueError(f"{loc}: {ins.keyword} puts {src} at {lands}, not at {want}: the copy of the context cannot stand in")


def shell_commands(script):
    """Splits shell text into simple commands: [(words, operator after)], minding quotes,
    $(...), backquotes, comments and redirections. Approximate, enough for these checks."""
    out, words, cur, started = [], [], [], False
    i, n = 0, len(script)

    def end_word():
        nonlocal cur, started
        if started:
            words.append("".join(cur))
        cur, started = [], False

    def end_command(op):
        nonlocal words
        end_word()
        out.append((words, op))
        words = []

    while i < n:
        c = script[i]
        if c in "\"'`":
            j = _skip_quoted(script, i)
            cur.append(script[i + 1:j - 1])
            started, i = True, j
            continue
        if c == "$" and script[i + 1:i + 2] == "(":
            j = _skip_substitution(script, i)
            cur.append(script[i:j])
            started, i = True, j
            continue
        if c == "\\" and i + 1 < n:
            cur.append(script[i + 1])
            started, i = True, i + 2
            continue
        if c == "#" and not started:
            while i < n and script[i] != "\n":
                i += 1
            continue
        two = script[i:i + 2]
        if two in ("&&", "||", ";;"):
            end_command(two)
            i += 2
            continue
        if c in ";\n" or (c == "|" and not "".join(cur).endswith(">")) or \
                (c == "&" and not "".join(cur).endswith((">", "<")) and script[i + 1:i + 2] != ">"):
            end_command(";" if c == "\n" else c)
            i += 1
            continue
        if c in "()" and not started:
            end_command(c)
            i += 1
            continue
        if c.isspace():
            end_word()
        else:
            cur.append(c)
            started = True
        i += 1
    end_command("")
    return [(w, op) for w, op in out if w or op in ("(", ")")]


def _skip_quoted(s, i):
    """The index after the quoted text that starts at s[i] (a quote or backquote)."""
    q, k = s[i], i + 1
    while k < len(s) and s[k] != q:
        if q != "'" and s[k] == "\\":
            k += 2
        elif q == '"' and s.startswith("$(", k):
            k = _skip_substitution(s, k)
        else:
            k += 1
    return k + 1


def _skip_substitution(s, i):
    """The index after the $( ... ) that starts at s[i]."""
    depth, k = 1, i + 2
    while k < len(s) and depth:
        if s[k] in "\"'`":
            k = _skip_quoted(s, k)
            continue
        if s[k] == "\\":
            k += 2
            continue
        depth += {"(": 1, ")": -1}.get(s[k], 0)
        k += 1
    return k


def _starts_with_set_e(commands):
    words = commands[0][0] if commands else []
    return bool(words) and words[0] == "set" and (
        any(re.fullmatch(r"-[a-z]*e[a-z]*", w) for w in words[1:]) or "errexit" in words)


def _chained_by_semicolon(commands):
    """True when a ';' (or a newline) at the top level, outside if/case/loops/groups, is
    followed by another command."""
    stack = []
    closers = {"fi": "if", "esac": "case", "done": "loop", "}": "{"}
    continuing = {"then", "do", "else", "elif", "fi", "done", "esac", "}"}
    for k, (words, op) in enumerate(commands):
        first = words[0] if words else ""
        if first in ("if", "case", "{"):
            stack.append(first)
        elif first in ("for", "while", "until", "select"):
            stack.append("loop")
        elif first in closers and stack and stack[-1] == closers[first]:
            stack.pop()
        if op == "(" and (not stack or stack[-1] != "case"):
            stack.append("(")
        elif op == ")" and stack and stack[-1] == "(":
            stack.pop()
        if op == ";" and not stack and k + 1 < len(commands):
            following = commands[k + 1][0]
            if following and following[0] not in continuing:
                return True
    return False


def main(argv):
    if argv[:1] == ["--steps"]:
        if len(argv) != 5 or argv[2] != "--context":
            sys.exit("usage: check_dockerfiles.py --steps STAGE --context DIR FILE")
        df = Dockerfile(argv[4])
        if df.problems:
            sys.exit("\n".join(map(str, df.problems)))
        try:
            print("\n".join(df.steps(argv[1], argv[3])))
        except ValueError as e:
            print(e, file=sys.stderr)
            return 2
        return 0
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    problems = [p for path in argv for p in Dockerfile(path).problems]
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {len(argv)} Dockerfile(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(argv)} Dockerfile(s), rules {', '.join(sorted(RULES))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
