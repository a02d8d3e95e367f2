/*
 * The payment protocol of paydesk as a Promela model, checked with spin by scripts/model-check.sh:
 * the claim (one open payment record per invoice, written before Stripe is called), the lease
 * (no request of an attempt reaches Stripe after it), the recovery of lost answers (find the
 * attempt's intent at Stripe by its group, rule it out once nothing can arrive) and the daily
 * autopay run's claims in plugin storage. HOSTS hosts (default 3) run manual payments, autopay
 * charges and reconciliation concurrently on two invoices; any host may crash after any step
 * (it loses its local state, the database, plugin storage and Stripe keep theirs); Stripe may lose
 * any answer, and a request may reach it late, but never after its lease.
 *
 * What the model stands for, with the code it follows:
 *   db       invoice_payments (host/src/db/helpdesk.rs `create_payments`, `update_payment`,
 *            `settle`) and its partial unique index on open records
 *            (host/src/db/schema_7_one_open_payment.sql); an invoice is paid in the transaction
 *            that makes its record succeeded.
 *   storage  the autopay claims `autopay/{invoice}/{attempt}` with versions, put_new and
 *            compare-and-swap (plugin/src/flows/autopay.rs `charge`, `resume`, `settle`).
 *   stripe   PaymentIntents by idempotency key `paydesk-pi-{group}`
 *            (plugin/src/stripe/payment_intents.rs `create`): the same key gives the same intent,
 *            never a second charge; a saved method is confirmed at creation and succeeds or is
 *            declined. Listing a customer's intents (plugin/src/flows/intents.rs `find_intent`)
 *            is strongly consistent.
 *   time     abstract: per group, "its lease has passed" (no request of it can arrive any more,
 *            plugin/src/flows/webhooks.rs `ruled_out_after` for manual payments, the claim's
 *            `lease_until` for autopay) and "a day has passed since its records were written"
 *            (`ruled_out_after` for autopay records).
 *
 * Each atomic block is one database transaction, one storage operation or one Stripe request;
 * hosts interleave between them. Reads the code makes in several calls before it decides
 * (invoice, records, claims) are one step: the decision may be stale by the time it writes, which
 * is the race the database's rules must win.
 *
 * Not modelled: new card details confirmed later in the payer's browser (`confirm_payment`,
 * `abandon`), methods that stay `processing` or need authentication, webhooks (they apply what
 * reconciliation's read of the intent applies), Stripe refusing a request outright, several
 * tenants, amounts (an invoice is payable or paid; `check_payable`'s exact-amount rule is the
 * same refusal as "already paid").
 *
 * Variants (spin -D…): NO_UNIQUE drops the unique rule (the old bug: two payers both pass
 * `check_not_in_flight` and both write records); OLD_AUTOPAY_RESUME restores autopay's resume as
 * it was before this model found its double charge (it sent a ruled-out attempt again; see
 * `attempt_charge_fixed` for what `autopay.rs` `resume` does now); HOSTS, OPS, MAXCRASH, TRIES,
 * NMAN set the bounds.
 */

#ifndef HOSTS
#define HOSTS 3
#endif
#ifndef OPS
#define OPS 2          /* operations each host starts */
#endif
#ifndef MAXCRASH
#define MAXCRASH 2     /* crashes in one run, at any step of any host */
#endif
#ifndef TRIES
#define TRIES 2        /* intents.rs TRIES is 3; each further try adds the same lost-answer case */
#endif
#ifndef NMAN
#define NMAN 2         /* manual payments (groups) in one run */
#endif

#define NI 2           /* invoices */
#define MAXATT 2       /* autopay attempts per invoice (Settings::autopay_max_attempts) */
#define NAUTO (NI * MAXATT)
#define NG (NAUTO + NMAN)
#define MAXREC (NAUTO + NI * NMAN)   /* every record a run can write: one per autopay attempt, up to NI per manual payment */

