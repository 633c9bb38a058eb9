----------------------------- MODULE FieldMerge -----------------------------
(***************************************************************************)
(* The core of spec/SPEC.md as a state machine, checked by TLC.            *)
(*                                                                         *)
(* One record with a few fields, NC client replicas and the server.        *)
(*   - replicas write locally (user, agent, migration origins; R2.2, R5)   *)
(*     and create the bootstrap placeholder (R10);                         *)
(*   - the server appends pushes to its log, deduplicated by client_seq    *)
(*     (R12.1), merges them into its materialized state, writes agent      *)
(*     changes and its own bootstrap row straight into the log (R12.4,     *)
(*     R10);                                                               *)
(*   - replicas pull pages after their cursor and apply a page only when   *)
(*     it starts at the cursor (R6.5, R12.2), ack their outbox (R12.1) and *)
(*     may lose their cursor and hydrate again (R6.4);                     *)
(*   - any push, push reply or page that was or could have been sent can   *)
(*     be delivered at any time, again, late, in any order (the network    *)
(*     is modelled by its closure, see "The network" below).               *)
(*                                                                         *)
(* Ghost state gives the ground truth the conflict rule is checked         *)
(* against: hist[v] is the causal past of the write with version v (a      *)
(* vector clock written as a set of versions), known[n] the causal past of *)
(* node n; every displacement of a register at a node is recorded as lost  *)
(* when the loser is user-origin, the values differ and the loser is not   *)
(* in the winner's causal past. The rule the kernel applies (R6.3, which   *)
(* only looks at base) must report exactly those.                          *)
(*                                                                         *)
(* Bug plants a known wrong kernel; each one must make TLC fail.           *)
(***************************************************************************)
EXTENDS Naturals, Integers, Sequences, FiniteSets

CONSTANTS
    NC,            \* number of client replicas
    Fields,        \* the record's fields
    Vals,          \* the values a write may set (small naturals)
    BootVal,       \* the value every bootstrap placeholder sets (R10.4)
    BootFields,    \* the fields of the bootstrap placeholder
    BootClients,   \* the clients that may create a placeholder
    LocalOrigins,  \* origins of local writes on replicas (R3.2)
    AgentWrites,   \* whether the server-side agent writes (R12.4)
    LegacyWrites,  \* whether a legacy writer (no base) writes (R6.4)
    MaxAt,         \* the clock bound: every at is in 0..MaxAt
    MaxWrites,     \* writes in total (local, agent, legacy; not bootstrap)
    MaxResets,     \* cursor resets in total (hydration rounds after a loss)
    PageSize,      \* the most changes a page carries (R12.2)
    Restores,      \* whether a client may be restored from a backup (R12.5)
    Bug            \* "none" or the planted bug

ASSUME Bug \in {"none", "tiebreak_origin", "no_witness", "realtime_bootstrap", "ack_by_seq"}
ASSUME NC \in 1..3 /\ MaxAt \in 1..9 /\ PageSize \in 1..9
ASSUME BootVal \in Vals /\ BootFields \subseteq Fields /\ BootClients \subseteq 1..NC
ASSUME LocalOrigins \subseteq {"user", "agent", "migration"}

Srv     == 0                    \* the server's node index
Clients == 1..NC                \* client c has writer id c
Nodes   == {Srv} \cup Clients
Agent   == NC + 1               \* writer id of the server-side agent
LegacyW == NC + 2               \* writer id of a legacy writer (no base)
Boot    == NC + 3               \* writer id "system:bootstrap" (R3.3)
\* Writer ids are naturals compared as numbers: the byte order of R4.2 on
\* real ids is some total order, and any fixed total order will do here.
Writers  == 1..(NC + 3)
Versions == (0..MaxAt) \X Writers

\* base: a version <<at, by>>, or one of two sentinels that sort before
\* every version, legacy before first (R4.3).
First  == <<-1, 0>>
Legacy == <<-2, 0>>

OrgRank == [user |-> 0, agent |-> 1, migration |-> 2, system |-> 3, none |-> 4]

\* The empty field: no register.
NoReg == [val |-> -1, at |-> -1, by |-> 0, org |-> "none", base |-> First]

Max(a, b) == IF a >= b THEN a ELSE b
Cmp(a, b) == IF a < b THEN -1 ELSE IF a > b THEN 1 ELSE 0
CmpPair(p, q) == IF p[1] # q[1] THEN Cmp(p[1], q[1]) ELSE Cmp(p[2], q[2])

