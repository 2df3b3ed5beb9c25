// A cache of KeyValidation answers that never serves a revoked key: the protocol in docs/internal-clients.md, for a
// service that is not .NET, with @grpc/grpc-js. Needs Node.js 18 or later.
// Try it: KEYS_SERVICE_TOKEN=<token> node cache.mjs <key-validation host:port> <repo>/protos <key>
import crypto from 'node:crypto';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// How to answer each refusal, as the .NET library does: [HTTP status, gRPC status]. The code is the body's "error"
// and the google.rpc.ErrorInfo reason (domain "keys.v1").
export const REFUSALS = {
  INVALID_TOKEN: [401, grpc.status.UNAUTHENTICATED],
  TOKEN_EXPIRED: [401, grpc.status.UNAUTHENTICATED],
  TOKEN_REVOKED: [401, grpc.status.UNAUTHENTICATED],
  TOKEN_DISABLED: [401, grpc.status.UNAUTHENTICATED],
  IP_NOT_ALLOWED: [403, grpc.status.PERMISSION_DENIED],
  ORIGIN_NOT_ALLOWED: [403, grpc.status.PERMISSION_DENIED],
  SERVICE_UNAVAILABLE: [503, grpc.status.UNAVAILABLE],
};
const REFUSAL_OF = { VALIDATION_OUTCOME_EXPIRED: 'TOKEN_EXPIRED', VALIDATION_OUTCOME_REVOKED: 'TOKEN_REVOKED' };
// Answers that describe the key: cached alike, and a disabled one refused from memory until its invalidation.
const DESCRIBED = new Set(['VALIDATION_OUTCOME_VALID', 'VALIDATION_OUTCOME_DISABLED']);

// CRC-32 (IEEE: reflected, polynomial 0xEDB88320), the same as zlib's crc32, written out because zlib.crc32 needs
// Node.js 20.15 and Debian 12 ships Node.js 18.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  for (let k = 0; k < 8; k++) n = n & 1 ? 0xedb88320 ^ (n >>> 1) : n >>> 1;
  return n >>> 0;
});
function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// Offline: pk_ or sk_, 43 base62 characters, then the CRC-32 of those 46 characters in 6 base62 digits. Garbage never
// costs a lookup.
export function isWellFormed(key) {
  if (typeof key !== 'string' || !/^[ps]k_[0-9A-Za-z]{49}$/.test(key)) return false;
  let crc = crc32(Buffer.from(key.slice(0, 46), 'ascii'));
  let checksum = '';
  for (let i = 0; i < 6; i++, crc = Math.floor(crc / 62)) checksum = BASE62[crc % 62] + checksum;
  return checksum === key.slice(46);
}

// What Watch invalidations name: the SHA-256 of the whole key string.
export const keyHash = (key) => crypto.createHash('sha256').update(key, 'ascii').digest('hex');

// Unset Timestamp: never. Rounded down, so a revocation is never applied late.
const millis = (t) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : Infinity);

// A key's allowed networks: null for none (any address). An entry that cannot be read allows nothing, so a list of
// nothing but such entries refuses every address rather than reading as empty.
function networksOf(cidrs) {
  if (!cidrs.length) return null;
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.trim().split('/');
    const type = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    const bits = prefix === undefined ? (type === 'ipv4' ? 32 : 128) : Number(prefix);
    if (type && Number.isInteger(bits) && bits >= 0 && bits <= (type === 'ipv4' ? 32 : 128)) list.addSubnet(address, bits, type);
  }
  return list;
}

// Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; the operator wrote a.b.c.d/n.
function allowsAddress(networks, address) {
  if (!address) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const plain = mapped ? mapped[1] : address;
  return net.isIPv4(plain) ? networks.check(plain, 'ipv4') : net.isIPv6(plain) && networks.check(plain, 'ipv6');
}