/* A payment record's status (records.rs / domain/payment_state.rs). OPEN is
 * `requires_payment_method` without an intent: the attempt's answer has not come (yet). */
#define NONE 0
#define OPEN 1
#define SUCC 2
#define FAIL 3
#define CANC 4
#define CLAIMED 1      /* an autopay claim's state before it is settled (then SUCC/FAIL/CANC) */
#define FINAL(s) ((s) == SUCC || (s) == CANC)   /* PaymentStatus::is_final (domain::payment_state) */
#define NOTFOUND 255

/* Groups 0..NAUTO-1 are autopay attempts: group `ap-{tenant}-{invoice}-{attempt}`, so its
 * idempotency key is the same for every run that makes or resumes the attempt. The others are
 * manual payments, `new_group_id`: fresh for each payment. */
#define AUTO(g) ((g) < NAUTO)
#define AG(i, a) ((i) * MAXATT + (a) - 1)
#define MASK(g) (AUTO(g) -> (1 << ((g) / MAXATT)) : gmask[g])
#define HAS(g, i) ((MASK(g) & (1 << (i))) != 0)

/* database */
bool paid[NI];
byte rec_g[MAXREC];
byte rec_i[MAXREC];
byte rec_st[MAXREC];
byte nrec;
byte gmask[NG];
byte next_man = NAUTO;

/* plugin storage: the claim of attempt a of invoice i at AG(i, a) */
byte cst[NAUTO];
byte cver[NAUTO];

/* Stripe */
byte intent[NG];       /* NONE, SUCC, FAIL */
byte charges[NI];      /* succeeded intents that pay invoice i */
byte inflight[NG];     /* create requests sent, not arrived yet */

/* time */
bool lease_exp[NG] = true; /* the current lease of group g has passed: none of its requests arrives */
bool first_exp[NG];    /* its first lease has passed */
bool day[NG];          /* a day has passed since its records were written */
byte sending[NG];      /* hosts that may still send a request of g under its current lease */

byte crashes;
byte done_hosts;
bool draining;         /* the end: hosts stopped crashing, Stripe answers, time passes */

/* A crash point: the host may stop here and lose everything it held in memory. */
#define CP if :: atomic { !draining && crashes < MAXCRASH -> crashes++ }; goto crash :: true fi

/* Stripe receives a create request of group gg: idempotent on the group's key. */
inline stripe_create(gg) {
  if
  :: intent[gg] == NONE ->
     if
     :: intent[gg] = SUCC;
        printf("MSC: stripe: group %d charged (invoices mask %d)\n", gg, MASK(gg));
        q = 0;
        do
        :: q < NI ->
           if
           :: HAS(gg, q) ->
              charges[q]++;
#ifdef PROP_SAFETY
              /* Property "charged once": never two succeeded charges of one invoice. */
              assert(charges[q] <= 1)
#endif
           :: else
           fi;
           q++
        :: else -> break
        od
     :: intent[gg] = FAIL;           /* declined */
        printf("MSC: stripe: group %d declined\n", gg)
     fi
  :: else
  fi
}

/* records.rs `apply_to_group` / `apply_intent`: every record of the group that is not final
 * takes the status (forward only); a success marks the invoice paid in the same transaction. */
inline apply_group(gg, s) {
  printf("MSC: records of group %d <- %d (2 succeeded, 3 failed, 4 canceled)\n", gg, s);
  p = 0;
  do
  :: p < nrec ->
     if
     :: rec_g[p] == gg && !FINAL(rec_st[p]) ->
        rec_st[p] = s;
        if :: s == SUCC -> paid[rec_i[p]] = true :: else fi
     :: else
     fi;
     p++
  :: else -> break
  od
}

/* An open record of invoice ii, or NOTFOUND. */
inline open_record_of(ii, out) {
  out = NOTFOUND; p = 0;
  do
  :: p < nrec -> if :: rec_i[p] == ii && rec_st[p] == OPEN -> out = p :: else fi; p++
  :: else -> break
  od
}

