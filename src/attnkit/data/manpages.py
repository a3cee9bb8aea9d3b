"""Summarization: a Debian manual page's DESCRIPTION -> its NAME line's one-line summary.

Source: the English manual pages (``usr/share/man/man*/``, not the translated folders such as
``usr/share/man/de/``) of the Debian packages in :data:`PACKAGES`, downloaded from the
machine's Debian archive with ``apt-get download`` and unpacked with ``dpkg-deb -x`` into a
temporary folder (:func:`attnkit.data.fetch.apt_download_extract`; no root needed, and the
pages installed on this machine are not read). The pages are the upstream projects' text
under each package's own licence (``usr/share/doc/<package>/copyright``).

A page is gzipped roff, in the ``man`` macros or the BSD ``mdoc`` macros::

    .TH LS "1" "September 2022" "GNU coreutils 9.1" "User Commands"
    .SH NAME
    ls \\- list directory contents
    .SH DESCRIPTION
    List information about the FILEs (the current directory by default).

:func:`parse_page` reduces it to plain text with a small roff reader (not a formatter):
comments (``.\\"``, ``\\"``) and macro definitions (``.de``), tables (``.TS``) and equations
(``.EQ``) are dropped; conditionals (``.if``/``.ie``/``.el``) are evaluated as nroff would
(``n`` true, ``t`` false, groff ``\\n(.g`` true); strings (``.ds``, ``\\*(C+``), special
characters (``\\(em``, ``\\[u00E9]``) and ``.tr`` translations are expanded; font, size and
motion escapes (``\\fB``, ``\\f(CW``, ``\\s-1``, ``\\h'..'``) are removed; font macros
(``.B .I .BR .IR``...) keep their text, layout macros (``.PP .TP .RS .RE``...) give none. In
``mdoc`` pages ``.Nm``/``.Nd`` give the NAME line, ``.Fl x`` is ``-x``, ``.Xr ls 1`` is
``ls(1)`` and ``.Op``/``.Pq``/``.Dq`` enclose the rest of their line.

Rules (deterministic; counts go to ``README.txt``):

- Pages are read package by package in :data:`PACKAGES` order, then by path. Symbolic links
  and ``.so`` pages (aliases of another page) are skipped, so is a page name already read
  (the first package keeps it).
- The summary is the NAME text after its first ``\\-`` (or `` - ``, `` -- ``, ``\\(em``), up to
  the line of a second entry if there is one (``ext2 \\- ...`` then ``ext3 \\- ...``); the
  document is the DESCRIPTION text, whitespace collapsed, cut to its first :data:`MAX_WORDS`
  words. A page without either is skipped; an identical document is kept once (first page).
- ``id`` is ``"<package>/<page>"``: ``"coreutils/ls.1"``.
- Split by the page's name without its section (``ls`` for ``ls.1``), so that pages of one
  name never straddle splits: ``int(sha1(name).hexdigest(), 16) % 20`` is 0 for test, 1 for
  dev, anything else for train (:func:`split_of`).
- Templated families, written to ``families.json`` as ``{family: [ids]}`` so that scores can
  be reported with and without them (:func:`find_families`): the pages whose names share a
  *stem* (:func:`family_stem`: what comes before the first ``-``, ``_``, ``.`` or digit,
  ``git`` for ``git-add``, ``perl`` for ``perl5360delta``, ``CURLINFO`` for
  ``CURLINFO_FILETIME``), at least :data:`FAMILY_MIN_PAGES` of them, of which at least
  :data:`FAMILY_MIN_SHARE` have summaries starting with the same
  :data:`FAMILY_SUMMARY_WORDS` words or documents with the same
  :data:`FAMILY_DOCUMENT_WORDS` words (``"what is ..."``, ``"NAME is a debhelper ..."``).

Files: ``{train,dev,test}.jsonl`` (see :mod:`attnkit.data.summaries`), ``families.json``,
``README.txt``.

Example:
    >>> page = r'''.TH LS 1
    ... .SH NAME
    ... ls \\- list directory contents
    ... .SH DESCRIPTION
    ... .\\" a comment
    ... List \\fIinformation\\fR about the FILEs.
    ... .TP
    ... .BR \\-a ", " \\-\\-all
    ... do not ignore entries starting with .
    ... '''
    >>> summary, document = parse_page(page)
    >>> summary
    'list directory contents'
    >>> document
    'List information about the FILEs. -a, --all do not ignore entries starting with .'
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import tempfile
import time
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from attnkit import log
from attnkit.data.summaries import SPLITS, SummaryPair, split_by_hash, write_split
from attnkit.errors import AttnkitError

__all__ = [
    "PACKAGES",
    "build",
    "family_stem",
    "fetch",
    "find_families",
    "is_alias",
    "make_pairs",
    "page_name",
    "parse_page",
    "read_pages",
    "split_of",
]

# Debian packages rich in English manual pages (bookworm: ~50 MB of .deb files in all).
PACKAGES = (
    "manpages",  # the Linux man-pages project: files, protocols, overviews (sections 1-8)
    "manpages-dev",  # system calls and C library functions (sections 2 and 3)
    "coreutils",
    "util-linux",
    "bsdutils",
    "bsdextrautils",
    "procps",
    "findutils",
    "diffutils",
    "gawk",
    "passwd",
    "login",
    "kmod",
    "iproute2",
    "iptables",
    "net-tools",
    "ncurses-bin",
    "e2fsprogs",
    "btrfs-progs",
    "xfsprogs",
    "lvm2",
    "cryptsetup-bin",
    "mtools",
    "systemd",
    "libpam-modules",  # pam_*.8: one page per PAM module
    "openssh-client",
    "groff-base",
    "x11-apps",
    "x11-xserver-utils",
    "dpkg",
    "dpkg-dev",
    "debhelper",  # dh_*.1: one page per debhelper command
    "devscripts",
    "apt",
    "git-man",  # git-*.1: one page per git command
    "openssl",  # openssl-*.1ssl and the provider, format and configuration pages
    "libssl-doc",  # OpenSSL's C API (3ssl)
    "libcurl4-doc",  # libcurl's C API: curl_*.3, CURLOPT_*.3, CURLINFO_*.3
    "libx11-doc",  # Xlib's C API: X*.3
    "tcl8.6-doc",  # Tcl's C API and commands (3tcl)
    "perl-doc",  # perl*.1 (the Perl manual) and the core modules' pages (3perl)
)
MAX_WORDS = 300
FAMILY_MIN_PAGES = 20
FAMILY_SUMMARY_WORDS = 2
FAMILY_DOCUMENT_WORDS = 4
FAMILY_MIN_SHARE = 0.4

# --------------------------------------------------------------------------- roff to text

# an escape sequence: \x, \(xx, \[name], \*(xx, \f(CW, \s-1, \h'1i', ...
_ESCAPE = re.compile(
    r"""\\(?:
      \*(?:\[(?P<slong>[^\]]*)\]|\((?P<s2>..)|(?P<s1>.))           # a string
    | \((?P<c2>..) | \[(?P<clong>[^\]]*)\]                          # a special character
    | (?P<delim>[ACDNRSXZbhlLovwx])(?P<d>[^\w\s])(?P<body>.*?)(?P=d) # \h'..', \N'233', ...
    | s(?:[-+]?\(\d\d|\([-+]\d\d|[-+]?\[[^\]]*\]|'[^']*'|[-+]?\d)  # a size
    | [fFgkmMnVY](?:[-+]?\[[^\]]*\]|[-+]?\(..|[-+]?.)             # a font, register, colour
    | \$.                                                           # a macro argument
    | c\n?                                                          # join with the next line
    | (?P<one>.)
    )""",
    re.VERBOSE | re.DOTALL,
)
# String interpolations per call of _Reader.text (far more than a page's first MAX_WORDS words
# need): `.ds x \\*x\\*x\\*x...` would otherwise grow exponentially.
_MAX_EXPANSIONS = 10_000
_ONE = {
    "e": "\\",
    "E": "\\",
    "\\": "\\",
    "-": "-",
    " ": " ",
    "0": " ",
    "~": " ",
    "t": " ",
    "\n": " ",
    "'": "'",
    "`": "`",
    ".": ".",
    "_": "_",
}
_SILENT = set('&)|^%:/,{}adprzu!?#"')  # escapes that print nothing
_CHARS = {
    "aq": "'", "dq": '"', "lq": '"', "rq": '"', "oq": "'", "cq": "'", "Bq": "„", "bq": "‚",
    "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›", "em": "—", "en": "–", "hy": "-", "mi": "-",
    "bu": "•", "co": "©", "rg": "®", "tm": "™", "mu": "×", "di": "÷", "+-": "±", "<=": "≤",
    ">=": "≥", "!=": "≠", "==": "≡", "~=": "≅", "->": "→", "<-": "←", "<>": "↔", "ua": "↑",
    "da": "↓", "rA": "⇒", "lA": "⇐", "ti": "~", "ha": "^", "rs": "\\", "sl": "/", "ga": "`",
    "aa": "´", "at": "@", "sh": "#", "Do": "$", "de": "°", "sc": "§", "ps": "¶", "ct": "¢",
    "Po": "£", "Ye": "¥", "Eu": "€", "eu": "€", "ss": "ß", "fm": "′", "sd": "″", "dg": "†",
    "pl": "+", "eq": "=", "or": "|", "ba": "|", "br": "|", "ru": "_", "ul": "_", "lh": "☜",
    "rh": "☞", "OK": "✓", "ff": "ff", "fi": "fi", "fl": "fl", "12": "½", "14": "¼", "34": "¾",
    "if": "∞", "no": "¬", "pd": "∂", "*p": "π", "*a": "α", "*b": "β", "*g": "γ", "*d": "δ",
    "*e": "ε", "*l": "λ", "*m": "μ", "*s": "σ", "*W": "Ω", "ae": "æ", "AE": "Æ", "oe": "œ",
    "/o": "ø", "/O": "Ø", "oA": "Å", "oa": "å",
}  # fmt: skip
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    ":": "\u0308",
    "~": "\u0303",
    ",": "\u0327",
}
_NUMERIC_ARG = re.compile(r"[-+]?[\d.]*[a-z]?$")  # an indent or a count: 4, +4n, .5i, -1
_NO_TEXT = frozenset({
    "TH", "SH", "SS", "PP", "LP", "P", "HP", "TP", "TQ", "IP", "RS", "RE", "PD", "UR", "MT", "EX",
    "EE", "SY", "YS", "br", "sp", "fi", "nf", "ad", "na", "nh", "hy", "in", "ti", "ne", "ft",
    "ps", "vs", "ll", "ta", "ce", "bp", "pl", "pn", "po", "ls", "lt", "ns", "rs", "mk", "rt",
    "nr", "rr", "ds", "as", "tr", "so", "mso", "pso", "cs", "bd", "ss", "cu", "ul", "fam",
    "fcolor", "gcolor", "lf", "cc", "c2", "ec", "eo", "ev", "hc", "hw", "hla", "hlm", "lg",
    "kern", "tm", "tm1", "tmc", "ab", "IX", "Sp", "Vb", "Ve", "AS", "BS", "BE", "VS", "VE", "UC",
    "AT", "DT", "Dd", "Dt", "Os", "Pp", "Lp", "Bl", "El", "Bd", "Ed", "Bf", "Ef", "Bk", "Ek",
    "Sm", "Rs", "Re", "Ud", "Nd", "UN", "SO", "SE", "IMG", "it", "itc", "cp", "wh", "ch", "dt",
    "em", "rm", "rn", "als", "aln", "di", "da", "nx", "rd", "ex", "fl", "sv", "os", "nm", "nn",
    "mc", "lc", "fc", "fp", "ftr", "char", "fchar", "schar", "hcode", "hym", "hys", "hpf",
    "hpfa", "sty", "warn", "while", "shift", "return", "break", "continue", "open", "opena",
    "close", "write", "writec", "writem", "length", "substring", "device", "output", "box",
    "boxa", "pm", "pnr", "ptr", "pev", "psbb", "special", "fspecial", "sizes", "blm", "lsm",
})  # fmt: skip
_MDOC_INLINE = frozenset({
    "Ac", "Ad", "An", "Ao", "Ap", "Aq", "Ar", "At", "Bc", "Bo", "Bq", "Brc", "Bro", "Brq", "Bsx",
    "Bx", "Cd", "Cm", "Dc", "Do", "Dq", "Dv", "Dx", "Ec", "Em", "Eo", "Er", "Es", "Ev", "Fa",
    "Fc", "Fl", "Fn", "Fo", "Ft", "Fx", "Ic", "It", "Li", "Lk", "Ms", "Mt", "Nm", "No", "Ns",
    "Nx", "Oc", "Oo", "Op", "Ox", "Pa", "Pc", "Pf", "Po", "Pq", "Qc", "Ql", "Qo", "Qq", "Sc",
    "Sh", "So", "Sq", "Ss", "St", "Sx", "Sy", "Ta", "Tn", "Ux", "Va", "Vt", "Xc", "Xo", "Xr",
    "D1", "Dl", "In",
})  # fmt: skip
_MDOC_ENCLOSE = {"Op": "[", "Pq": "(", "Dq": '"', "Qq": '"', "Sq": "'", "Aq": "<", "Bq": "[",
                 "Brq": "{", "Ql": "'"}  # fmt: skip
_MDOC_OPEN = {"Oo": "[", "Po": "(", "Do": '"', "Qo": '"', "So": "'", "Ao": "<", "Bo": "[",
              "Bro": "{"}  # fmt: skip
_MDOC_CLOSE = {"Oc": "]", "Pc": ")", "Dc": '"', "Qc": '"', "Sc": "'", "Ac": ">", "Bc": "]",
               "Brc": "}"}  # fmt: skip
_MDOC_WORDS = {"Ux": "UNIX", "Bx": "BSD", "Bsx": "BSD/OS", "Ox": "OpenBSD", "Nx": "NetBSD",
               "Fx": "FreeBSD", "Dx": "DragonFly", "At": "AT&T UNIX"}  # fmt: skip
_PAIRS = {"[": "]", "(": ")", "<": ">", "{": "}", '"': '"', "'": "'"}
_PUNCT_AFTER = set(".,;:)]?!")  # mdoc delimiters that stick to the word before
# the NAME line's separator: the first " \- " (or " - ", " -- ", " \(em "), else a "\- "
_NAME_SEP = re.compile(r"\s(?:\\-|-|--|\\-\\-|\\\(em|\\\[em\]|\\\(en)\s|\\-\s")


def _strip_comment(line: str) -> str:
    """``line`` without its ``\\"`` or ``\\#`` comment (a ``\\\\"`` is not one)."""
    i = 0
    while True:
        i = line.find("\\", i)
        if i < 0 or i + 1 >= len(line):
            return line
        if line[i + 1] in '"#':
            return line[:i]
        i += 2


def _args(text: str) -> list[str]:
    """A macro's arguments: split at spaces, ``"quoted args"`` kept whole, escapes intact."""
    args: list[str] = []
    cur: list[str] = []
    started = quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            m = _ESCAPE.match(text, i)
            token = m.group(0) if m else c
            cur.append(token)
            started = True
            i += len(token)
            continue
        if quoted:
            if c == '"' and text[i + 1 : i + 2] == '"':
                cur.append('"')
                i += 1
            elif c == '"':
                quoted = False
            else:
                cur.append(c)
        elif c in " \t":
            if started:
                args.append("".join(cur))
                cur, started = [], False
        elif c == '"' and not started:
            quoted = started = True
        else:
            cur.append(c)
            started = True
        i += 1
    if started:
        args.append("".join(cur))
    return args