export class KeyCache {
  #entries = new Map(); // key hash -> { identity, cachedAt, expiresAt, revokesAt }
  #inFlight = new Map(); // key hash -> Promise<ValidateResponse | null>: one Validate per key at a time
  #connected = false; // the Watch stream is in step: only then may #entries answer
  #sequence = 0; // the last invalidation sequence applied
  #call = null;
  #retryMs = 100;
  #reconnect;
  #sweep;

  constructor({ address, protos, token, validationTimeoutMs = 2000, maxAgeMs = 30_000, maxEntries = 100_000, silenceMs = 3000 }) {
    if (!token) throw new Error('A service token is required: KeyValidation answers nothing without one.');
    const definition = protoLoader.loadSync('keys/v1/key_validation.proto',
      { includeDirs: [protos], longs: Number, enums: String, defaults: true, oneofs: true });
    this.client = new (grpc.loadPackageDefinition(definition).keys.v1.KeyValidationService)(address, grpc.credentials.createInsecure());
    this.metadata = new grpc.Metadata();
    this.metadata.set('authorization', `Bearer ${token}`);
    Object.assign(this, { validationTimeoutMs, maxAgeMs, maxEntries, silenceMs });
    // Old entries go even if nobody asks for them again, so that they cannot fill the cache.
    this.#sweep = setInterval(() => {
      for (const [hash, entry] of this.#entries) if (Date.now() - entry.cachedAt > maxAgeMs) this.#entries.delete(hash);
    }, 10_000).unref();
  }

  start() {
    // From 0 ("from now"): the cache is empty whenever a stream starts, so nothing needs replaying.
    const call = (this.#call = this.client.Watch({ fromSequence: 0 }, this.metadata));
    let silence, ended = false, heard = false;
    const end = () => {
      if (ended) return;
      ended = true; // events still buffered on this stream must not touch the cache
      clearTimeout(silence);
      this.#connected = false; // serve nothing from memory until a new stream is in step
      this.#entries.clear();
      call.cancel();
    };
    // Heartbeats come every second: a longer silence may be a half-open connection that will never say more.
    const alive = () => { clearTimeout(silence); silence = setTimeout(end, this.silenceMs); };
    alive();
    call.on('data', (event) => {
      if (ended) return;
      heard = true;
      alive();
      if (!this.#apply(event)) end(); // out of step: something was lost, so nothing cached can be trusted
    });
    call.on('error', () => {}); // every end, error or not, is handled once, on 'status'
    call.on('status', () => {
      end();
      if (this.closed) return;
      this.#retryMs = heard ? 100 : Math.min(this.#retryMs * 2, 5000);
      this.#reconnect = setTimeout(() => this.start(), this.#retryMs);
    });
  }

  #apply(event) {
    switch (event.event) {
      case 'heartbeat':
        // The first one connects the cache at the stream's position; every later one must be exactly there.
        if (this.#connected) return event.heartbeat.sequence === this.#sequence;
        [this.#connected, this.#sequence] = [true, event.heartbeat.sequence];
        return true;
      case 'invalidation': {
        const { sequence, keyHash: hash, revokesAt } = event.invalidation;
        if (!this.#connected || sequence !== this.#sequence + 1) return false;
        this.#sequence = sequence;
        const entry = this.#entries.get(hash.toString('hex'));
        // A delete or roll says when the key stops working: keep it and refuse it from then, with no lookup.
        if (entry && revokesAt) entry.revokesAt = Math.min(entry.revokesAt, millis(revokesAt));
        else this.#entries.delete(hash.toString('hex'));
        return true;
      }
      case 'flush':
        this.#entries.clear();
        [this.#connected, this.#sequence] = [true, event.flush.sequence];
        return true;
      default:
        return true; // an event kind this client does not know; the gateway ignores them too
    }
  }

  /**
   * Resolves to { identity, cached, rateLimit } or { refusal } (a key of REFUSALS). Never throws, never passes an
   * unchecked key. `address` is the client's (the connection's, or a proxy's you trust to name it), `origin` the
   * request's Origin header; a key with allowlists is refused without them. `rateLimit` (or null) is yours to enforce.
   */
  async check(key, { address, origin } = {}) {
    if (!isWellFormed(key)) return { refusal: 'INVALID_TOKEN' };
    const hash = keyHash(key);
    let entry = this.#connected ? this.#entries.get(hash) : undefined;
    const cached = entry !== undefined && Date.now() - entry.cachedAt <= this.maxAgeMs;
    if (!cached) {
      const arrivedAt = this.#sequence;
      const shared = this.#connected ? this.#inFlight.get(hash) : undefined;
      let answer = shared && (await shared);
      if (answer === null) return { refusal: 'SERVICE_UNAVAILABLE' };
      // Someone else's answer serves only if it reflects every invalidation applied here when this request arrived.
      if (answer && answer.asOfSequence < arrivedAt) answer = undefined;
      answer ??= await this.#lookUp(key, hash);
      if (answer === null) return { refusal: 'SERVICE_UNAVAILABLE' };
      if (!DESCRIBED.has(answer.outcome)) return { refusal: REFUSAL_OF[answer.outcome] ?? 'INVALID_TOKEN' };
      entry = this.#add(key, hash, answer);
    }
    // On every request, cached or not: a key stops at the exact instant, and is used only from where it may be.
    const now = Date.now();
    if (now >= entry.revokesAt) return { refusal: 'TOKEN_REVOKED' };
    if (now >= entry.expiresAt) return { refusal: 'TOKEN_EXPIRED' };
    if (entry.disabled) return { refusal: 'TOKEN_DISABLED' };
    if (entry.networks && !allowsAddress(entry.networks, address)) return { refusal: 'IP_NOT_ALLOWED' };
    if (entry.origins && !(typeof origin === 'string' && entry.origins.has(origin.toLowerCase()))) return { refusal: 'ORIGIN_NOT_ALLOWED' };
    return { identity: entry.identity, cached, rateLimit: entry.rateLimit };
  }

  #lookUp(key, hash) {
    const lookup = new Promise((resolve) => {
      // Any error, the deadline included, is null: fail closed (503), never a pass and never a 401.
      this.client.Validate({ key }, this.metadata, { deadline: Date.now() + this.validationTimeoutMs },
        (error, answer) => resolve(error ? null : answer));
    }).finally(() => { if (this.#inFlight.get(hash) === lookup) this.#inFlight.delete(hash); });
    if (!this.#inFlight.has(hash)) this.#inFlight.set(hash, lookup);
    return lookup;
  }

  #add(key, hash, answer) {
    const { keyId, projectId, environment, scopes } = answer;
    const type = key.startsWith('sk_') ? 'secret' : 'publishable';
    const { allowedCidrs, allowedOrigins, rateLimit } = answer;
    const entry = { identity: { keyId, projectId, environment, type, scopes }, cachedAt: Date.now(),
      expiresAt: millis(answer.expiresAt), revokesAt: millis(answer.revokesAt),
      disabled: answer.outcome === 'VALIDATION_OUTCOME_DISABLED', networks: networksOf(allowedCidrs),
      origins: allowedOrigins.length ? new Set(allowedOrigins.map((o) => o.trim().replace(/\/$/, '').toLowerCase())) : null,
      rateLimit: rateLimit ?? null };
    // Not if an invalidation newer than the answer has been applied here (it may concern this key), nor while the
    // stream is down. Node runs this and #apply one at a time; elsewhere, hold one lock over both.
    if (this.#connected && answer.asOfSequence >= this.#sequence && this.#entries.size < this.maxEntries) {
      this.#entries.set(hash, entry);
    }
    return entry;
  }

  close() {
    this.closed = true;
    clearTimeout(this.#reconnect);
    clearInterval(this.#sweep);
    this.#call?.cancel();
    this.client.close();
  }
}

// Run directly: checks the key once a second, so you can watch a delete land (TOKEN_REVOKED within a second).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [address, protos, key] = process.argv.slice(2);
  const cache = new KeyCache({ address, protos, token: process.env.KEYS_SERVICE_TOKEN });
  cache.start();
  setInterval(async () => console.log(new Date().toISOString(), JSON.stringify(await cache.check(key))), 1000);
}
