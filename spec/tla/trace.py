#!/usr/bin/env python3
"""Prints a TLC counterexample of FieldMerge.tla in a compact form.

Usage: trace.py TLC_OUTPUT_FILE

TLC prints whole states; this keeps what a reader needs: the action of
each step, the log, and per node its registers, outbox, cursor and the
conflict reports and lost edits (ghost). Registers print as
`value@at/writer origin base`, with writers c1.. (clients), agent,
legacy, boot, and bases `first`, `legacy` or `saw(at/writer)`.
"""
import re
import sys


def freeze(x):
    """A hashable copy of a parsed value: dicts as sorted item tuples."""
    if isinstance(x, dict):
        return tuple(sorted((k, freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(freeze(v) for v in x)
    return x


class Parser:
    """A parser for the TLA+ values TLC prints."""

    def __init__(self, text):
        self.s = text
        self.i = 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\r\n":
            self.i += 1

    def peek(self, tok):
        self.ws()
        return self.s.startswith(tok, self.i)

    def eat(self, tok):
        self.ws()
        if not self.s.startswith(tok, self.i):
            raise ValueError(f"expected {tok!r} at {self.s[self.i:self.i + 40]!r}")
        self.i += len(tok)

    def value(self):
        self.ws()
        c = self.s[self.i]
        if self.peek("<<"):
            self.eat("<<")
            items = self.items(">>")
            return tuple(items)
        if c == "[":
            self.eat("[")
            rec = {}
            if self.peek("]"):
                self.eat("]")
                return rec
            while True:
                m = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\|->").match(self.s, self.i)
                self.i = m.end()
                rec[m.group(1)] = self.value()
                if self.peek(","):
                    self.eat(",")
                    continue
                self.eat("]")
                return rec
        if c == "{":
            self.eat("{")
            # A set of records (the ghost sets of R12.5): records and
            # functions frozen, so the set can hold them.
            return frozenset(freeze(x) for x in self.items("}"))
        if c == "(":
            self.eat("(")
            fn = {}
            while True:
                k = self.value()
                self.eat(":>")
                fn[k] = self.value()
                if self.peek("@@"):
                    self.eat("@@")
                    continue
                self.eat(")")
                return fn
        if c == '"':
            j = self.s.index('"', self.i + 1)
            v = self.s[self.i + 1:j]
            self.i = j + 1
            return v
        m = re.compile(r"-?\d+|TRUE|FALSE").match(self.s, self.i)
        if m:
            self.i = m.end()
            t = m.group(0)
            return {"TRUE": True, "FALSE": False}.get(t, int(t) if t[-1].isdigit() else t)
        raise ValueError(f"cannot parse at {self.s[self.i:self.i + 40]!r}")

    def items(self, close):
        out = []
        if self.peek(close):
            self.eat(close)
            return out
        while True:
            out.append(self.value())
            if self.peek(","):
                self.eat(",")
                continue
            self.eat(close)
            return out


def as_map(v):
    """TLC prints a function with domain 1..n as a sequence."""
    if isinstance(v, tuple):
        return {i + 1: x for i, x in enumerate(v)}
    return v


def main():
    text = open(sys.argv[1]).read()
    nc = 2
    blocks = re.split(r"\nState (\d+): <([^\n]*)>\n", text)
    for m in re.finditer(r"^Error: (Invariant \S+ is violated|Temporal properties were violated)", text, re.M):
        print(m.group(0))
    for k in range(1, len(blocks) - 1, 3):
        num, action, body = blocks[k], blocks[k + 1], blocks[k + 2]
        body = re.split(r"\n\n", body)[0]
        state = {}
        for part in re.split(r"(?m)^/\\ ", body):
            if " = " not in part:
                continue
            name, val = part.split(" = ", 1)
            state[name.strip()] = Parser(val).value()
        nc = len(state.get("lastSeq", ())) or nc
        names = {0: "-"}
        for c in range(1, nc + 1):
            names[c] = f"c{c}"
        names[nc + 1], names[nc + 2], names[nc + 3] = "agent", "legacy", "boot"

        def ver(v):
            return f"{v[0]}/{names.get(v[1], v[1])}"

        def reg(r):
            if r["org"] == "none":
                return "-"
            b = r["base"]
            base = "first" if b == (-1, 0) else "legacy" if b == (-2, 0) else f"saw({ver(b)})"
            return f"{r['val']}@{r['at']}/{names[r['by']]} {r['org']} {base}"

        def change(ch):
            regs = ", ".join(f"{f}={reg(r)}" for f, r in sorted(as_map(ch["w"]).items()))
            who = f"{names[ch['c']]}#{ch['seq']}" if ch["c"] else "server"
            return f"{who}{{{regs}}}"

        act = action.split(" line ")[0]
        print(f"\n[{num}] {act}")
        for i, ch in enumerate(state.get("log", ()), 1):
            print(f"    log[{i}] {change(ch)}")
        for n, st in sorted(as_map(state["nodes"]).items()):
            who = "server" if n == 0 else names[n]
            regs = "  ".join(f"{f}={reg(r)}" for f, r in sorted(as_map(st["regs"]).items()))
            line = f"    {who:6} {regs}"
            if n:
                cur = "none" if st["cursor"] == -1 else st["cursor"]
                line += f"  | cursor {cur}{' hydrating' if st['hydr'] else ''}"
                line += f" outbox {[c['seq'] for c in st['outbox']]}"
                line += f" clock seen {st['seen']} stamped {st['stamped']}"
            print(line)
            for e in sorted(st["reports"]):
                print(f"           reported conflict: {e[0]} loser {ver(e[1])} ({e[3]}) winner {ver(e[2])}")
            for e in sorted(st["lost"]):
                print(f"           lost user edit:    {e[0]} loser {ver(e[1])} ({e[3]}) winner {ver(e[2])}")
            flags = [k for k in ("replay", "bootBad") if st[k]] + (["anomaly"] if st["anom"] else [])
            if flags:
                print(f"           flags: {', '.join(flags)}")


if __name__ == "__main__":
    main()