def _condition(text: str) -> tuple[bool, str]:
    """Evaluate the condition at the start of an ``.if``/``.ie`` as nroff (groff) would.

    Returns ``(value, the rest of the line)``: ``n`` is true, ``t``/``e``/``o`` false, groff's
    ``\\n(.g`` true, ``'a'b'`` compares strings; anything else (numeric expressions) false.
    """
    text = text.lstrip()
    negate = text.startswith("!")
    if negate:
        text = text[1:]
    m = re.match(r"""(?:([ntoe])|\\n(?:\(\.g|\[\.g\])|(['"])(.*?)\2(.*?)\2)(?=\s|\\\{|$)""", text)
    if m:
        value = m[1] == "n" if m[1] else (m[3] == m[4] if m[2] else True)
        rest = text[m.end() :]
    else:  # a numeric expression: false
        value = False
        rest = text.split(None, 1)[1] if len(text.split(None, 1)) > 1 else ""
    return value != negate, rest.lstrip()


def _chr(code: int) -> str:
    """The character of a code point, "" for a number that is none (or a lone surrogate, which
    UTF-8 cannot write): ``\\[uD800]``, ``\\N'99999999'``."""
    return chr(code) if code < 0x110000 and not 0xD800 <= code < 0xE000 else ""


class _Reader:
    """The strings, character translations and sections of one page (see :func:`parse_page`)."""

    def __init__(self) -> None:
        self.strings = {"R": "(R)", "Tm": "(TM)", "lq": '"', "rq": '"', "S": "", "Aq": "'"}
        self.chars = dict(_CHARS)
        self.mdoc = False
        self.name = ""  # mdoc: the first .Nm argument
        self.mdoc_summary = ""  # mdoc: the .Nd text
        self.spacing = True  # mdoc: .Sm off joins the words of macro lines
        self.sections: dict[str, list[str]] = {}
        self.section = ""
        self.heading_next = False  # .SH without arguments: the next text line is the heading
        self.expansions = 0  # strings interpolated by the current call of text()

    # ------------------------------------------------------------------ escapes

    def char(self, name: str) -> str:
        if name in self.chars:
            return self.chars[name]
        if re.fullmatch(r"u[0-9A-Fa-f]{4,6}", name):
            return _chr(int(name[1:], 16))
        if re.fullmatch(r"char[0-9]{1,7}", name):
            return _chr(int(name[4:]))
        if len(name) == 2 and name[0] in _ACCENTS:
            return unicodedata.normalize("NFC", name[1] + _ACCENTS[name[0]])
        return ""

    def text(self, raw: str, depth: int = 0) -> str:
        """``raw`` with every escape replaced by what it prints (``""`` for most)."""
        if depth == 0:
            self.expansions = 0

        def one(m: re.Match[str]) -> str:
            if m["slong"] is not None or m["s2"] is not None or m["s1"] is not None:
                name = m["slong"] if m["slong"] is not None else m["s2"] or m["s1"]
                value = self.strings.get(name.split(" ")[0], "")
                self.expansions += 1
                ok = depth < 8 and self.expansions <= _MAX_EXPANSIONS
                return self.text(value, depth + 1) if ok else ""
            if m["c2"] is not None or m["clong"] is not None:
                return self.char(m["c2"] if m["c2"] is not None else m["clong"])
            if m["delim"]:
                kind, body = m["delim"], m["body"]
                if kind == "N" and re.fullmatch("[0-9]{1,7}", body):
                    return _chr(int(body))
                if kind == "C":
                    return self.char(body)
                return self.text(body, depth + 1) if kind in "Zo" and depth < 8 else ""
            if m["one"] is not None:
                c = m["one"]
                return _ONE.get(c, "" if c in _SILENT else c)
            return ""

        return _ESCAPE.sub(one, raw)

    # ------------------------------------------------------------------ requests

    def define_string(self, args_text: str) -> None:
        name, _, value = args_text.strip().partition(" ")
        if name:
            value = value.lstrip()
            self.strings[name] = value[1:] if value.startswith('"') else value

    def translate(self, args_text: str) -> None:
        """``.tr``: pairs of characters; only special characters (``\\(*W``) are translated."""
        parts = re.findall(r"\\\(..|\\\[[^\]]*\]|\\.|.", args_text.strip())
        for a, b in zip(parts[::2], parts[1::2], strict=False):
            if a.startswith(("\\(", "\\[")):
                self.chars[a[2:4] if a[1] == "(" else a[2:-1]] = self.text(b)

    def add(self, raw: str) -> None:
        """Add text to the current section (or make it the heading of an argument-less .SH)."""
        if self.heading_next:
            self.heading_next = False
            self.start_section(raw)
        elif self.section:
            self.sections.setdefault(self.section, []).append(raw)

    def start_section(self, raw: str) -> None:
        self.section = " ".join(self.text(raw).split()).upper()
        self.sections.setdefault(self.section, [])

    def mdoc_line(self, name: str, args: list[str]) -> str:
        """The text of an mdoc macro line (its arguments may call further macros)."""
        out: list[str] = []
        closers: list[str] = []  # of the enclosures (.Op, .Pq, .Dq...) open to the line's end
        glue = False  # no space before the next word
        tokens = [name, *args]
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            plain_next = bool(nxt) and nxt not in _MDOC_INLINE and nxt not in _PUNCT_AFTER
            word = None
            if tok in _MDOC_ENCLOSE or tok in _MDOC_OPEN:
                opener = _MDOC_ENCLOSE.get(tok) or _MDOC_OPEN[tok]
                out.append(("" if glue or not out or not self.spacing else " ") + opener)
                if tok in _MDOC_ENCLOSE:
                    closers.append(_PAIRS[opener])
                glue = True
            elif tok in _MDOC_CLOSE:
                out.append(_MDOC_CLOSE[tok])
            elif tok == "Ns":
                glue = True
            elif tok == "Fl":  # .Fl a -> -a
                word = "-" + (nxt if plain_next else "")
                i += plain_next
            elif tok == "Xr" and plain_next:  # .Xr ls 1 -> ls(1)
                sec = tokens[i + 2] if i + 2 < len(tokens) else ""
                has_sec = bool(sec) and sec not in _MDOC_INLINE and sec not in _PUNCT_AFTER
                word = f"{nxt}({sec})" if has_sec else nxt
                i += 1 + has_sec
            elif tok == "Nm":  # the page's name, given by its first use
                self.name = self.name or (nxt if plain_next else "")
                word = nxt if plain_next else self.name
                i += plain_next
            elif tok == "Fn" and plain_next:  # .Fn open path flags -> open(path, flags)
                fargs = [a for a in tokens[i + 2 :] if a not in _MDOC_INLINE]
                word = f"{nxt}({', '.join(fargs)})"
                i = len(tokens)
            elif tok == "St" and plain_next:  # .St -p1003.1 -> p1003.1
                word = nxt.lstrip("-")
                i += 1
            elif tok in _MDOC_WORDS:
                word = _MDOC_WORDS[tok]
            elif tok not in _MDOC_INLINE:  # a font or semantic macro: its arguments are the text
                word = tok
            if word:
                sticks = glue or not out or word in _PUNCT_AFTER or not self.spacing
                out.append(("" if sticks else " ") + word)
                glue = False
            i += 1
        tail: list[str] = []  # enclosures close before the line's trailing punctuation
        while out and out[-1].strip() in _PUNCT_AFTER and closers:
            tail.insert(0, out.pop())
        return "".join(out) + "".join(reversed(closers)) + "".join(tail)

    def request(self, name: str, rest: str) -> None:
        """One macro or request line, conditionals and blocks already handled."""
        args = _args(rest)
        if name in ("SH", "Sh"):
            if args:
                self.start_section(" ".join(args))
            else:
                self.heading_next = True
            return
        if name == "ds":
            self.define_string(rest)
        elif name == "tr":
            self.translate(rest)
        elif name == "Sm" and self.mdoc:
            self.spacing = not args or args[0] != "off"
        elif name == "Nd" and self.mdoc:
            self.mdoc_summary = " ".join(args)
        elif name in ("SS", "Ss") or (name in ("B", "I", "SM", "SB") and args):
            self.add(" ".join(args))
        elif name in ("BR", "RB", "IR", "RI", "BI", "IB"):
            self.add("".join(args))
        elif name == "IP" and args and re.search(r"\w", self.text(args[0])):
            self.add(args[0])  # a tag with a letter or digit, not a bullet
        elif name in ("UE", "ME") and args:
            self.add(args[0])
        elif self.mdoc and name in _MDOC_INLINE | {"It"}:
            self.add(self.mdoc_line(name, args))
        elif name in _NO_TEXT:
            pass
        elif args and not all(_NUMERIC_ARG.match(a) for a in args):  # an unknown macro
            self.add(" ".join(args))


