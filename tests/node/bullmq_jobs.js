// bullmq_jobs.js - a BullMQ queue against kevy (tests/integration/test_bullmq.py).
//
// Usage: node bullmq_jobs.js PORT PREFIX N
// Adds N jobs in one addBulk (every tenth fails its first attempt and is
// retried: attempts 2) and 20 delayed jobs (100..480 ms), runs a Worker
// (concurrency 8) that returns {sq: n*n}, waits until QueueEvents has seen
// every job completed (bounded: 60 s), then prints one JSON line: the
// completed count, the queue's job counts, one job's return value, and
// how many jobs completed on their second attempt.
// Exit 0 on success; 1 on an error; 2 on timeout.
'use strict';
const { Queue, Worker, QueueEvents } = require('bullmq');

const port = parseInt(process.argv[2], 10);
const prefix = process.argv[3];
const n = parseInt(process.argv[4], 10);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };

(async () => {
  const queue = new Queue('jobs', { connection, prefix });
  // From the stream's start: QueueEvents' first XREAD is sent some time
  // after waitUntilReady, and with its default '$' it would miss the events
  // of jobs that completed before it (seen under load: the test then
  // timed out short of events, with every job completed).
  const events = new QueueEvents('jobs', { connection, prefix, lastEventId: '0-0' });
  await events.waitUntilReady();
  const delayed = 20;
  let completed = 0;
  const all = new Promise((resolve) => {
    events.on('completed', () => {
      completed += 1;
      if (completed === n + delayed) resolve();
    });
  });
  let retried = 0;
  const worker = new Worker('jobs', async (job) => {
    if (job.data.n % 10 === 3 && job.attemptsMade === 0) throw new Error('first attempt fails');
    if (job.attemptsMade === 1) retried += 1;
    return { sq: job.data.n * job.data.n };
  }, { connection, prefix, concurrency: 8 });
  worker.on('failed', (job, err) => {
    if (!job || job.attemptsMade < 2) return;   // retried
    console.error('job failed for good', job.id, err && err.message);
    process.exitCode = 1;
  });
  worker.on('error', (err) => {
    console.error('worker error', err.message);
    process.exitCode = 1;
  });
  const timer = setTimeout(async () => {
    const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active',
      'delayed', 'prioritized', 'waiting-children');
    console.error('timeout: completed events', completed, 'counts', JSON.stringify(counts));
    process.exit(2);
  }, 60000);
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push({ name: 'sq', data: { n: i }, opts: { attempts: 2 } });
  await queue.addBulk(jobs);
  for (let i = 0; i < delayed; i++)
    await queue.add('later', { n: 1000 + 10 * i }, { delay: 100 + 20 * i });   // never n % 10 == 3
  await all;
  clearTimeout(timer);
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  const first = (await queue.getJobs(['completed'], 0, 0))[0];
  const job = await queue.getJob(first.id);
  console.log(JSON.stringify({ completed, counts, sample: job.returnvalue, sample_n: job.data.n,
    retried }));
  await worker.close();
  await events.close();
  await queue.close();
  process.exit(process.exitCode || 0);
})().catch((e) => {
  console.error('error', e.message);
  process.exit(1);
});
