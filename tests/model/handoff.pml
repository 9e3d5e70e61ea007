/*
 * handoff.pml -- migration hand-off with "only at version"
 * (docs/algorithms.md section 2 "Only-at-version", DESIGN.md section 6;
 * src/lease/paxos.c sm_paxos_acquire with a required lver, sm_paxos_release).
 *
 * Leader record {own, lver}; lver only grows (+1 per decided instance, release
 * keeps it).  Each instance n = lver + 1 is one Disk Paxos instance, abstracted
 * as one atomic decision: the first ballot to decide instance n fixes its winner
 * (inst[n]); every later ballot of instance n learns that winner (disk_paxos.pml
 * checks that abstraction).  An acquire:
 *   R1  read the leader
 *   step 2  only-at-version V and lver != V -> SM_ELVER_MISMATCH;
 *           held by us -> ours (re-acquire after an in-doubt failure);
 *           held by a live host -> SM_EHELD; free or dead holder -> run n = lver+1
 *   ballot  may fail before W2 (nothing chosen), decide, or end in doubt (chosen
 *           for us but we do not know: never reported granted; the daemon later
 *           completes it and releases it)
 *   W3  the winner writes the leader {me, n}.
 *
 * Source S holds EX at lver v (= 1) and runs.  S pauses, reads v, releases
 * (lver stays v), sends v in the migration cookie.  Destination D acquires only
 * at v and resumes; or fails (before acquiring, or after acquiring: the guest did
 * not start, D releases); D may also crash after resuming (then dead).  If D
 * reports failure (or crashed before resuming), S re-acquires only at v and
 * resumes.  A third party T may at any time acquire normally (when free or held
 * by a dead host), run, release; NT times.
 *
 * Properties (assertions):
 *   P1  at most one of S, D, T runs the guest at any time;
 *   P2  S or D resumes only if no other party won the lease since S paused.
 *
 * Options (a documented finding, see README):
 *   -DSTALE_LEADER  a loser's W3 of the instance that gave S the lease (which
 *                   writes {S, v}) lands late, after S released: S's
 *                   re-acquire then takes the "held by us -> ours" shortcut. FAILS.
 *   -DFIX_SHORTCUT  the proposed fix: a leader naming us counts as "ours" only
 *                   if our daemon is in doubt about that version (never after we
 *                   released it); otherwise we run instance lver+1 like anyone.
 * Vacuity checks (-DREACH=n, SPIN must find the "violation"): 1 D resumes;
 * 2 S resumes after D failed.
 *
 * Mutants (-DMUTANT=n):
 *   1  D acquires without the version check
 *   2  S re-acquires without the version check
 *   3  the version travels truncated to 1 bit (compared modulo 2)
 */

#ifndef NT
#define NT 2
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH           /* vacuity checks, must FAIL: see run.sh */
#define REACH 0
#endif
#ifndef FIX_SHORTCUT
#define FIX_SHORTCUT 0
#endif

#define SRC 1
#define DST 2
#define TP  3
#define OK   1
#define FAIL 2
#define NI   8          /* instances 1 .. NI-1 */

byte own = SRC, lver = 1;       /* the leader record */
byte inst[NI];                  /* winner of each instance, 0 = undecided */
bool running[4], dead[4];
bool paused = false;
byte held_since = 0;            /* parties that won an instance since the pause */
byte cookie = 0;                /* v, from S to D */
byte dres = 0;                  /* D's verdict: OK / FAIL */

#if MUTANT == 3
#define SAMEV(a, b) (((a) % 2) == ((b) % 2))
#else
#define SAMEV(a, b) ((a) == (b))
#endif

#define P1(me)  assert(!running[SRC] && !running[DST] && !running[TP])
#define P2(me)  assert((held_since & ~(1 << (me))) == 0)