_BLOCKS = {"TS": "TE", "EQ": "EN", "PS": "PE", "de": ".", "de1": ".", "am": ".", "ig": "."}


def _logical_lines(text: str) -> list[str]:
    """The page's lines with comments removed and ``\\``-continued lines joined."""
    lines: list[str] = []
    pending = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        line = _strip_comment(line)
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:  # an odd number of backslashes: continued on the next line
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        if line.strip() in (".", "'"):
            continue
        lines.append(line)
    if pending:
        lines.append(pending)
    return lines


def _block(lines: list[str], i: int, body: str) -> tuple[list[str], int]:
    """The lines of a conditional's body starting on line ``i``: one line, or a ``\\{ ... \\}``
    block; returns ``(lines, index of the line after it)``."""
    if not body.startswith("\\{"):
        return [body] if body else [], i + 1
    depth = body.count("\\{") - body.count("\\}")
    out = [body[2:]]
    i += 1
    while depth > 0 and i < len(lines):
        depth += lines[i].count("\\{") - lines[i].count("\\}")
        out.append(lines[i])
        i += 1
    return [re.sub(r"\\[{}]", "", line) for line in out], i


def _feed(reader: _Reader, lines: list[str], stop: set[str]) -> bool:
    """Feed lines to ``reader``; returns True when the section after DESCRIPTION started."""
    last_ie = True
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line or line[0] not in ".'":
            reader.add(line)
            i += 1
            continue
        m = re.match(r"[.']\s*([^\s\\]+)(.*)", line)
        if not m:
            i += 1
            continue
        name, rest = m[1], m[2]
        if name == "do":  # groff: the rest is a request, compatibility mode off
            m = re.match(r"\s*([^\s\\]+)(.*)", rest)
            name, rest = (m[1], m[2]) if m else ("", "")
        if name in ("if", "ie", "el"):
            if name == "el":
                value, body = not last_ie, rest.lstrip()
            else:
                value, body = _condition(rest)
                last_ie = value if name == "ie" else last_ie
            block, i = _block(lines, i, body)
            if value and _feed(reader, [b for b in block if b.strip()], stop):
                return True
            continue
        if name in _BLOCKS:  # skipped up to its end: .TE, .EN, .PE, or ".." (.de, .ig)
            words = rest.split()
            end = _BLOCKS[name]
            if name == "ig" and words:
                end = words[0]
            elif name in ("de", "de1", "am") and len(words) > 1:
                end = words[1]
            end_re = re.compile(rf"[.']\s*{re.escape(end)}\s*$")
            i += 1
            while i < len(lines) and not end_re.match(lines[i]):
                i += 1
            i += 1
            continue
        if name in ("Dd", "Dt", "Os", "Sh"):
            reader.mdoc = True
        if name in ("SH", "Sh") and reader.section in stop:
            return True
        reader.request(name, rest)
        i += 1
    return False