/* webhooks.rs `ruled_out_after`: a manual attempt once its lease has passed, an automatic one
 * a day after its records were written. */
#define RULED_OUT(g) (AUTO(g) -> day[g] : lease_exp[g])

/* helpdesk.rs `create_payments`: one transaction; every invoice must be awaiting payment and,
 * with the unique index, have no open record; all records or none. */
inline create_payments(gg, ok) {
  atomic {
    ok = true; k = 0;
    do
    :: k < NI ->
       if
       :: HAS(gg, k) ->
          if :: paid[k] -> ok = false :: else fi;
#ifndef NO_UNIQUE
          open_record_of(k, j);
          if :: j != NOTFOUND -> ok = false :: else fi;
#endif
       :: else
       fi;
       k++
    :: else -> break
    od;
    if
    :: ok ->
       k = 0;
       do
       :: k < NI ->
          if
          :: HAS(gg, k) ->
             rec_g[nrec] = gg; rec_i[nrec] = k; rec_st[nrec] = OPEN; nrec++;
             printf("MSC: record of invoice %d written, group %d\n", k, gg)
          :: else
          fi;
          k++
       :: else -> break
       od
    :: else
    fi
  }
}

/* intents.rs `create_once`: send; on a lost answer ask Stripe for the group's intent and send
 * again (same key) only if it has none; give up as "outcome unknown" when Stripe cannot be asked
 * or after TRIES tries. `res` is the intent's status, or NONE for unknown. The host is in the
 * group's lease until it returns (`sending`). */
inline create_once(gg, res) {
  t = 0; res = NONE;
  do
  :: t < TRIES ->
     t++;
     if
     :: atomic { stripe_create(gg); res = intent[gg] }; break   /* answered */
     :: !draining -> atomic { stripe_create(gg); printf("MSC: its answer lost\n") }
     :: !draining -> atomic { inflight[gg]++; printf("MSC: create of group %d on its way\n", gg) }
     fi;
     CP;
     if
     :: !draining -> break                                       /* Stripe can't be asked */
     :: atomic { intent[gg] != NONE -> res = intent[gg] }; break /* found by its group */
     :: atomic { intent[gg] == NONE } ; CP                       /* none: send again */
     fi
  :: else ->
     if
     :: !draining
     :: atomic { res = intent[gg] }
     fi;
     break
  od;
  atomic { sending[gg]--; mine = NOTFOUND; printf("MSC: create_once of group %d: %d\n", gg, res) }
}

/* webhooks.rs `resolve_unknown`: the time is read first (`now_at`), then Stripe is asked for
 * the group's intent; found, it is applied; none and ruled out, the records are cancelled,
 * which frees the invoices. */
inline resolve_unknown(gg) {
  ruled = RULED_OUT(gg);
  CP;
  if
  :: !draining -> ok = false                /* Stripe can't be asked: an error, try later */
  :: atomic { intent[gg] != NONE -> apply_group(gg, intent[gg]); ok = false }
  :: atomic { intent[gg] == NONE -> printf("MSC: resolve: no intent of group %d at Stripe (ruled out %d)\n", gg, ruled);
              if :: ruled -> apply_group(gg, CANC) :: else fi; ok = true }
  fi
}

/* payments.rs `start_payment` with a saved method: `payable` / `check_not_in_flight` (refuse
 * when paid or an attempt is open, resolving an attempt that is ruled out first), then
 * `create_and_confirm`: the records (the claim), then the intent, then its outcome. */
