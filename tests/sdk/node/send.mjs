// Runs the unmodified Node tracking libraries for tests/sdk: reads a scenario
// (JSON) on stdin, makes its calls, flushes, and prints {"errors": [...]}.
//
//   {"library": "segment" | "rudderstack", "host": "http://127.0.0.1:8000",
//    "writeKey": "...", "clockOffsetSeconds": 3600,
//    "calls": [{"method": "track", "args": {...}}, ...]}
//
// clockOffsetSeconds sets the device clock off by that much (new Date() and
// Date.now() only; timers are unaffected), as on a phone or server whose
// clock is wrong. A "timestamp" argument is passed to the library as a Date.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function setClockOffset(seconds) {
  if (!seconds) return;
  const RealDate = Date;
  const offset = seconds * 1000;
  class DeviceDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + offset);
      else super(...args);
    }
    static now() {
      return RealDate.now() + offset;
    }
  }
  globalThis.Date = DeviceDate;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function withDates(args) {
  const copy = { ...args };
  if (typeof copy.timestamp === 'string') copy.timestamp = new Date(copy.timestamp);
  return copy;
}

async function runSegment(scenario, errors) {
  const { Analytics } = require('@segment/analytics-node');
  const analytics = new Analytics({
    writeKey: scenario.writeKey,
    host: scenario.host,
    flushAt: scenario.calls.length + 1, // one request, sent by the flush below
    maxRetries: 0,
  });
  analytics.on('error', (error) => errors.push(String(error && (error.reason || error.message || error))));
  for (const { method, args } of scenario.calls) {
    analytics[method](withDates(args), (error) => {
      if (error) errors.push(`${method}: ${error.reason || error.message || error}`);
    });
  }
  await analytics.closeAndFlush({ timeout: 20000 });
}

async function runRudderStack(scenario, errors) {
  const RudderAnalytics = require('@rudderstack/rudder-sdk-node');
  const client = new RudderAnalytics(scenario.writeKey, {
    dataPlaneUrl: scenario.host,
    flushAt: scenario.calls.length + 1, // one request, sent by the flush below
    flushInterval: 60000,
    retryCount: 0,
    errorHandler: (error) => errors.push(String(error && (error.message || error))),
  });
  for (const { method, args } of scenario.calls) {
    client[method](withDates(args));
  }
  await client.flush((error) => {
    if (error) errors.push(`flush: ${error.message || error}`);
  });
}

const scenario = await readStdin();
setClockOffset(scenario.clockOffsetSeconds);
const errors = [];
try {
  if (scenario.library === 'segment') await runSegment(scenario, errors);
  else if (scenario.library === 'rudderstack') await runRudderStack(scenario, errors);
  else errors.push(`unknown library ${scenario.library}`);
} catch (error) {
  errors.push(String(error && (error.stack || error)));
}
process.stdout.write(JSON.stringify({ errors }) + '\n');
process.exit(0);
