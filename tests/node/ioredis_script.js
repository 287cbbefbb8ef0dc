// ioredis_script.js - ioredis's defineCommand against kevy
// (tests/integration/test_bullmq.py).  Usage: node ioredis_script.js PORT
// Defines a two-key script (EVALSHA first, EVAL when the server answers
// NOSCRIPT), calls it 500 times in a pipeline and once more after SCRIPT
// FLUSH, and prints one JSON line: the last results and the key values.
'use strict';
const Redis = require('ioredis');

(async () => {
  const redis = new Redis({ host: '127.0.0.1', port: parseInt(process.argv[2], 10) });
  redis.defineCommand('moveone', {
    numberOfKeys: 2,
    lua: "local v = redis.call('INCR', KEYS[1]); redis.call('SET', KEYS[2], v); " +
         'return {v, ARGV[1]}',
  });
  const p = redis.pipeline();
  for (let i = 0; i < 500; i++) p.moveone('io:{a}', 'io:b', 'tag' + i);
  const res = await p.exec();
  const errors = res.filter(([err]) => err).length;
  await redis.script('FLUSH');
  const after = await redis.moveone('io:{a}', 'io:b', 'again');
  const a = await redis.get('io:{a}');
  const b = await redis.get('io:b');
  console.log(JSON.stringify({ errors, last: res[499][1], after, a, b }));
  redis.disconnect();
})().catch((e) => {
  console.error('error', e.message);
  process.exit(1);
});
