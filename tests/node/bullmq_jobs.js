// bullmq_jobs.js - a BullMQ queue against kevy (tests/integration/test_bullmq.py).
//
// Usage: node bullmq_jobs.js PORT PREFIX N
// Adds N jobs in one addBulk and one delayed job, runs a Worker
// (concurrency 8) that returns {sq: n*n}, waits until QueueEvents has seen
// every job completed (bounded: 30 s), then prints one JSON line: the
// completed count, the queue's job counts and one job's return value.
// Exit 0 on success; 1 on a failed job or an error; 2 on timeout.
'use strict';
const { Queue, Worker, QueueEvents } = require('bullmq');

const port = parseInt(process.argv[2], 10);
const prefix = process.argv[3];
const n = parseInt(process.argv[4], 10);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };

(async () => {
  const queue = new Queue('jobs', { connection, prefix });
  const events = new QueueEvents('jobs', { connection, prefix });
  await events.waitUntilReady();
  let completed = 0;
  const all = new Promise((resolve) => {
    events.on('completed', () => {
      completed += 1;
      if (completed === n + 1) resolve();
    });
  });
  const worker = new Worker('jobs', async (job) => ({ sq: job.data.n * job.data.n }),
    { connection, prefix, concurrency: 8 });
  worker.on('failed', (job, err) => {
    console.error('job failed', job && job.id, err && err.message);
    process.exitCode = 1;
  });
  worker.on('error', (err) => {
    console.error('worker error', err.message);
    process.exitCode = 1;
  });
  const timer = setTimeout(() => {
    console.error('timeout: completed', completed);
    process.exit(2);
  }, 30000);
  const jobs = [];
  for (let i = 0; i < n; i++) jobs.push({ name: 'sq', data: { n: i } });
  await queue.addBulk(jobs);
  await queue.add('later', { n: 7 }, { delay: 200 });
  await all;
  clearTimeout(timer);
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
  const first = (await queue.getJobs(['completed'], 0, 0))[0];
  const job = await queue.getJob(first.id);
  console.log(JSON.stringify({ completed, counts, sample: job.returnvalue, sample_n: job.data.n }));
  await worker.close();
  await events.close();
  await queue.close();
  process.exit(process.exitCode || 0);
})().catch((e) => {
  console.error('error', e.message);
  process.exit(1);
});