def is_alias(text: str) -> bool:
    """Whether a page only points at another (``.so man1/foo.1``): no section heading, a ``.so``.

    Example:
        >>> is_alias('.so man3/printf.3\\n'), is_alias('.SH NAME\\nls \\\\- list\\n')
        (True, False)
    """
    lines = _logical_lines(text)
    has_so = any(re.match(r"[.']\s*so\s", line) for line in lines)
    return has_so and not any(re.match(r"[.']\s*S[Hh]\b", line) for line in lines)


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_page(text: str) -> tuple[str, str]:
    """``(summary, document)`` of a roff manual page (``man`` or ``mdoc`` macros).

    The summary is the NAME text after its first ``\\-`` (``.Nd`` in ``mdoc``); the document
    is the DESCRIPTION text, whitespace collapsed, cut to :data:`MAX_WORDS` words. Either is
    ``""`` when the page lacks it.
    """
    reader = _Reader()
    _feed(reader, _logical_lines(text), stop={"DESCRIPTION"})
    if reader.mdoc and reader.mdoc_summary:
        summary = _clean(reader.text(reader.mdoc_summary))
    else:
        raw = "\n".join(reader.sections.get("NAME", []))
        m = _NAME_SEP.search(raw)
        rest = raw[m.end() :] if m else ""
        later = _NAME_SEP.search(rest)  # a second entry: "ext3 \- ..." on a line of its own
        if later and rest.rfind("\n", 0, later.start()) > 0:
            rest = rest[: rest.rfind("\n", 0, later.start())]
        summary = _clean(reader.text(rest))
    words = reader.text("\n".join(reader.sections.get("DESCRIPTION", []))).split()
    return summary, " ".join(words[:MAX_WORDS])