Ver(r) == <<r.at, r.by>>                                            \* R1.2

\* R4.1-R4.2: versions compare by at, equal at by writer id.
\* Bug tiebreak_origin: equal at is broken by origin, the writer id unused.
CmpVer(r, s) ==
    IF Bug = "tiebreak_origin"
    THEN CmpPair(<<r.at, OrgRank[r.org]>>, <<s.at, OrgRank[s.org]>>)
    ELSE CmpPair(Ver(r), Ver(s))

\* R4.3: between twins, value, then origin, then base.
CmpTotal(r, s) ==
    LET v == CmpVer(r, s) IN
    IF v # 0 THEN v
    ELSE IF r.val # s.val THEN Cmp(r.val, s.val)
    ELSE IF r.org # s.org THEN Cmp(OrgRank[r.org], OrgRank[s.org])
    ELSE CmpPair(r.base, s.base)

(***************************************************************************)
(* R6: the decision for one incoming register. hydr is R6.4's delivery.   *)
(***************************************************************************)
Decide(cur, inc, hydr) ==
    IF cur = NoReg THEN "insert"                                    \* R6.1
    ELSE LET v == CmpVer(inc, cur) IN
    IF v < 0 THEN "stale"                                           \* R6.2
    ELSE IF v = 0
         THEN LET t == CmpTotal(inc, cur) IN
              IF t = 0 THEN "duplicate"                             \* R6.2
              ELSE IF t > 0 THEN "twin_won" ELSE "twin_kept"        \* R4.3
    ELSE IF cur.org # "user" THEN "silent"                          \* R6.3a
    ELSE IF cur.val = inc.val THEN "silent"                         \* R6.3b
    ELSE IF inc.base = Legacy THEN (IF hydr THEN "silent" ELSE "conflict") \* R6.4
    ELSE IF Bug = "no_witness" THEN "conflict"
    ELSE IF inc.base = Ver(cur) THEN "silent" ELSE "conflict"       \* R6.3c

Wins(d) == d \in {"insert", "twin_won", "silent", "conflict"}

VARIABLES
    nodes,     \* per node: registers, clock, outbox, cursor, ghost reports
    log,       \* the server log: a sequence of changes (server_seq = index)
    lastSeq,   \* per client: the last client_seq appended (R12.1)
    high,      \* the greatest at in the log (R12.4)
    hist,      \* ghost: causal past of each write, by version
    nwrites,   \* writes made so far
    nresets    \* cursor resets so far

vars == <<nodes, log, lastSeq, high, hist, nwrites, nresets>>

(***************************************************************************)
(* Ground truth (ghost): a register displaced at a node is a lost user     *)
(* edit when it is user-origin, the values differ and the winner's writer  *)
(* had not seen it. Legacy winners are judged by R6.4 instead (below).     *)
(***************************************************************************)
LostEdit(cur, inc, H) ==
    /\ cur # NoReg
    /\ cur.org = "user"
    /\ cur.val # inc.val
    /\ Ver(cur) \notin H[Ver(inc)]

\* What a conflict report and a lost edit are recorded as.
Event(f, cur, inc) == <<f, Ver(cur), Ver(inc), cur.org>>

\* A placeholder outranks a real write (R10.1 forbids it), in either order.
IsBoot(r) == r # NoReg /\ r.by = Boot
PlaceholderWins(cur, inc, d) ==
    \/ IsBoot(inc) /\ cur # NoReg /\ ~IsBoot(cur) /\ Wins(d)
    \/ ~IsBoot(inc) /\ IsBoot(cur) /\ ~Wins(d)

(***************************************************************************)
(* Op-based apply of one change at a node (R4.5, R6), with its ghosts.    *)
(***************************************************************************)
ApplyChange(st, ch, hydr, H) ==
    LET D    == DOMAIN ch.w
        dec  == [f \in D |-> Decide(st.regs[f], ch.w[f], hydr)]
        conf == {f \in D : dec[f] = "conflict"}
        \* Legacy winners: R6.4 is a heuristic, not exact. A report is what
        \* R6.4 says (so it counts as lost); a real loss applied live must be
        \* reported (NoMissedConflict); inside hydration it may not be (R6.4,
        \* shown by the limit LegacyHydrationHidesNoLoss).
        lost == {f \in D : /\ Wins(dec[f])
                           /\ IF ch.w[f].base = Legacy
                              THEN dec[f] = "conflict"
                                   \/ (~hydr /\ LostEdit(st.regs[f], ch.w[f], H))
                              ELSE LostEdit(st.regs[f], ch.w[f], H)}
        new  == {Ver(ch.w[f]) : f \in D}
    IN [st EXCEPT
        !.regs    = [f \in Fields |->
                        IF f \in D /\ Wins(dec[f]) THEN ch.w[f] ELSE st.regs[f]],
        !.seen    = Max(st.seen, ch.maxAt),                         \* R2.2
        !.known   = st.known \cup new \cup UNION {H[v] : v \in new},
        !.reports = st.reports \cup {Event(f, st.regs[f], ch.w[f]) : f \in conf},
        !.nrep    = st.nrep + Cardinality(conf),
        !.lost    = st.lost \cup {Event(f, st.regs[f], ch.w[f]) : f \in lost},
        !.replay  = st.replay \/ \E f \in conf : Ver(ch.w[f]) \in st.known,
        !.anom    = st.anom + Cardinality({f \in D : dec[f] \in {"twin_won", "twin_kept"}}),
        !.bootBad = st.bootBad \/ \E f \in D : PlaceholderWins(st.regs[f], ch.w[f], dec[f]),
        \* R6.4's known limits, which check.sh expects TLC to reach: a legacy
        \* winner inside hydration hides a real loss; a live legacy winner
        \* reports a value its writer had seen.
        !.lgMiss  = st.lgMiss \/ \E f \in D :
                        /\ ch.w[f].base = Legacy /\ Wins(dec[f]) /\ dec[f] # "conflict"
                        /\ LostEdit(st.regs[f], ch.w[f], H),
        !.lgFalse = st.lgFalse \/ \E f \in D :
                        /\ ch.w[f].base = Legacy /\ dec[f] = "conflict"
                        /\ ~LostEdit(st.regs[f], ch.w[f], H)]

\* Drops the outbox entries up to client_seq `through` (R12.1).
Ack(st, through) == [st EXCEPT !.outbox = SelectSeq(st.outbox, LAMBDA x : x.seq > through)]

\* R12.2: the outbox holds this very change (same number, same registers):
\* a copy restored from a backup may hold another under the same number.
OwnSame(st, ch) == \E k \in DOMAIN st.outbox : st.outbox[k].seq = ch.seq /\ st.outbox[k].w = ch.w

\* Applies changes in log order; a replica's own change coming back acks
\* everything up to it (replica.rs own_acknowledged), by content (R12.2;
\* bug: by number, which drops a restored copy's own pending write).
RECURSIVE ApplyAll(_, _, _, _)
ApplyAll(st, chs, hydr, me) ==
    IF chs = <<>> THEN st
    ELSE LET ch == Head(chs)
             s1 == ApplyChange(st, ch, hydr, hist)
             s2 == IF ch.c = me /\ (Bug = "ack_by_seq" \/ OwnSame(s1, ch))
                   THEN Ack(s1, ch.seq) ELSE s1
         IN ApplyAll(s2, Tail(chs), hydr, me)

Min(a, b) == IF a <= b THEN a ELSE b

\* R12.2: the page after `after`, at most PageSize changes, and the head.
PageOf(lg, after) ==
    [after |-> after,
     chs   |-> SubSeq(lg, after + 1, Min(after + PageSize, Len(lg))),
     head  |-> Len(lg)]

CursorOr0(st) == IF st.cursor = -1 THEN 0 ELSE st.cursor

MaxAtOf(w) == LET ats == {w[f].at : f \in DOMAIN w} IN
              CHOOSE a \in ats : \A b \in ats : a >= b

MkChange(c, seq, w) == [c |-> c, seq |-> seq, w |-> w, maxAt |-> MaxAtOf(w)]

EmptyNode ==
    [regs |-> [f \in Fields |-> NoReg],
     seen |-> 0, stamped |-> 0,           \* R2.2 (offset is 0: R12.3-4 not modelled)
     outbox |-> <<>>, nextSeq |-> 1,      \* R5.4
     cursor |-> -1, hydr |-> FALSE,       \* -1: no cursor yet (R6.4)
     known |-> {}, reports |-> {}, nrep |-> 0, lost |-> {},
     replay |-> FALSE, anom |-> 0, bootBad |-> FALSE, lgMiss |-> FALSE, lgFalse |-> FALSE,
     \* ghost (R12.5): every change this client id made, the ones a restore
     \* discarded by the user's choice, and whether it was restored
     made |-> {}, discarded |-> {}, restored |-> FALSE]

Init ==
    /\ nodes = [n \in Nodes |-> EmptyNode]
    /\ log = <<>>
    /\ lastSeq = [c \in Clients |-> 0]
    /\ high = 0
    /\ hist = [v \in Versions |-> {}]
    /\ nwrites = 0
    /\ nresets = 0

(***************************************************************************)
(* Client actions                                                          *)
(***************************************************************************)

\* The greatest at of a node's record, the genesis (0) when it has none
\* (R2.2, R7.1).
RecHigh(st) == LET ats == {st.regs[f].at : f \in {g \in Fields : st.regs[g] # NoReg}}
               IN IF ats = {} THEN 0 ELSE CHOOSE a \in ats : \A b \in ats : a >= b

\* R2.2, R5: a local write by an actor of origin o sets the fields S to v,
\* stamping only those whose value changes, at a per-record HLC stamp: any
\* `now` gives max(now, high(record) + 1), i.e. any at from that floor up.
\* Neither `seen` nor `stamped` floors it (they floor only a correction,
\* R12.4, not modelled).
Write(c, o, S, v, at) ==
    LET st  == nodes[c]
        ver == <<at, c>>
        w   == [f \in S |-> [val |-> v, at |-> at, by |-> c, org |-> o,
                             base |-> IF st.regs[f] = NoReg THEN First
                                      ELSE Ver(st.regs[f])]]       \* R5.3
        ch  == MkChange(c, st.nextSeq, w)
    IN /\ \A f \in S : st.regs[f] = NoReg \/ st.regs[f].val # v     \* R5.2
       /\ at >= RecHigh(st) + 1
       /\ hist' = [hist EXCEPT ![ver] = st.known]
       /\ nodes' = [nodes EXCEPT ![c] =
              [st EXCEPT !.regs = [f \in Fields |-> IF f \in S THEN w[f] ELSE st.regs[f]],
                         !.stamped = Max(st.stamped, at),
                         !.outbox = Append(st.outbox, ch),
                         !.nextSeq = st.nextSeq + 1,
                         !.known = st.known \cup {ver},
                         !.made = @ \cup {[seq |-> ch.seq, w |-> w]}]]
       /\ nwrites' = nwrites + 1
       /\ UNCHANGED <<log, lastSeq, high, nresets>>

\* R10.1, R10.3, R10.4: the client placeholder, only where the record is
\* absent, stamped at the genesis (bug: at the wall clock `now`).
ClientBootstrap(c, at) ==
    LET st == nodes[c]
        w  == [f \in BootFields |-> [val |-> BootVal, at |-> at, by |-> Boot,
                                     org |-> "system", base |-> First]]
    IN /\ \A f \in Fields : st.regs[f] = NoReg
       /\ nodes' = [nodes EXCEPT ![c] =
              [st EXCEPT !.regs = [f \in Fields |-> IF f \in BootFields THEN w[f] ELSE NoReg],
                         !.outbox = Append(st.outbox, MkChange(c, st.nextSeq, w)),
                         !.nextSeq = st.nextSeq + 1,
                         !.known = st.known \cup {<<at, Boot>>},
                         !.made = @ \cup {[seq |-> st.nextSeq, w |-> w]}]]
       /\ UNCHANGED <<log, lastSeq, high, hist, nwrites, nresets>>

(***************************************************************************)
(* The network, as its closure. The log is append-only and a client's      *)
(* outbox entries never change, so every message that was or could have   *)
(* been sent is determined by a few numbers:                               *)
(*   - a push is a contiguous run of the client's changes; what the server *)
(*     does with it depends only on its last client_seq `hi` (the rest are *)
(*     retries, skipped), so "some push arrives" is "the changes up to hi  *)
(*     arrive" for any hi the client has written;                          *)
(*   - a push reply acks some acked_through the server has reached, and a  *)
(*     page is the log after `after`, cut when the log had length `h`;     *)
(*     only a page at the replica's cursor does anything (R6.5).           *)
(* So no message set is kept: every step below may deliver any such        *)
(* message, again or late, in any order. This covers duplication and      *)
(* reordering of every message with no growth of the state. It also       *)
(* delivers some pages no request asked for (an older head, fewer          *)
(* changes): legal pages under a smaller limit, so nothing is lost.        *)
(***************************************************************************)

\* R6.5, R12.2: a page is applied only at the cursor; the first pull of a
\* replica without a cursor is a hydration round until a page reaches the
\* head (R6.4). Other pages are refused (not_at_cursor, head_behind) and
\* change nothing; not_consecutive cannot arise, pages are cut from the log.
ApplyPage(st, p, c) ==
    IF p.after # CursorOr0(st) \/ p.head < p.after + Len(p.chs) THEN st
    ELSE LET hy   == st.cursor = -1 \/ st.hydr
             s1   == ApplyAll(st, p.chs, hy, c)
             last == p.after + Len(p.chs)
         \* hydr only matters to legacy changes (R6.4); without them it is
         \* kept FALSE so that it does not split states.
         IN [s1 EXCEPT !.cursor = last, !.hydr = LegacyWrites /\ hy /\ last < p.head]

\* A push reply (ack through `acked`) or a page (acked = 0) arrives at c,
\* carrying the page at c's cursor cut when the log had length h.
Receive(c, acked, h) ==
    /\ nodes' = [nodes EXCEPT ![c] =
           ApplyPage(Ack(nodes[c], acked), PageOf(SubSeq(log, 1, h), CursorOr0(nodes[c])), c)]
    /\ nodes' # nodes
    /\ UNCHANGED <<log, lastSeq, high, hist, nwrites, nresets>>

\* R12.1: the log holds this change of client c (same number, registers).
LoggedSame(c, x) == \E i \in DOMAIN log : log[i].c = c /\ log[i].seq = x.seq /\ log[i].w = x.w

\* R12.1: a push of c's changes up to client_seq hi reaches the server:
\* retries are skipped when the log holds them as pushed and refused
\* (seq_reused) otherwise, a gap is refused, the rest are appended and
\* merged.
ServerPush(c, hi) ==
    LET last == lastSeq[c]
        new  == SelectSeq(nodes[c].outbox, LAMBDA x : x.seq > last /\ x.seq <= hi)
        old  == SelectSeq(nodes[c].outbox, LAMBDA x : x.seq <= Min(last, hi))
    IN /\ new # <<>>
       /\ \A k \in DOMAIN old : LoggedSame(c, old[k])                \* seq_reused
       /\ Head(new).seq = last + 1                                 \* seq_gap
       /\ log' = log \o new
       /\ nodes' = [nodes EXCEPT ![Srv] = ApplyAll(nodes[Srv], new, FALSE, Srv)]
       /\ lastSeq' = [lastSeq EXCEPT ![c] = new[Len(new)].seq]
       /\ high' = Max(high, MaxAtOf([i \in DOMAIN new |-> [at |-> new[i].maxAt]]))
       /\ UNCHANGED <<hist, nwrites, nresets>>

\* R12.5: client c is restored from a backup made before its first write,
\* the original gone: the copy starts over under the same client id and
\* reuses its numbers. The original's pending changes the log lacks are
\* discarded by the user's choice (ghost).
RestoreBackup(c) ==
    LET st == nodes[c]
    IN /\ Restores /\ ~st.restored
       /\ nodes' = [nodes EXCEPT ![c] =
              [EmptyNode EXCEPT !.restored = TRUE, !.made = st.made,
                                !.discarded = {[seq |-> st.outbox[k].seq, w |-> st.outbox[k].w] :
                                               k \in {j \in DOMAIN st.outbox : ~LoggedSame(c, st.outbox[j])}}]]
       /\ UNCHANGED <<log, lastSeq, high, hist, nwrites, nresets>>

\* A device that lost its cursor but kept its records.
ResetCursor(c) ==
    /\ nresets < MaxResets
    /\ nodes[c].cursor # -1
    /\ nodes' = [nodes EXCEPT ![c].cursor = -1, ![c].hydr = FALSE]
    /\ nresets' = nresets + 1
    /\ UNCHANGED <<log, lastSeq, high, hist, nwrites>>

(***************************************************************************)
(* Server actions                                                          *)
(***************************************************************************)

\* A server-side write straight into the log (R12.4), by the agent (base:
\* the materialized version) or by a legacy writer (no base, R6.4), stamped
\* max(now, high(record) + 1) by the server's clock.
ServerWrite(by, S, v, at) ==
    LET st  == nodes[Srv]
        ver == <<at, by>>
        w   == [f \in S |-> [val |-> v, at |-> at, by |-> by,
                             org |-> IF by = Agent THEN "agent" ELSE "user",
                             base |-> IF by = LegacyW THEN Legacy
                                      ELSE IF st.regs[f] = NoReg THEN First
                                      ELSE Ver(st.regs[f])]]
        ch  == MkChange(Srv, 0, w)
    IN /\ \A f \in S : st.regs[f] = NoReg \/ st.regs[f].val # v
       /\ at >= RecHigh(st) + 1
       /\ hist' = [hist EXCEPT ![ver] = st.known]
       /\ log' = Append(log, ch)
       /\ nodes' = [nodes EXCEPT ![Srv] = ApplyChange(st, ch, FALSE, hist')]
       /\ high' = Max(high, at)
       /\ nwrites' = nwrites + 1
       /\ UNCHANGED <<lastSeq, nresets>>

\* R10.1, R10.3: the server's bootstrap row, only where the record is absent.
ServerBootstrap(at) ==
    LET st == nodes[Srv]
        w  == [f \in BootFields |-> [val |-> BootVal, at |-> at, by |-> Boot,
                                     org |-> "system", base |-> First]]
        ch == MkChange(Srv, 0, w)
    IN /\ \A f \in Fields : st.regs[f] = NoReg
       /\ log' = Append(log, ch)
       /\ nodes' = [nodes EXCEPT ![Srv] = ApplyChange(st, ch, FALSE, hist)]
       /\ high' = Max(high, at)
       /\ UNCHANGED <<lastSeq, hist, nwrites, nresets>>

ServerWriters == (IF AgentWrites THEN {Agent} ELSE {})
                 \cup (IF LegacyWrites THEN {LegacyW} ELSE {})
BootAts == IF Bug = "realtime_bootstrap" THEN 1..MaxAt ELSE {0}
NonEmpty(S) == SUBSET S \ {{}}

\* Each step is a named action, so that TLC's traces say which one ran.
LocalWrite == \E c \in Clients, o \in LocalOrigins, S \in NonEmpty(Fields), v \in Vals,
                 at \in 1..MaxAt : nwrites < MaxWrites /\ Write(c, o, S, v, at)
LocalBootstrap == \E c \in BootClients, at \in BootAts : BootFields # {} /\ ClientBootstrap(c, at)
LoseCursor == \E c \in Clients : ResetCursor(c)
\* Pages cut before the cursor are refused (head_behind), so h starts there.
\* A restored copy gets only the replies to its own pushes: an accepted push
\* of it held only what the log holds as it holds it.
Deliver == \E c \in Clients : \E acked \in 0..lastSeq[c], h \in CursorOr0(nodes[c])..Len(log) :
               /\ nodes[c].restored =>
                    \A k \in DOMAIN nodes[c].outbox :
                        nodes[c].outbox[k].seq <= acked => LoggedSame(c, nodes[c].outbox[k])
               /\ Receive(c, acked, h)
Restore == \E c \in Clients : RestoreBackup(c)
ServerReceive == \E c \in Clients : \E hi \in 1..(nodes[c].nextSeq - 1) : ServerPush(c, hi)
ServerSideWrite == \E by \in ServerWriters, S \in NonEmpty(Fields), v \in Vals,
                      at \in 1..MaxAt : nwrites < MaxWrites /\ ServerWrite(by, S, v, at)
ServerSideBootstrap == \E at \in BootAts : BootFields # {} /\ ServerBootstrap(at)

Next ==
    \/ LocalWrite \/ LocalBootstrap \/ LoseCursor \/ Restore
    \/ Deliver \/ ServerReceive \/ ServerSideWrite \/ ServerSideBootstrap

Spec == Init /\ [][Next]_vars

(***************************************************************************)
(* Liveness: with reliable sync (a push answered and applied, a pull at    *)
(* the cursor applied), weakly fair, every behaviour ends converged.       *)
(* Both are compositions of the steps above, so they add no state.         *)
(***************************************************************************)
SyncPush(c) ==
    /\ nodes[c].outbox # <<>>
    /\ ServerPush(c, nodes[c].nextSeq - 1)

SyncPull(c) ==
    /\ nodes[c].cursor # Len(log) \/ nodes[c].outbox # <<>>
    /\ Receive(c, lastSeq[c], Len(log))

FairSpec == Spec /\ \A c \in Clients : WF_vars(SyncPush(c)) /\ WF_vars(SyncPull(c))

(***************************************************************************)
(* Properties                                                              *)
(***************************************************************************)

\* Delivery is complete: nothing pending, every cursor at the head.
Quiescent == \A c \in Clients : nodes[c].outbox = <<>> /\ nodes[c].cursor = Len(log)

Converged == \A c \in Clients : nodes[c].regs = nodes[Srv].regs

\* R4.5: once delivery is complete, every replica holds the server's state.
Convergence == Quiescent => Converged

\* R6.3: a conflict is reported exactly when a user value is displaced by a
\* write that had not seen it (R6.9: hydration or not); never twice (R6.7).
NoFalseConflict  == \A n \in Nodes : nodes[n].reports \subseteq nodes[n].lost
NoMissedConflict == \A n \in Nodes : nodes[n].lost \subseteq nodes[n].reports
ReportedOnce     == \A n \in Nodes : nodes[n].nrep = Cardinality(nodes[n].reports)

\* R6.2, R6.7: replays (re-delivery, hydration after a lost cursor) report
\* nothing: every report is the first receipt of its winner.
NoReplayConflict == \A n \in Nodes : ~nodes[n].replay

\* R6.3a: an agent, migration or system value never raises a conflict.
OnlyUserLosers == \A n \in Nodes : \A e \in nodes[n].reports : e[4] = "user"

\* R10.1: the bootstrap placeholder never outranks a real write.
PlaceholderNeverWins == \A n \in Nodes : ~nodes[n].bootBad

\* R10.4, R4.3: identical twins collapse; no anomaly with equal defaults.
NoAnomaly == \A n \in Nodes : nodes[n].anom = 0

\* R12.1: the log holds each client's changes once, in client_seq order,
\* with no gap: the k-th change of client c in the log has client_seq k.
LogInClientOrder ==
    \A i \in 1..Len(log) :
        log[i].c # Srv =>
            log[i].seq = Cardinality({j \in 1..i : log[j].c = log[i].c})

\* R12.1, R12.2, R12.5: nothing a client id wrote is dropped silently:
\* every change it made is in the log as it made it, still pending in its
\* outbox, or was discarded by the user's restore.
NothingDroppedSilently ==
    \A c \in Clients : \A m \in nodes[c].made :
        \/ LoggedSame(c, m)
        \/ \E k \in DOMAIN nodes[c].outbox : nodes[c].outbox[k].seq = m.seq /\ nodes[c].outbox[k].w = m.w
        \/ m \in nodes[c].discarded

\* R2.2, R12.5: a replica's clock is never behind its own registers: every
\* register by it is at most max(seen, stamped) (a copy restored from a
\* backup receives the original's registers, which raise `seen`).
ClockAhead == \A c \in Clients : \A f \in Fields :
    nodes[c].regs[f].by = c => nodes[c].regs[f].at <= Max(nodes[c].seen, nodes[c].stamped)

(***************************************************************************)
(* Witnesses (check.sh expects TLC to violate each): the model reaches the *)
(* cases the properties above are about, so they do not hold vacuously.   *)
(***************************************************************************)
\* A conflict is reported at a replica.
NeverAConflict == \A c \in Clients : nodes[c].reports = {}
\* A conflict between two writes stamped with the same at (R4.2 decides).
NeverAnEqualStampConflict ==
    \A n \in Nodes : \A e \in nodes[n].reports : e[2][1] # e[3][1]
\* Delivery completes after a conflict, so Convergence is checked on it.
NeverQuiescentAfterAConflict ==
    ~(Quiescent /\ \E c \in Clients : nodes[c].reports # {})
\* A node holds a write whose writer overwrote another client's value
\* (seen, so silent by R6.3c).
NeverAWitnessedOverwrite ==
    \A n \in Nodes : \A f \in Fields :
        LET r == nodes[n].regs[f] IN
        ~(r.base[1] >= 0 /\ r.base[2] \in Clients /\ r.base[2] # r.by)

\* R6.4's known limits, with LegacyWrites: check.sh expects both violated.
LegacyHydrationHidesNoLoss == \A n \in Nodes : ~nodes[n].lgMiss
LegacyLiveReportsOnlyLosses == \A n \in Nodes : ~nodes[n].lgFalse

EventuallyConverged == <>[]Converged
EventuallyQuiescent == <>[]Quiescent
=============================================================================
