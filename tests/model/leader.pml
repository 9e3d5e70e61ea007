/*
 * leader.pml -- the leader record, release markers and late writes
 * (docs/algorithms.md section 2; src/lease/paxos.c attempt(), release_leader(),
 * check_still_ours()).
 *
 * One resource, NH hosts, instances 1..MAXV.  Agreement within an instance is
 * abstract here (disk_paxos.pml checks it, with late writes too): the first host
 * to reach phase 2 of instance n decides chosen[n] (itself); every later ballot
 * of n adopts it.  dbl[h] is the newest instance in which host h wrote a value
 * into its dblock (its phase 2; catch-up ballots write one too).  What this model
 * is about is what hosts do with the LEADER record, which every host writes
 * (W3 announcements, catch-ups, releases), so an old write of any host that hung
 * in the storage path can land over a newer one at any later moment (process
 * Lander), also after its writer died.  A host has at most one such write
 * pending and writes the leader again only once it landed (the disk layer
 * refuses: src/disk/disk.c lingering writes).  The release marker lives in the
 * releasing host's own sector (written by it alone).
 *
 * A host: acquire EX (retrying when refused), hold, release; or crash at any
 * moment (process Crasher; a crashed host is dead to everyone: the timing rule,
 * timing.pml, makes "dead" safe to act on, and its holder was killed before).
 * A failed W3 of a won instance (it hung) leaves the host in doubt: it
 * "resolves", i.e. acquires again and releases what it gets.
 *
 * Properties (assertions):
 *   EXCL   at most one host uses the resource at a time;
 *   OWN    a live holder that releases always finds its lease still its own
 *          (the long torture's "host 6 lost a lease it held while its lockspace
 *          was valid");
 *   STUCK  a host is refused only in the name of a live host that owns the
 *          lease (won it and has not yet released it): a stale leader never
 *          keeps a lease held by nobody.
 *
 * Knobs: NH (3; run.sh uses 2), MAXV (3), CRASHES (1), LATE (1: leader writes
 * can hang and land late; 0: they land at once, but a writer may still be slow
 * between its read and its write, which regresses the leader just the same).
 *
 * Phase 1 is a step of its own: W1 of a new instance n erases the host's value
 * of an older instance (its dblock now shows n with no value, p1[h] = n) and
 * records the leader of n - 1 it acted on (p1o[h], 0 = free: the dblock's
 * prev fields); the host may stop there (aborted, an I/O error, or a crash)
 * and never reach phase 2.  If an old leader write then lands over the leader
 * of n - 1, the newest instance has nothing to adopt (torture seed 911013):
 * R1 restores the recorded leader of n - 1 (restore_lost_leader).  A catch-up
 * ballot stays one step (its instance already has a value, so its phase-1
 * state never is the newest instance's only one).
 *
 * Mutants (-DMUTANT=n), each a rule the code follows:
 *   1  release trusts the leader record alone (the code before the fix: only
 *      an old leader naming us was seen through)
 *   2  no release marker: the free leader is the only record of a release
 *   3  acquire acts on a leader that a later instance supersedes (no catch-up
 *      first): refuses in the name of a stale owner
 *   4  the marker is written before the holder stops using the resource
 *   5  no restore of a lost leader behind a phase-1-only instance (the code
 *      before the fix: catch up, nothing to adopt, abort, for ever): STUCK
 * Vacuity (-DREACH=n, must be reached): 1 a late leader write lands over a
 *   newer leader; 2 a host releases through a stale leader (check_still_ours'
 *   second case); 3 R1 restores a lost leader from a phase-1 record.
 */

#ifndef NH
#define NH 3
#endif
#ifndef MAXV
#define MAXV 3
#endif
#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef LATE
#define LATE 1
#endif
#ifndef MUTANT
#define MUTANT 0
#endif
#ifndef REACH
#define REACH 0
#endif

/* hosts are 1..NH; 0 = nobody */
byte chosen[MAXV + 2];
byte dbl[NH + 1];
byte p1[NH + 1];            /* host h's dblock shows instance p1[h] with no value (0 none) */
byte p1o[NH + 1];           /* ... and records the leader of p1[h] - 1: its EX owner, 0 = free */
byte relm[NH + 1];          /* instance whose release marker host h wrote */
byte ldr_v, ldr_o;          /* the leader record: lver, EX owner (0 = free) */
bool lw[NH + 1];            /* a hung leader write of host h, still to land */
byte lw_v[NH + 1], lw_o[NH + 1];
bool dead[NH + 1];
byte owns[NH + 1];          /* instance h won and has not released (0 none) */
byte holder;                /* who uses the resource now */
byte crashes;

/* Write the leader (v, o) as host h.  landed: it is on disk now. */
inline write_leader(wv, wo) {
  if
  :: lw[h] -> landed = false                 /* refused: our old one may land */
  :: !lw[h] -> ldr_v = wv; ldr_o = wo; landed = true
#if LATE
  :: !lw[h] -> lw[h] = true; lw_v[h] = wv; lw_o[h] = wo; landed = false
#endif
  fi
}

/* m: the newest instance any dblock shows with a value; mx: the newest
 * instance any dblock shows at all (phase 1 only included) */
inline max_dbl() {
  m = 0; mx = 0; i = 1;
  do
  :: i <= NH ->
     if :: dbl[i] > m -> m = dbl[i] :: else fi;
     if :: dbl[i] > mx -> mx = dbl[i] :: else fi;
     if :: p1[i] > mx -> mx = p1[i] :: else fi;
     i++
  :: else -> break
  od
}