# --------------------------------------------------------------------------- pages -> pairs


def page_name(filename: str) -> tuple[str, str]:
    """``(name, section)`` of a page's file name.

    Example:
        >>> page_name("systemd.unit.5.gz"), page_name("Archive::Tar.3perl.gz")
        (('systemd.unit', '5'), ('Archive::Tar', '3perl'))
    """
    stem = filename[:-3] if filename.endswith(".gz") else filename
    name, _, section = stem.rpartition(".")
    return (name, section) if name else (stem, "")


def split_of(name: str) -> str:
    """The split of a page by its name without section: sha1 % 20: 0 test, 1 dev, else train.

    Example:
        >>> split_of("ls")
        'train'
    """
    return split_by_hash(name)


def family_stem(name: str) -> str:
    """What a page name starts with before its first ``-``, ``_``, ``.`` or digit; when that is
    shorter than two characters, before its first ``-``, ``_`` or ``.``.

    Example:
        >>> [family_stem(n) for n in ("git-add", "perl5360delta", "X509_new", "ls")]
        ['git', 'perl', 'X509', 'ls']
    """
    stem = re.match(r"[^-_.\d]*", name).group(0)  # type: ignore[union-attr]
    if len(stem) < 2:
        stem = re.match(r"[^-_.]*", name).group(0)  # type: ignore[union-attr]
    return stem or name


