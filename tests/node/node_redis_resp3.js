// node_redis_resp3.js - node-redis 6 (whose default handshake is HELLO 3)
// over every data type (tests/integration/test_node_redis.py).
// Usage: node node_redis_resp3.js PORT PASSWORD
// Runs the same session against whichever server listens on PORT and prints
// one JSON line of results the test compares between redis-server and kevy:
// everything in it is deterministic (sets sorted, ids left out).
'use strict';
const { createClient } = require('redis');

function sorted(a) {
  return [...a].map(String).sort();
}

(async () => {
  const port = parseInt(process.argv[2], 10);
  const password = process.argv[3];
  const url = `redis://127.0.0.1:${port}`;
  // The default: RESP3, HELLO 3 AUTH ... SETNAME in the handshake.
  const c = createClient({ url, password, name: 'node-resp3' });
  c.on('error', (e) => { console.error('client error', e.message); });
  await c.connect();
  const out = {};
  out.hello = await c.sendCommand(['CLIENT', 'GETNAME']);
  out.proto = (await c.sendCommand(['HELLO']))['proto'] ??
    (await c.sendCommand(['HELLO'])).get?.('proto');

  // strings and keys, on several shards
  await c.set('s:{a}', 'hello');
  await c.mSet({ 'm:1': 'one', 'm:2': 'two', 'm:3': 'three' });
  out.mget = await c.mGet(['m:1', 'm:2', 'm:3', 'nosuch']);
  out.incr = [await c.incr('n'), await c.incrBy('n', 10), await c.incrByFloat('f', 1.5)];
  out.append = await c.append('s:{a}', ' world');
  out.getrange = await c.getRange('s:{a}', 0, 4);
  await c.set('ttl', 'x', { EX: 100 });
  out.ttl = await c.ttl('ttl');
  out.exists = await c.exists(['s:{a}', 'm:1', 'nosuch']);
  out.type = await c.type('s:{a}');
  out.del = await c.del(['m:3', 'nosuch']);

  // hashes: RESP3 maps
  await c.hSet('h', { name: 'ada', visits: '1' });
  out.hincr = await c.hIncrBy('h', 'visits', 2);
  out.hgetall = await c.hGetAll('h');
  out.hmget = await c.hmGet('h', ['name', 'nosuch']);
  out.hrandcount = (await c.hRandFieldCount('h', 5)).length;

  // lists
  await c.rPush('l', ['a', 'b', 'c', 'd']);
  out.lrange = await c.lRange('l', 0, -1);
  out.lpop = await c.lPopCount('l', 2);
  out.lpos = await c.lPos('l', 'd');
  out.lmove = await c.lMove('l', 'l2', 'LEFT', 'RIGHT');
  out.blpop = await c.blPop(['l2'], 1);
  out.blpopTimeout = await c.blPop(['empty'], 0.05);

  // sets: RESP3 sets
  await c.sAdd('set1', ['a', 'b', 'c']);
  await c.sAdd('set2', ['b', 'c', 'd']);
  out.smembers = sorted(await c.sMembers('set1'));
  out.sinter = sorted(await c.sInter(['set1', 'set2']));
  out.sunion = sorted(await c.sUnion(['set1', 'set2']));
  out.smismember = await c.smIsMember('set1', ['a', 'z']);
  out.sintercard = await c.sInterCard(['set1', 'set2']);

  // sorted sets: RESP3 doubles
  await c.zAdd('z', [{ score: 1, value: 'one' }, { score: 2.5, value: 'two' },
    { score: 3, value: 'three' }]);
  out.zscore = await c.zScore('z', 'two');
  out.zrange = await c.zRangeWithScores('z', 0, -1);
  out.zincr = await c.zIncrBy('z', 0.5, 'one');
  out.zrank = await c.zRank('z', 'three');
  out.zpopmin = await c.zPopMin('z');
  out.zmscore = await c.zmScore('z', ['two', 'nosuch']);

  // streams and consumer groups
  await c.xAdd('x', '1-1', { f: 'v1' });
  await c.xAdd('x', '2-1', { f: 'v2' });
  out.xrange = await c.xRange('x', '-', '+');
  await c.xGroupCreate('x', 'g', '0');
  out.xreadgroup = await c.xReadGroup('g', 'alice', { key: 'x', id: '>' }, { COUNT: 10 });
  out.xack = await c.xAck('x', 'g', '1-1');
  out.xpending = await c.xPending('x', 'g');
  out.xlen = await c.xLen('x');

  // HyperLogLog, bitmaps, geo
  out.pfadd = await c.pfAdd('hll', ['a', 'b', 'c', 'a']);
  out.pfcount = await c.pfCount('hll');
  out.setbit = await c.setBit('bits', 7, 1);
  out.bitcount = await c.bitCount('bits');
  await c.geoAdd('geo', [{ longitude: 13.361389, latitude: 38.115556, member: 'Palermo' },
    { longitude: 15.087269, latitude: 37.502669, member: 'Catania' }]);
  out.geodist = await c.geoDist('geo', 'Palermo', 'Catania', 'km');
  out.geosearch = await c.geoSearchWith('geo', { longitude: 15, latitude: 37 },
    { radius: 200, unit: 'km' }, ['WITHDIST', 'WITHCOORD'], { SORT: 'ASC' });

  // transactions, scripts
  out.multi = await c.multi().set('t1', '1').incr('t1').get('t1').exec();
  out.eval = await c.eval("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}",
    { keys: ['ev'], arguments: ['arg'] });
  out.evalDouble = await c.eval('return 3.25', { keys: [], arguments: [] });

  // pub/sub: RESP3 push frames on the same connection
  const received = [];
  const sub = c.duplicate();
  await sub.connect();
  await sub.subscribe('chan', (message, channel) => { received.push([channel, message]); });
  out.published = await c.publish('chan', 'hi');
  for (let i = 0; i < 100 && received.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  out.received = received;
  out.subscriberPing = await sub.ping();
  await sub.unsubscribe('chan');
  await sub.quit();

  out.dbsize = await c.dbSize();
  out.info = (await c.info('server')).includes('redis_version:');
  await c.quit();
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error('error', e.message, e.stack);
  process.exit(1);
});
