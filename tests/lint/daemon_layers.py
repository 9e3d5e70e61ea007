#!/usr/bin/env python3
"""The daemon's modules form layers: no circle of calls among them (issue 16).

What it checks: every use, in src/daemon/*.c, of a function that another
module's header declares (a call, or taking its address: `d->x = f`) is an
edge from the using module to the declaring one; the lint fails, printing
each circle, when those edges form one.  Events that go upward (a job done,
a process gone, a lockspace ready...) go through the hooks of struct
daemon_events (daemon.h), filled in by wiring.c alone, so they are no edge.
A call through a hook (`d->on.x(...)`) or a function pointer is not an
edge: that is the point of the hooks.

Why calls and not #include lines: a module may read another's structures
(state.c writes every record into RUN_DIR/state, reports.c lists them) and
then includes its header for the struct alone; the layering that matters is
who calls whom.  Every cross-module call does need the callee's header, so
the declarations in headers find them all.

Modules: a file's module is its name without the extension, except that
cmds.c, cmds_*.c, cmds_int.h are one (cmds); lockspaces.c, lockspace_*.c,
lockspaces_int.h are one (lockspaces); wdmd.c is part of watchdog; loop.c,
confcheck.c and daemon.h are the core (daemon).  jobs, jobexec and names
stay separate modules.  Usage: daemon_layers.py SRC_DAEMON_DIR"""
import os
import re
import sys
import tempfile

DECL = re.compile(r'^(?:static\s+inline\s+|extern\s+)?(?:const\s+)?(?:struct\s+|enum\s+|unsigned\s+)?'
                  r'\w+[\s*]+(\w+)\s*\(', re.M)
DEF = re.compile(r'^(?:static\s+)?(?:inline\s+)?(?:const\s+)?(?:struct\s+|enum\s+|unsigned\s+)?'
                 r'\w+[\s*]+(\w+)\s*\([^;]*?\)\s*\{', re.M | re.S)
IDENT = re.compile(r'(?<![\w.>])(?<!->)([A-Za-z_]\w*)\b')
COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')


def module(filename):
    stem = filename.rsplit('.', 1)[0]
    if stem == 'cmds' or stem.startswith('cmds_'):
        return 'cmds'
    if stem.startswith('lockspace'):
        return 'lockspaces'
    if stem == 'wdmd':
        return 'watchdog'
    if stem in ('loop', 'confcheck'):
        return 'daemon'
    return stem


def code(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    return STRING.sub('""', COMMENT.sub(' ', text))


def edges(src):
    """{(caller module, callee module): set of function names}"""
    owner = {}
    for name in sorted(os.listdir(src)):
        if name.endswith('.h'):
            for fn in DECL.findall(code(os.path.join(src, name))):
                owner.setdefault(fn, module(name))
    out = {}
    for name in sorted(os.listdir(src)):
        if not name.endswith('.c'):
            continue
        text = code(os.path.join(src, name))
        mine = module(name)
        local = set(DEF.findall(text))
        for fn in IDENT.findall(text):
            callee = owner.get(fn)
            if callee and callee != mine and fn not in local:
                out.setdefault((mine, callee), set()).add(fn)
    return out


def cycles(graph):
    """Each elementary circle once (Johnson-style search from each node in
    order, only through nodes after it)."""
    nodes = sorted(graph)
    found = []

    def walk(start, node, path, seen):
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.append(path[:])
            elif nxt > start and nxt not in seen:
                seen.add(nxt)
                path.append(nxt)
                walk(start, nxt, path, seen)
                path.pop()
                seen.discard(nxt)

    for s in nodes:
        walk(s, s, [s], {s})
    return found


def knots(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def self_test():
    """The detector sees a circle through a call and through an address
    taken, and none through a hook (else this lint could never fail)."""
    files = {
        'a.h': 'void a_run(int x);\n',
        'a.c': '#include "a.h"\n#include "b.h"\nvoid a_run(int x) { b_run(x); }\n',
        'b.h': 'int b_run(int x);\n',
        'b.c': '#include "b.h"\n#include "a.h"\nint b_run(int x) { void (*f)(int) = a_run; return x; }\n',
        'c.h': 'void c_run(void);\n',
        'c.c': '#include "c.h"\n#include "a.h"\nvoid c_run(void) { a_run(1); }\n'
               'void c_up(struct d *d) { d->on.b_run(1); }\n',
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in files.items():
            with open(os.path.join(tmp, name), 'w', encoding='utf-8') as f:
                f.write(text)
        e = edges(tmp)
    graph = {}
    for (a, b) in e:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    assert sorted(e) == [('a', 'b'), ('b', 'a'), ('c', 'a')], e
    assert cycles(graph) == [['a', 'b']], cycles(graph)


SHOWN = 30  # circles printed in full, shortest first


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    self_test()
    e = edges(sys.argv[1])
    graph = {}
    for (a, b) in e:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    found = sorted(cycles(graph), key=lambda c: (len(c), c))
    for comp in knots(graph):
        print('modules in a circle: ' + ' '.join(comp))
        for a in comp:
            for b in comp:
                if (a, b) in e:
                    print('    %s -> %s: %s' % (a, b, ' '.join(sorted(e[(a, b)]))))
    for c in found[:SHOWN]:
        print('circle: ' + ' -> '.join(c + [c[0]]))
    if found:
        print('%d circle(s) among the daemon\'s modules%s: route the upward call through a hook of '
              'struct daemon_events (daemon.h, wired in wiring.c)'
              % (len(found), ' (the %d shortest shown)' % SHOWN if len(found) > SHOWN else ''))
        return 1
    print('no circle among the daemon\'s %d modules (%d edges)' % (len(graph), len(e)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
