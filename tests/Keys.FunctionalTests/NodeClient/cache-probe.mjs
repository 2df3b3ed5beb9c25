// Runs the sample samples/node-cache/cache.mjs itself (NodeCacheTests copies it to .sample/ so that Node finds this
// directory's node_modules) and checks one key with it every 50 ms.
// Usage: node cache-probe.mjs <host:port> <protos dir> <key>; the service token comes from KEYS_SERVICE_TOKEN.
// Prints one JSON line per check: {"at":<epoch ms>,"outcome":"VALID","cached":true|false} or {"at":…,"outcome":
// <refusal>} (the sample does not say whether a refusal came from memory). A cached answer also shows that the Watch
// stream is in step: the sample serves from memory only then. Stops when stdin closes, or after two minutes.
import { KeyCache } from './.sample/cache.mjs';

const [address, protos, key] = process.argv.slice(2);
const cache = new KeyCache({ address, protos, token: process.env.KEYS_SERVICE_TOKEN });
cache.start();

let stopped = false;
const stop = () => {
  if (stopped) return;
  stopped = true;
  cache.close();
  process.exit(0);
};
process.stdin.on('end', stop).on('close', stop).resume();
setTimeout(stop, 120_000).unref();

while (!stopped) {
  const result = await cache.check(key);
  const line = result.refusal
    ? { at: Date.now(), outcome: result.refusal }
    : { at: Date.now(), outcome: 'VALID', cached: result.cached };
  process.stdout.write(JSON.stringify(line) + '\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
}