inline pay(m) {
  do
  :: atomic {
       j = NOTFOUND; k = 0;
       do
       :: k < NI ->
          if :: (m & (1 << k)) && paid[k] -> j = 254 :: else fi;
          if
          :: (m & (1 << k)) && j == NOTFOUND ->
             open_record_of(k, r);
             if :: r != NOTFOUND -> j = rec_g[r] :: else fi
          :: else
          fi;
          k++
       :: else -> break
       od
     };
     if
     :: j == NOTFOUND -> break                               /* payable */
     :: j != NOTFOUND && j != 254 && RULED_OUT(j) ->
        /* resolved: cancelled, look again; found at Stripe: "turned out to be …", 409 */
        CP; resolve_unknown(j); if :: !ok -> goto idle :: else fi; CP
     :: else -> goto idle                                    /* 409 */
     fi
  od;
  CP;
  atomic {
    if
    :: next_man < NG ->
       g = next_man; next_man++; gmask[g] = m;
       create_payments(g, ok);
       if :: ok -> lease_exp[g] = false; first_exp[g] = false; day[g] = false; sending[g]++; mine = g :: else fi
    :: else -> ok = false                                    /* the model's bound */
    fi
  };
  if :: !ok -> goto idle :: else fi;
  CP;
  create_once(g, res);
  CP;
  if :: res != NONE -> atomic { apply_group(g, res) } :: else fi   /* NONE: "outcome unknown" */
}

/* autopay.rs `attempt_charge` (from `charge` after a new claim, or from `resume`): the records
 * once (a refused claim gives the attempt back), the intent, its outcome, the claim settled. */
inline attempt_charge(ii, aa) {
  g = AG(ii, aa);
  atomic {
    r = NOTFOUND; k = 0;
    do
    :: k < nrec -> if :: rec_g[k] == g -> r = k :: else fi; k++
    :: else -> break
    od
  };
  CP;
  if
  :: r == NOTFOUND ->
     create_payments(g, ok);
     if
     :: !ok ->
        /* `give_back`: nothing was sent; delete the claim if it is still ours */
        CP;
        atomic {
          if :: cver[g] == v -> cst[g] = NONE; cver[g]++ :: else fi;
          sending[g]--; mine = NOTFOUND
        };
        goto idle
     :: else
     fi;
     CP
  :: else
  fi;
  create_once(g, res);
  if :: res == NONE -> goto idle :: else fi;     /* unknown: the claim keeps its lease */
  CP;
  atomic { apply_group(g, res) };
  CP;
  settle(ii, aa)
}

/* autopay.rs `settle`: the claim takes its record's status, if it is still ours. */
inline settle(ii, aa) {
  atomic {
    g = AG(ii, aa);
    s = NONE; k = 0;     /* the status of the invoice's first record of the group */
    do
    :: k < nrec && s == NONE -> if :: rec_g[k] == g -> s = rec_st[k] :: else fi; k++
    :: else -> break
    od;
    assert(s != NONE);
    if :: cver[g] == v -> cst[g] = s; cver[g]++; printf("MSC: autopay: claim of group %d settled %d\n", g, s) :: else fi
  }
}

#ifndef OLD_AUTOPAY_RESUME
/* `resume` (autopay.rs) when Stripe has no intent: if the attempt's records were written, its
 * request may have been sent, but only under the lease that has passed, so Stripe never made it:
 * cancel the records (if reconciliation has not) and settle the claim, never send again. Only
 * an attempt whose records were never written (nothing was sent) is made now. */
inline attempt_charge_fixed(ii, aa) {
  g = AG(ii, aa);
  atomic {
    j = NOTFOUND; k = 0;
    do
    :: k < nrec -> if :: rec_g[k] == g -> j = k :: else fi; k++
    :: else -> break
    od
  };
  if
  :: j != NOTFOUND ->
     atomic { sending[g]--; mine = NOTFOUND };
     CP; atomic { apply_group(g, CANC) }; CP; settle(ii, aa)
  :: else -> attempt_charge(ii, aa)
  fi
}
#endif

/* autopay.rs `resume`: take over an expired claim (compare-and-swap, a new lease), ask Stripe
 * for its intent; found, apply and settle; none, make the attempt again with the same key. */