/* acquire for `me`; want = required lver (0: any).  Sets res, n. */
inline acquire(me, want) {
  res = FAIL;
  atomic { lo = own; lv = lver }                           /* R1 */
  if
  :: want != 0 && !SAMEV(lv, want) -> skip                 /* SM_ELVER_MISMATCH */
  :: want == 0 || SAMEV(lv, want) ->
     if
     :: lo == me && !FIX_SHORTCUT -> res = OK                   /* "ours" */
     :: lo != me && lo != 0 && !dead[lo] -> skip                /* SM_EHELD */
     :: lo == 0 || (lo != me && dead[lo]) || (lo == me && FIX_SHORTCUT) ->
        n = lv + 1;
        if
        :: skip                                                  /* error before W2 */
        :: atomic {                                              /* the ballot decides */
             if
             :: inst[n] == 0 ->
                inst[n] = me;
                if :: paused -> held_since = held_since | (1 << me) :: else fi
             :: else
             fi;
             w = inst[n]
           }
           if
           :: w == me ->
              if
              :: atomic { own = me; lver = n }; res = OK         /* W3, granted */
              :: /* in doubt: error at/after W2; the daemon resolves it later */
                 atomic { own = me; lver = n };
                 atomic { if :: own == me && lver == n -> own = 0 :: else fi }
              fi
           :: else -> skip                                       /* SM_EHELD */
           fi
        fi
     fi
  fi;
  lo = 0; w = 0
}

/* sm_paxos_release: if the leader still shows us at the version we hold, free it */
inline release(me) {
  atomic { lo = own; lv = lver };
  atomic { if :: lo == me && lv == n -> own = 0 :: else fi };
  lo = 0; lv = 0
}

active proctype Source() {
  byte v, lo, lv, w, n, res;

  (running[SRC]);                                /* init done */
  atomic { running[SRC] = false; paused = true; held_since = 0 }   /* pause, drain */
  atomic { v = lver; n = lver }              /* read the version we hold */
  release(SRC);
  cookie = v;                                /* migration cookie */
  (dres != 0);
  if
  :: dres == OK -> skip
  :: dres == FAIL ->
#if MUTANT == 2
     acquire(SRC, 0);
#else
     acquire(SRC, v);
#endif
     if
     :: res == OK ->
        atomic {
          P1(SRC); P2(SRC); running[SRC] = true;
#if REACH == 2
          assert(false)                      /* vacuity: S resumes after D failed */
#endif
        }
     :: else                                 /* the guest is lost, never run twice */
     fi
  fi
}

active proctype Dest() {
  byte lo, lv, w, n, res;

  if
  :: cookie != 0 -> dres = FAIL              /* failed before acquiring */
  :: cookie != 0 ->
#if MUTANT == 1
     acquire(DST, 0);
#else
     acquire(DST, cookie);
#endif
     if
     :: res == OK ->
        if
        :: atomic {
             P1(DST); P2(DST); running[DST] = true;
#if REACH == 1
             assert(false)                   /* vacuity: D resumes */
#endif
           };
           dres = OK;
           if
           :: atomic { running[DST] = false; dead[DST] = true }   /* crashes later */
           :: skip
           fi
        :: release(DST); dres = FAIL         /* guest did not start */
        :: dead[DST] = true; dres = FAIL     /* crashed before resuming */
        fi
     :: else -> dres = FAIL
     fi
  fi
}

active proctype Third() {
  byte k = 0, lo, lv, w, n, res;

  (running[SRC] || paused);
  do
  :: k < NT ->
     k++;
     acquire(TP, 0);
     if
     :: res == OK ->
        atomic { P1(TP); running[TP] = true };
        running[TP] = false;
        release(TP)
     :: else
     fi
  :: k >= NT -> break
  od
}

#ifdef STALE_LEADER
/* the loser of instance 1 (which S won) writes the leader {S, 1} late */
active proctype LateLoserW3() {
  (running[SRC] || paused);
  atomic { own = SRC; lver = 1 }
}
#endif

init {
  atomic { inst[1] = SRC; running[SRC] = true }
}