def _top_share(texts: list[str], n_words: int) -> float:
    """The share of ``texts`` that start with their most common first ``n_words`` words."""
    heads = Counter(" ".join(t.casefold().split()[:n_words]) for t in texts)
    return heads.most_common(1)[0][1] / len(texts) if texts else 0.0


def find_families(pages: Iterable[tuple[str, str, str, str]]) -> dict[str, list[str]]:
    """Templated families among ``(id, page name, summary, document)``.

    The pages whose names share a :func:`family_stem` form a family when there are at least
    :data:`FAMILY_MIN_PAGES` of them and at least :data:`FAMILY_MIN_SHARE` of their summaries
    start with the same :data:`FAMILY_SUMMARY_WORDS` words, or of their documents (the page's
    own name replaced by ``NAME``) with the same :data:`FAMILY_DOCUMENT_WORDS` words,
    case-folded: ``perl5360delta`` "what is new for perl v5.36.0" / "This document describes
    differences ...", ``dh_installman`` "dh_installman is a debhelper program that ...".

    Returns:
        ``{stem: [ids in input order]}`` for the families found, by stem.

    Example:
        >>> pages = [(f"p{i}", f"perl5{i}delta", f"what is new for perl 5.{i}", f"v5.{i}")
        ...          for i in range(20)]
        >>> {k: len(v) for k, v in find_families(pages).items()}
        {'perl': 20}
    """
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for pid, name, summary, document in pages:
        groups.setdefault(family_stem(name), []).append(
            (pid, summary, document.replace(name, "NAME"))
        )
    families = {}
    for stem, members in sorted(groups.items()):
        if len(members) < FAMILY_MIN_PAGES:
            continue
        summary_share = _top_share([m[1] for m in members], FAMILY_SUMMARY_WORDS)
        document_share = _top_share([m[2] for m in members], FAMILY_DOCUMENT_WORDS)
        if max(summary_share, document_share) >= FAMILY_MIN_SHARE:
            families[stem] = [m[0] for m in members]
    return families


