/**
 * How far before its start an experiment's window reaches back (orders created, ids minted): room
 * for a target database whose clock is a little behind the runner's. Whatever ran before an
 * experiment must end at least this long before it starts, or its orders count as the experiment's.
 */
export const RUN_LOOKBACK_MS = 1_000;