inline resume(ii, aa) {
  g = AG(ii, aa);
  atomic {
    if
    :: cver[g] == v && cst[g] == CLAIMED ->
       cver[g]++; v = cver[g]; lease_exp[g] = false; sending[g]++; mine = g; ok = true;
       printf("MSC: autopay: resume invoice %d attempt %d\n", ii, aa)
    :: else -> ok = false
    fi
  };
  if :: !ok -> goto idle :: else fi;
  CP;
  if
  :: !draining -> atomic { sending[g]--; mine = NOTFOUND }; goto idle   /* Stripe can't be asked */
  :: atomic { intent[g] != NONE -> res = intent[g]; sending[g]--; mine = NOTFOUND };
     CP; atomic { apply_group(g, res) }; CP; settle(ii, aa)
  :: atomic { intent[g] == NONE };
#ifndef OLD_AUTOPAY_RESUME
     CP;
     attempt_charge_fixed(ii, aa)
#else
     CP; attempt_charge(ii, aa)
#endif
  fi
}

/* autopay.rs `charge`: an expired claim of the last attempt is resumed before anything is
 * decided; otherwise `domain::autopay::decide` (nothing due, last attempt claimed or succeeded,
 * attempts used up: skip), then the claim with put_new. */
inline autopay(ii) {
  atomic {
    a = 0; k = 1;
    do
    :: k <= MAXATT -> if :: cst[AG(ii, k)] != NONE -> a = k :: else fi; k++
    :: else -> break
    od;
    if
    :: a > 0 && cst[AG(ii, a)] == CLAIMED && lease_exp[AG(ii, a)] -> v = cver[AG(ii, a)]; r = 1
    :: else ->
       r = 0;
       if
       :: paid[ii] -> a = 0
       :: !paid[ii] && a == 0 -> a = 1
       :: !paid[ii] && a > 0 && (cst[AG(ii, a)] == CLAIMED || cst[AG(ii, a)] == SUCC) -> a = 0
       :: !paid[ii] && a > 0 && cst[AG(ii, a)] != CLAIMED && cst[AG(ii, a)] != SUCC ->
          if :: a < MAXATT -> a++ :: else -> a = 0 fi
       fi
    fi
  };
  if
  :: a == 0 -> goto idle
  :: r == 1 -> CP; resume(ii, a)
  :: r == 0 && a > 0 ->
     CP;
     atomic {
       g = AG(ii, a);
       if
       :: cst[g] == NONE ->
          cst[g] = CLAIMED; cver[g]++; v = cver[g]; sending[g]++;
          lease_exp[g] = false; first_exp[g] = false; day[g] = false;
          printf("MSC: autopay: claim of invoice %d attempt %d\n", ii, a);
          mine = g; ok = true
       :: else -> ok = false          /* being charged by another run */
       fi
     };
     if :: !ok -> goto idle :: else fi;
     CP;
     attempt_charge(ii, a)
  fi
}

/* webhooks.rs `reconcile`: an open record (stale: any, the model has no minutes) is resolved
 * with Stripe. */
inline reconcile() {
  atomic {
    r = NOTFOUND;
    k = 0;
    do
    :: k < nrec -> if :: rec_st[k] == OPEN -> r = k :: rec_st[k] == OPEN && r != NOTFOUND -> skip :: else fi; k++
    :: else -> break
    od;
    if :: r != NOTFOUND -> g = rec_g[r] :: else fi
  };
  if
  :: r != NOTFOUND -> CP; resolve_unknown(g)
  :: else
  fi
}

/* Time passing for group gg: a lease passes only when no host may still send under it, and
 * whatever of the group was still on its way then never arrives (the lease's assumption). */
