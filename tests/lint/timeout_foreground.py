#!/usr/bin/env python3
"""Every `timeout` that a script of ours runs must have --foreground.

Without it, timeout(1) puts the command in a process group of its own: at a
terminal that is a background group, and a command that reads the terminal
(virsh migrate watches it for Ctrl-C) gets SIGTTIN and stops until the
timeout.  `make demo` hung so (issue 15).  Usage: timeout_foreground.py DIR...
(the shell scripts below each DIR, and files named on the command line)."""
import os
import re
import sys

WORD = re.compile(r'(?<![\w.-])timeout(?![\w.-])')
UNIT = re.compile(r'^m?s\b')  # "timeout 500 ms" in a message, not a command
DURATION = re.compile(r'^("?\$\{?\w+\}?"?|[0-9.]+[smhd]?)$')


def invocations(line):
    """(column, options) of each `timeout ... DURATION COMMAND` in line."""
    for m in WORD.finditer(line):
        toks = line[m.end():].split()
        opts = []
        i = 0
        while i < len(toks) and toks[i].startswith('-'):
            opts.append(toks[i])
            # options that take a value as the next word
            if toks[i] in ('-s', '-k', '--signal', '--kill-after') and i + 1 < len(toks):
                i += 1
            i += 1
        if i + 1 < len(toks) and DURATION.match(toks[i]) and not UNIT.match(toks[i + 1]):
            yield m.start(), opts


def check(path):
    bad = []
    with open(path, encoding='utf-8', errors='replace') as f:
        for n, line in enumerate(f, 1):
            code = line.lstrip()
            if code.startswith('#'):
                continue
            for col, opts in invocations(line):
                if '--foreground' not in opts:
                    bad.append(f'{path}:{n}: timeout without --foreground: {line.strip()}')
    return bad


def scripts(top):
    if os.path.isfile(top):
        yield top
        return
    for d, _, files in os.walk(top):
        for name in files:
            p = os.path.join(d, name)
            if name.endswith('.sh'):
                yield p
            else:
                try:
                    with open(p, 'rb') as f:
                        if f.read(32).startswith(b'#!') and b'sh' in f.readline():
                            yield p
                except OSError:
                    pass


def main():
    bad, n = [], 0
    for top in sys.argv[1:]:
        for p in scripts(top):
            n += 1
            bad += check(p)
    for b in bad:
        print(b)
    if bad:
        print(f'{len(bad)} timeout(s) without --foreground: at a terminal their command runs in a background '
              'process group and stops (SIGTTIN/SIGTTOU) when it touches the terminal; add --foreground')
        return 1
    print(f'{n} scripts checked: every timeout runs its command in the foreground')
    return 0


sys.exit(main())