/* restore_lost_leader: the leader of mx - 1 a proposer of mx recorded (a free
 * one if any), then its owner's release marker as for any leader */
inline restore() {
  L = mx - 1; O = 255; i = 1;
  do
  :: i <= NH ->
     if :: p1[i] == mx && (O == 255 || p1o[i] == 0) -> O = p1o[i] :: else fi;
     i++
  :: else -> break
  od;
  assert(O != 255);        /* mx has no value, so a phase-1 record made it the newest */
#if MUTANT != 2
  if :: O != 0 && relm[O] == L -> O = 0 :: else fi;
#endif
#if REACH == 3
  assert(false);
#endif
  skip
}

proctype Host(byte h) {
  byte L, O, m, mx, i, inst, v;
  bool landed, catchup, resolving;

  {
  skip;
acquire:
  /* R1: leader and dblocks, one read; apply the owner's release marker */
  atomic {
    L = ldr_v; O = ldr_o;
#if MUTANT != 2
    if :: O != 0 && relm[O] == L -> O = 0 :: else fi;
#endif
    max_dbl();
    catchup = false;
    if
    :: mx > L + 1 && m < mx ->                   /* the leader of mx - 1 was lost */
#if MUTANT != 5
       restore()
#else
       assert(false)                             /* STUCK: aborts for ever */
#endif
    :: else
    fi;
#if MUTANT != 3
    if :: mx > L && m == mx -> catchup = true :: else fi;   /* superseded: finish mx first */
#endif
    /* decided on this one read (STUCK is checked against the same moment) */
    if
    :: catchup -> inst = mx
    :: !catchup && O != 0 && O != h && !dead[O] ->
       assert(owns[O] != 0);                  /* STUCK */
       inst = 0
    :: !catchup && !(O != 0 && O != h && !dead[O]) -> inst = L + 1
    fi
  }
  L = 0; m = 0; mx = 0;                          /* scratch: keep the state space small */
  if :: inst == 0 -> O = 0; goto acquire :: else fi;   /* refused: try again */
  if :: inst > MAXV -> goto done :: else fi;

  /* W1 of a new ballot: our dblock shows inst, with no value unless ours
   * already is of inst, and records the leader we acted on; we may stop here */
  if
  :: !catchup ->
     atomic {
       if :: dbl[h] < inst -> dbl[h] = 0; p1[h] = inst; p1o[h] = O :: else fi
     };
     if
     :: skip
     :: p1[h] == inst -> O = 0; goto acquire          /* aborted after phase 1 */
     fi
  :: else
  fi;
  O = 0;

  /* the ballot (abstract): phase 2 writes our dblock; a catch-up only adopts */
  atomic {
    if
    :: chosen[inst] == 0 && !catchup -> chosen[inst] = h; owns[h] = inst
    :: chosen[inst] == 0 && catchup -> assert(false)   /* dbl[x] = n implies chosen[n] */
    :: else
    fi;
    v = chosen[inst];
    if :: dbl[h] < inst -> dbl[h] = inst; p1[h] = 0; p1o[h] = 0 :: else fi
  }
  /* W3: announce (free if its owner has released it since) */
  atomic {
    if
    :: relm[v] == inst -> write_leader(inst, 0)
    :: else -> write_leader(inst, v)
    fi
  }
  if
  :: catchup || v != h -> goto acquire        /* not ours: decide again */
  :: else
  fi;
  if
  :: !landed -> resolving = true; goto acquire   /* in doubt: resolve */
  :: else
  fi;
  if
  :: resolving -> resolving = false; goto release   /* resolved: give it back */
  :: else
  fi;

  /* hold */
  atomic { assert(holder == 0); holder = h }       /* EXCL */
#if MUTANT == 4
  relm[h] = inst;                                  /* marker while still using it */
#endif
  holder = 0;

release:
  /* R: leader and dblocks; still ours? (check_still_ours) */
  atomic {
    L = ldr_v; O = ldr_o;
    max_dbl();
#if MUTANT == 1
    assert((O == h && L == inst) || (O == h && L < inst && mx == inst));   /* OWN */
#else
    assert((O == h && L == inst) || (L < inst && mx == inst));             /* OWN */
#if REACH == 2
    assert(!(L < inst && O != h));
#endif
#endif
    L = 0; O = 0; m = 0; mx = 0
  }
#if MUTANT != 2
  atomic { relm[h] = inst; owns[h] = 0 }           /* the release */
#else
  owns[h] = 0;
#endif
  atomic { write_leader(inst, 0) }
  goto acquire;
done:
  skip
  } unless { dead[h] }
}

/* The storage path gives back a hung leader write, at any moment. */
inline land(x) {
  atomic {
    lw[x] ->
#if REACH == 1
    assert(lw_v[x] >= ldr_v);
#endif
    ldr_v = lw_v[x]; ldr_o = lw_o[x]; lw[x] = false; lw_v[x] = 0; lw_o[x] = 0
  }
}
active proctype Lander() {
end:
  do
  :: land(1)
  :: land(2)
#if NH > 2
  :: land(3)
#endif
  od
}

/* A host dies (its holder was killed first: the timing rule). */
inline crash(x) {
  atomic {
    crashes < CRASHES && !dead[x] ->
    crashes++; dead[x] = true; owns[x] = 0;
    if :: holder == x -> holder = 0 :: else fi
  }
}
active proctype Crasher() {
end:
  if
  :: crash(1)
  :: crash(2)
#if NH > 2
  :: crash(3)
#endif
  :: CRASHES == 0 -> skip
  fi
}

init {
  atomic {
    byte k = 1;
    do
    :: k <= NH -> run Host(k); k++
    :: else -> break
    od
  }
}
