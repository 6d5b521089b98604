/**
 * What the status bar says about the S3 credentials.
 *
 * Temporary credentials (STS) expire; when they cannot be renewed the user
 * should know before their next query fails, so the item turns to a warning
 * in the last minutes and to an error once they are gone.
 *
 * Pure code, unit-tested with node.
 */

/** Below this many seconds the status bar warns about credentials that cannot be renewed. */
export const WARN_BELOW_S = 10 * 60;
/**
 * Renewable credentials are renewed 5 minutes before they expire (or in
 * their last fifth); this close to expiry, renewal is failing.
 */
export const WARN_RENEWABLE_BELOW_S = 2 * 60;

export type Level = 'ok' | 'warning' | 'error';

export interface CredentialStatus {
  text: string;
  title: string;
  level: Level;
}

/** The subset of `api/whoami` the status bar uses. */
export interface WhoAmI {
  user?: string | null;
  endpoint: string;
  credentials: {
    access_key_hint?: string;
    temporary?: boolean;
    renewable?: boolean;
    source?: string;
    seconds_left?: number | null;
  } | null;
  problem?: string | null;
}

/** `42 s`, `17 min`, `3 h 05 min`, `2 d 4 h`. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  }
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * The status for `whoami`, `elapsedS` seconds after it was fetched (the
 * item counts down between polls).
 */
export function describe(whoami: WhoAmI, elapsedS = 0): CredentialStatus {
  // The hub user when there is one; never a key prefix in the bar itself
  // (it says nothing to a person, and reads like a secret).
  const user = whoami.user ?? null;
  const where = `S3 at ${whoami.endpoint}`;
  if (whoami.problem || !whoami.credentials) {
    const problem = whoami.problem ?? 'No S3 credentials are configured.';
    return {
      text: user ? `${user} · no S3 access` : 'No S3 access',
      title: `${where}: ${problem}`,
      level: 'error'
    };
  }
  const creds = whoami.credentials;
  const kind = creds.temporary ? 'temporary credentials' : 'fixed keys';
  const who = `${user ? `${user}, with ` : ''}${kind}${creds.source ? ` from ${creds.source}` : ''} (key ${creds.access_key_hint ?? '?'})`;
  const renewal = creds.renewable
    ? 'They are renewed automatically before they expire.'
    : 'They cannot be renewed from here: restart your server to get new ones.';
  if (creds.seconds_left === null || creds.seconds_left === undefined) {
    return {
      text: user ? `${user} · S3` : 'S3',
      title: `${where} as ${who}; they do not expire.`,
      level: 'ok'
    };
  }
  const left = creds.seconds_left - elapsedS;
  if (left <= 0) {
    return {
      text: user ? `${user} · S3 credentials expired` : 'S3 credentials expired',
      title: `${where}: your S3 credentials have expired. ${renewal}`,
      level: 'error'
    };
  }
  const level: Level =
    left < (creds.renewable ? WARN_RENEWABLE_BELOW_S : WARN_BELOW_S) ? 'warning' : 'ok';
  return {
    text: user ? `${user} · S3 ${humanDuration(left)}` : `S3 · ${humanDuration(left)} left`,
    title: `${where} as ${who}; they expire in ${humanDuration(left)}. ${renewal}`,
    level
  };
}