#define ENV_G(gg) \
  :: atomic { inflight[gg] > 0 -> printf("MSC: late create of group %d arrives\n", gg); \
              stripe_create(gg); inflight[gg]-- } \
  :: atomic { sending[gg] == 0 && !lease_exp[gg] -> \
              lease_exp[gg] = true; first_exp[gg] = true; inflight[gg] = 0; \
              printf("MSC: lease of group %d passed\n", gg) } \
  :: atomic { first_exp[gg] && !day[gg] -> day[gg] = true; printf("MSC: a day after group %d\n", gg) }

/* Stripe, the network and the clock. */
active proctype env() {
  byte q, p;
end:
  do
  ENV_G(0)
  ENV_G(1)
  ENV_G(2)
  ENV_G(3)
#if NMAN > 0
  ENV_G(4)
#endif
#if NMAN > 1
  ENV_G(5)
#endif
#if NMAN > 2
  ENV_G(6)
#endif
  od
}

/* Steps of one round of the end: time passes, then the daily run (each invoice) and
 * reconciliation (each open record), in either order. */
#define DSTEPS (1 + NI + MAXREC)
#define ROUNDS (MAXATT + 2)

active [HOSTS] proctype host() {
  byte k, p, q, j, r, g, t, res, a, v, s, mine = NOTFOUND, op = 0, ds = 0, st, ord, x;
  bool ok, ruled;

idle:
  if
  :: draining -> goto drain
  :: else
  fi;
  if
  :: op < OPS ->
     op++;
     if
     :: pay(1)
     :: pay(2)
     :: pay(3)                      /* both invoices in one payment */
     :: autopay(0)
     :: autopay(1)
     :: reconcile()
     fi;
     goto idle
  :: else -> goto finish
  fi;

crash:
  /* Memory lost; the host (or another process) starts afresh. */
  printf("MSC: host crashed\n");
  atomic { if :: mine != NOTFOUND -> sending[mine]--; mine = NOTFOUND :: else fi };
  goto idle;

finish:
  atomic { done_hosts++ };
  if
  :: _pid != 1 -> goto done
  :: else
  fi;
  /* The end (liveness): every other host has stopped, none crashes again, Stripe answers every
   * request, and time passes: every lease, a day between rounds. Reconciliation and the daily
   * run, a few rounds, must bring every record to a final state and every claim out of
   * `claimed`. */
  done_hosts == HOSTS;
  draining = true;
  printf("MSC: the end: no more crashes, Stripe answers, time passes\n");

drain:
  if
  :: ds == DSTEPS * ROUNDS -> goto check
  :: else
  fi;
  st = ds % DSTEPS;
  ds++;
  if
  :: st == 0 ->
     atomic {
       k = 0;
       do
       :: k < NG ->
          if
          :: inflight[k] > 0 -> stripe_create(k); inflight[k] = 0
          :: inflight[k] > 0 -> inflight[k] = 0
          :: else
          fi;
          assert(sending[k] == 0);
          lease_exp[k] = true; first_exp[k] = true; day[k] = true;
          k++
       :: else -> break
       od
     };
     if :: ord = 0 :: ord = 1 fi
  :: st > 0 ->
     x = st - 1;
     if
     :: (ord == 0 && x < NI) -> autopay(x)
     :: (ord == 1 && x >= MAXREC) -> autopay(x - MAXREC)
     :: else -> reconcile()
     fi
  fi;
  goto idle;

check:
#ifdef PROP_LIVE
  atomic {
    k = 0;
    do
    :: k < nrec ->
       /* Property "no claim forever": every record reaches a final state ... */
       assert(rec_st[k] != OPEN); k++
    :: else -> break
    od;
    k = 0;
    do
    :: k < NAUTO ->
       /* ... and every autopay claim is settled. */
       assert(cst[k] != CLAIMED); k++
    :: else -> break
    od
  };
#endif
#ifdef PROP_SETTLED
  atomic {
    k = 0;
    do
    :: k < NI ->
       /* Property "every charge is recorded": money taken for an invoice has it paid. */
       assert(charges[k] == 0 || paid[k]); k++
    :: else -> break
    od
  };
#endif
done:
  skip
}