def read_pages(root: Path, package: str) -> Iterator[tuple[str, str]]:
    """``(file name, text)`` of the English pages under ``root/usr/share/man/man*/``, by path;
    symbolic links are skipped (aliases)."""
    for path in sorted((root / "usr/share/man").glob("man*/*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if path.suffix == ".gz":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as e:
                raise AttnkitError(f"{package}: cannot decompress {path.name}: {e}") from None
        yield path.name, data.decode("utf-8", errors="replace")


def make_pairs(
    pages: Iterable[tuple[str, str, str]],
) -> tuple[dict[str, list[SummaryPair]], dict[str, int], dict[str, list[str]]]:
    """Parse, filter, deduplicate and split ``(package, file name, roff text)`` pages.

    Returns:
        ``({split: pairs in reading order}, counts, families)`` (:func:`find_families`).
    """
    counts = dict.fromkeys(
        ("pages", "alias", "repeated_page", "no_summary", "no_description", "duplicate_document"),
        0,
    )
    seen_pages: set[str] = set()
    seen_documents: set[str] = set()
    splits: dict[str, list[SummaryPair]] = {s: [] for s in SPLITS}
    kept: list[tuple[str, str, str, str]] = []
    for package, filename, text in pages:
        counts["pages"] += 1
        page = filename.removesuffix(".gz")
        if page in seen_pages:
            counts["repeated_page"] += 1
            continue
        seen_pages.add(page)
        if is_alias(text):
            counts["alias"] += 1
            continue
        summary, document = parse_page(text)
        if not summary or not document:
            counts["no_summary" if not summary else "no_description"] += 1
            continue
        if document in seen_documents:
            counts["duplicate_document"] += 1
            continue
        seen_documents.add(document)
        name = page_name(filename)[0]
        pid = f"{package}/{page}"
        splits[split_of(name)].append(SummaryPair(pid, document, summary))
        kept.append((pid, name, summary, document))
    for s in SPLITS:
        counts[f"{s}_pairs"] = len(splits[s])
    return splits, counts, find_families(kept)


def _mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(len(texts), 1)


def build(
    pages: Iterable[tuple[str, str, str]], dest: str | Path, *, packages: dict[str, str]
) -> dict[str, int]:
    """Write the three splits, ``families.json`` and ``README.txt`` into ``dest``.

    Args:
        pages: ``(package, file name, roff text)`` of each page, in reading order.
        dest: the corpus folder (exists).
        packages: Debian package -> version, for the README.

    Returns:
        The counts written to the README.

    Raises:
        AttnkitError: no page gave a pair.
    """
    splits, counts, families = make_pairs(pages)
    pairs = [p for v in splits.values() for p in v]
    if not pairs:
        raise AttnkitError(f"no manual page with a NAME summary and a DESCRIPTION in {packages}")
    dest = Path(dest)
    for split, split_pairs in splits.items():
        write_split(dest, split, split_pairs)
    (dest / "families.json").write_text(
        json.dumps(families, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    by_package = Counter(p.id.split("/")[0] for p in pairs)
    lines = [
        "manpages: a Debian manual page's DESCRIPTION -> its NAME line's one-line summary.",
        "Source: the English pages (usr/share/man/man*/) of these Debian packages "
        "(apt-get download; pairs kept):",
        *(f"  {pkg} {version}: {by_package[pkg]}" for pkg, version in packages.items()),
        f"Built: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "Files: {train,dev,test}.jsonl, one {id: '<package>/<page>', document, summary} a line;",
        "  families.json: {family: [ids]}, the templated families.",
        f"Document: the DESCRIPTION section as plain text, its first {MAX_WORDS} words.",
        "Summary: the NAME text after its first '\\-' (mdoc: .Nd).",
        "Filter: symbolic links and .so aliases skipped; a page name kept once (first package);",
        "  pages without a summary or a description skipped; identical documents kept once.",
        "Split: int(sha1(page name without section).hexdigest(), 16) % 20: 0 test, 1 dev, "
        "else train.",
        f"Families: >= {FAMILY_MIN_PAGES} pages whose names share a stem (before the first "
        "'-', '_', '.' or digit)",
        f"  and >= {FAMILY_MIN_SHARE:.0%} of whose summaries share their first "
        f"{FAMILY_SUMMARY_WORDS} words or of whose documents",
        f"  (the page name replaced by NAME) their first {FAMILY_DOCUMENT_WORDS} words, "
        "case-folded.",
        "",
        *(f"{k}: {v}" for k, v in counts.items()),
        f"pairs: {len(pairs)}",
        f"mean_words_document: {_mean_words([p.document for p in pairs]):.1f}",
        f"mean_words_summary: {_mean_words([p.summary for p in pairs]):.1f}",
        *(f"family {stem}: {len(ids)} pairs" for stem, ids in families.items()),
        "",
    ]
    (dest / "README.txt").write_text("\n".join(lines), encoding="utf-8")
    return counts


def _versions(packages: Iterable[str]) -> dict[str, str]:
    """The versions ``apt-get download`` fetches (apt's candidates; ``"?"`` when unknown)."""
    packages = list(packages)
    try:
        result = subprocess.run(
            ["apt-cache", "show", "--no-all-versions", *packages],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        result = None
    found: dict[str, str] = {}
    for stanza in (result.stdout if result else "").split("\n\n"):
        name = re.search(r"^Package:\s*(\S+)", stanza, re.MULTILINE)
        version = re.search(r"^Version:\s*(\S+)", stanza, re.MULTILINE)
        if name and version:
            found.setdefault(name[1], version[1])
    return {pkg: found.get(pkg, "?") for pkg in packages}


def fetch(dest: Path) -> None:
    """Download and unpack :data:`PACKAGES` into a temporary folder, write the corpus into ``dest``.

    Raises:
        AttnkitError: apt-get cannot download a package (with the command to fix it), or no
            page gives a pair.
    """
    from attnkit.data.fetch import apt_download_extract

    with tempfile.TemporaryDirectory(prefix="attnkit-manpages-") as tmp:
        roots = {pkg: apt_download_extract([pkg], Path(tmp) / pkg) for pkg in PACKAGES}
        versions = _versions(PACKAGES)
        pages = (
            (pkg, filename, text)
            for pkg, root in roots.items()
            for filename, text in read_pages(root, pkg)
        )
        counts = build(pages, dest, packages=versions)
    pairs = sum(counts[f"{s}_pairs"] for s in SPLITS)
    log.info(f"  {pairs} pairs from {counts['pages']} pages")
