// The composition root: the only place where concrete adapters, the clock and randomness are made.
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { RandomPool } from './crypto/random-pool.js';
import { JsonLinesLog, NullLog, type RequestLog } from './audit/request-log.js';
import { AuditTrail, RequestAuditScope } from './audit/audit-trail.js';
import { uuidV7 } from './domain/audit-event.js';
import { SessionMarker } from './audit/session-marker.js';
import { bootstrapAdminCredentials } from './auth/admin-credentials.js';
import type { Authenticator } from './auth/authenticator.js';
import { DevAuthenticator } from './auth/dev-authenticator.js';
import { SigV4Authenticator } from './auth/sigv4-authenticator.js';
import { CallerDirectory, IamGenerationWatch } from './auth/caller-directory.js';
import { describeStore, type TrentConfig } from './config/config.js';
import { KeyPolicyAuthorizer } from './domain/authorizer.js';
import { AdjustableClock } from './domain/clock.js';
import { KeyRepository } from './domain/key-repository.js';
import { GrantRepository } from './domain/grant-repository.js';
import { GrantTokens } from './domain/grants.js';
import { LocalChangeFeed } from './domain/local-change-feed.js';
import type { AuditStore, ChangeFeed, Clock, JobLease, RandomSource, Storage } from './domain/ports.js';
import { CustomKeyStores } from './domain/custom-key-stores.js';
import { LocalKeyStore } from './keystores/local/local-keystore.js';
import { HsmKeyStore } from './keystores/pkcs11/hsm-keystore.js';
import { Pkcs11Modules } from './keystores/pkcs11/pkcs11-token.js';
import { RoutingKeyStore } from './keystores/routing-keystore.js';
import { bindRootKey, openConfiguredRootKey, type StoreRoot } from './keystores/root-of-trust.js';
import { XksClient } from './keystores/xks/xks-client.js';
import { XksKeyStore } from './keystores/xks/xks-keystore.js';
import type { Services } from './operations/operation.js';
import { OperationRegistry } from './operations/registry.js';
import { answerClientError, createRequestHandler, send, type ExtraRoute } from './protocol/http-handler.js';
import { lookupEventsRoute } from './protocol/cloudtrail-lookup.js';
import { limitConnections, timeoutOptions } from './protocol/connection-limits.js';
import { RequestQuotas } from './domain/request-quotas.js';
import { DeletionSweeper, IntervalScheduler } from './scheduler/deletion-sweeper.js';
import { KeyRotator } from './scheduler/key-rotator.js';
import { MaterialExpirer } from './scheduler/material-expirer.js';
import { LeasedJob, SingleNodeLease } from './scheduler/leased-job.js';
import { TransitionCompleter } from './scheduler/transitions.js';
import { PostgresChangeFeed, PostgresJobLease } from './storage/postgres/postgres-coordination.js';
import { PostgresStorage } from './storage/postgres/postgres-storage.js';
import { SqliteStorage } from './storage/sqlite/sqlite-storage.js';
import { DataDirInUseError, DataDirLock } from './storage/data-dir-lock.js';

export interface RunningTrent {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  /** Trent's clock: the system clock, moved forward only in dev mode (POST /_trent/dev/clock). */
  readonly clock: AdjustableClock;
  /** Stops accepting connections, lets in-flight requests finish (up to the grace period), closes the store. */
  stop(): Promise<void>;
}

export interface Io {
  /** Where the request log goes when config.requestLog is "stdout". */
  readonly stdout: Writable;
  /** Human-readable server messages. */
  readonly stderr: Writable;
}

export const systemClock: Clock = { now: () => new Date() };
export const systemRandom: RandomSource = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

/** The server's random source: the same CSPRNG, drawn in blocks (see RandomPool). */
function pooledRandom(): RandomSource {
  const pool = new RandomPool();
  return { bytes: (n) => pool.take(n), uuid: () => randomUUID() };
}

type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** The bound server, whose requests wait until the rest of Trent is assembled (or are dropped if that fails). */
interface Listening {
  readonly server: Server;
  readonly inFlight: Set<Promise<void>>;
  readonly port: number;
  readonly url: string;
  /** Requests are answered from now on. */
  open(handler: RequestHandler): void;
}

/**
 * Starts Trent. A start that fails leaves nothing behind (docs/deployment.md "One server per data dir"): what can fail
 * on its own (TLS files, the XKS CA file, the port) is checked before anything is made; the data dir's lock is taken
 * before anything in it is written; a later failure undoes what this start made (a data dir, or a SQLite store with its
 * new root key and credentials files) and releases the lock.
 */
export async function startTrent(config: TrentConfig, io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<RunningTrent> {
  const tls = config.tlsCert ? { cert: await readFile(config.tlsCert), key: await readFile(config.tlsKey!) } : undefined;
  const xksCa = config.xksProxyTrustedCaFile === undefined ? undefined : await readFile(config.xksProxyTrustedCaFile);

  // The port is bound first; a request that comes before Trent is ready waits for it.
  let handler: RequestHandler | undefined;
  let settle!: (h: RequestHandler | undefined) => void;
  const ready = new Promise<RequestHandler | undefined>((resolve) => (settle = resolve));
  const inFlight = new Set<Promise<void>>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const p = (handler ? handler(req, res) : ready.then((h) => (h ? h(req, res) : void res.destroy()))).finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  // Slow clients: header, whole-request and keep-alive timeouts; then the connection limits (docs/deployment.md#limits).
  const timeouts = timeoutOptions(config);
  const server: Server = tls ? createHttpsServer({ ...tls, ...timeouts }, onRequest) : createHttpServer(timeouts, onRequest);
  limitConnections(server, config);
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const listening: Listening = {
    server, inFlight, port, url,
    open: (h) => {
      handler = h;
      settle(h);
    },
  };

  // What the start made, undone in reverse order if it fails.
  const undo: (() => unknown)[] = [];
  try {
    return await assemble(config, io, listening, xksCa, undo);
  } catch (err) {
    settle(undefined);
    server.closeAllConnections();
    server.close();
    for (const step of undo.reverse()) await Promise.resolve().then(step).catch(() => {});
    throw err;
  }
}

async function assemble(config: TrentConfig, io: Io, listening: Listening, xksCa: Buffer | undefined, undo: (() => unknown)[]): Promise<RunningTrent> {
  // Every key-management rule and the schedulers read this clock; dev mode may move it forward. SigV4's clock-skew
  // check reads the system clock instead: a signature is judged against real time (and dev mode does not verify).
  const clock = new AdjustableClock(systemClock);
  const random = pooledRandom();
  const say = (line: string) => io.stderr.write(`${line}\n`);
  const logger = { error: (message: string, fields?: Record<string, unknown>) => say(JSON.stringify({ level: 'error', message, ...fields })) };
  const { server, inFlight, port, url } = listening;

  // One data dir, one Trent process: the lock is held until the process ends (docs/deployment.md).
  const madeDir = await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  let lock: DataDirLock;
  try {
    lock = DataDirLock.acquire(config.dataDir, 'trent serve', clock.now());
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      throw new DataDirInUseError(err.dataDir, err.holder, 'one data dir serves one Trent process (stop it first, or give this server a --data-dir of its own): nothing changed');
    }
    throw err;
  }
  undo.push(() => lock.release({ removeFile: lock.madeFile }));
  // Undone under the lock, once the store is closed: a SQLite store this start made, with the data dir if it made it
  // and the root key and credentials files made for it; else a root key file made by this start whose check value the
  // store does not hold. Once a store that stays (PostgreSQL, an existing SQLite file) holds the check value of a root
  // key file this start made, that file (and the credentials file, and so a data dir made) stay: they belong to it.
  const store = config.store;
  const madeStore = store.kind === 'sqlite' && !existsSync(store.file);
  const madeFiles: string[] = [];
  let madeKeyFile: string | undefined;
  let bound = false;
  undo.push(async () => {
    if (madeDir !== undefined && (madeStore || !bound)) await rm(madeDir, { recursive: true, force: true });
    else if (madeStore) await Promise.all(['', '-wal', '-shm'].map((x) => rm(`${store.file}${x}`, { force: true })));
    const files = madeStore ? madeFiles : madeKeyFile !== undefined && !bound ? [madeKeyFile] : [];
    await Promise.all(files.map((f) => rm(f, { force: true })));
  });

  const requestLog = await openRequestLog(config.requestLog, io, undo);
  const auditStream = await openAuditLog(config.auditLog, io, undo);

  // The request under way, for the storage adapter to append its audit event with its state change (docs/audit.md).
  const auditScope = new RequestAuditScope();
  const storage = openStorage(config, logger, auditScope);
  undo.push(() => storage.close());
  await storage.migrate();
  say(`Store: ${describeStore(config.store)}`);
  const coordination = await openCoordination(config, logger, say);
  undo.push(() => coordination.close());

  // The root key: a file (made on first start), a passphrase, or an AES key in a PKCS#11 token (docs/root-key.md).
  const pkcs11Modules = new Pkcs11Modules();
  const opened = await openConfiguredRootKey(config, storage, random, pkcs11Modules, {
    createFile: true,
    onCreated: (file) => {
      madeKeyFile = file;
      madeFiles.push(file);
      say(`Created a new root key in ${file}. Back it up: without it nothing in ${config.dataDir} can be decrypted.`);
    },
  });
  if (opened.kind === 'hsm') say(`Root key: ${opened.key.description} (in the PKCS#11 token; no root key file is used)`);
  let rootKey: StoreRoot;
  try {
    rootKey = await bindRootKey(storage, opened, random);
    bound = true;
  } catch (err) {
    if (opened.kind === 'hsm') opened.key.close();
    throw err;
  }
  undo.push(() => rootKey.close());

  const credentialsFile = path.join(config.dataDir, 'credentials');
  if (!existsSync(credentialsFile)) madeFiles.push(credentialsFile);
  const admin = await bootstrapAdminCredentials({
    storage, rootKey, random, account: config.defaultAccount, region: config.region, file: credentialsFile, now: clock.now(),
  });
  if (admin) {
    say(`Created administrator credentials for account ${config.defaultAccount} in ${credentialsFile} (profile "trent"). Use them with:`);
    say(`  export AWS_SHARED_CREDENTIALS_FILE=${credentialsFile} AWS_PROFILE=trent`);
  }

  const localKeystore = new LocalKeyStore(rootKey, random, clock);
  const { feed, lease } = coordination;
  const keys = new KeyRepository(storage, clock, { feed, ttlMs: coordination.cacheTtlMs });
  const customKeyStores = new CustomKeyStores(storage, clock, { feed, ttlMs: coordination.cacheTtlMs });
  // AWS_CLOUDHSM custom key stores: the configured PKCS#11 tokens. A store CONNECTED in storage is opened on this node
  // at its first use (after a restart, or when another node connected it).
  const hsm = new HsmKeyStore({
    clusters: config.hsmClusters,
    modules: pkcs11Modules,
    root: rootKey,
    random,
    clock,
    lookup: (scope, id) => customKeyStores.get(scope, id),
    log: (message, fields) => say(JSON.stringify({ level: 'warn', message, ...fields })),
  });
  // EXTERNAL_KEY_STORE custom key stores: XKS proxies over HTTPS (SigV4), trusting the configured CA file.
  const xks = new XksKeyStore({
    client: new XksClient({
      region: config.region, port: config.xksProxyPort, timeoutMs: config.xksProxyTimeoutMs,
      ca: xksCa,
    }),
    local: localKeystore, root: rootKey, lookup: (scope, id) => customKeyStores.get(scope, id), uuid: () => random.uuid(),
  });
  const keystore = new RoutingKeyStore(localKeystore, hsm, xks);
  undo.push(() => hsm.close());
  await hsm.openConnected(await storage.listConnectedCustomKeyStores(10_000));
  // A store disconnected (or deleted) on another node: close its token here too. A deleted key: its HSM object goes.
  feed.subscribe((change) => {
    if (change.kind === 'key' && change.deleted) void hsm.destroyKeyObjects(change.arn);
    if (change.kind !== 'custom-key-store' || !hsm.isOpen(change.customKeyStoreId)) return;
    customKeyStores
      .get(change, change.customKeyStoreId)
      .then((s) => s?.connectionState !== 'CONNECTED' && hsm.disconnect(change.customKeyStoreId))
      .catch((err) => logger.error('could not refresh a custom key store', { error: String(err) }));
  });
  // Unwrapped material goes when its key is deleted (on any node), or everything when the feed may have missed changes.
  feed.subscribe((change) => {
    if (change.kind === 'all') keystore.forgetAll();
    else if (change.kind === 'key' && (change.deleted || change.erased)) keystore.forget(change.arn);
  });
  const audit = new AuditTrail({
    store: storage, scope: auditScope, uuid: () => uuidV7(Date.now(), random.bytes(10)), now: () => clock.now().getTime(), region: config.region,
    stream: auditStream, flushMs: config.auditFlushMs, onError: (message, err) => logger.error(message, { error: String(err) }),
  });
  // A marker left by a run that did not stop cleanly: its last queued events may be lost; say so in the trail. Only a
  // process that holds the data dir's lock gets here, so the marker is never a running server's. Nothing after this
  // can fail.
  const sessionMarker = new SessionMarker(path.join(config.dataDir, 'audit-session'));
  const { previousStart } = sessionMarker.open(clock.now());
  if (previousStart !== undefined) {
    audit.notice('AuditEventsPossiblyLost', {
      reason: 'the previous run of this node did not stop cleanly: the events of its read-only and failed requests still queued then (at most the last audit-flush-ms) were not stored',
      previousRunStartedAt: previousStart,
      auditFlushMs: config.auditFlushMs,
    });
    say(JSON.stringify({ level: 'warn', message: 'the previous run did not stop cleanly: recorded an AuditEventsPossiblyLost event', previousRunStartedAt: previousStart }));
  }
  const grants = new GrantRepository(storage, clock, new GrantTokens(rootKey), { feed, ttlMs: coordination.cacheTtlMs });
  // Multi-Region transitions: completed by this node once due (a timer per change), else by the leased job below.
  const transitions = new TransitionCompleter(keys, keystore, (arn, state) => {
    say(JSON.stringify({ level: 'info', message: 'multi-Region key: transition complete', arn, keyState: state }));
  });
  const transitionTimers = new Set<NodeJS.Timeout>();
  const completeTransitions = () =>
    transitions.completeDue().catch((err) => logger.error('multi-Region transitions failed', { error: String(err) }));
  const wakeTransitions = (delayMs: number) => {
    const timer = setTimeout(() => {
      transitionTimers.delete(timer);
      void completeTransitions();
    }, delayMs);
    transitionTimers.add(timer);
    timer.unref();
  };
  // AWS's request quotas, counted on this node (docs/deployment.md#request-quotas), on a monotonic clock.
  const quotas = config.requestQuotas === 'off' ? undefined : new RequestQuotas(config.requestQuotas, () => performance.now());
  const services: Services = {
    keys, grants, storage, keystore, authorizer: new KeyPolicyAuthorizer(clock, grants), clock, random,
    serviceAccessKeys: new Map(Object.entries(config.serviceAccessKeys ?? {})), keyUsage: audit,
    customKeyStores, hsm, xks, quotas,
    // A few ms past the transition date, so that the clock has reached it when the timer fires.
    transitions: { delayMs: config.multiRegionTransitionMs, wake: () => wakeTransitions(config.multiRegionTransitionMs + 5) },
  };
  // Principals, identity policies and access keys may change from another process (`trent iam`) or node: every
  // node re-reads the IAM generation at most once a second and drops what it cached when it moved. While the store
  // does not answer, cached callers are served for at most the cache lifetime, as cached keys are.
  const iamWatch = new IamGenerationWatch(storage, { maxStaleMs: coordination.cacheTtlMs });
  const authenticator: Authenticator = config.dev
    ? new DevAuthenticator(config.defaultAccount, config.region, new CallerDirectory(storage, iamWatch, () => undefined))
    : new SigV4Authenticator({ storage, rootKey, clock: systemClock, clockSkewSeconds: config.clockSkewSeconds, watch: iamWatch });
  // CloudTrail's LookupEvents (the audit trail over HTTP) is signed for the service `cloudtrail`.
  const cloudTrailAuthenticator: Authenticator = config.dev
    ? authenticator
    : new SigV4Authenticator({ storage, rootKey, clock: systemClock, clockSkewSeconds: config.clockSkewSeconds, watch: iamWatch, service: 'cloudtrail' });

  // The scheduled jobs' changes are audited as service events, as CloudTrail records them (batched: not in the
  // job's transaction, see docs/audit.md).
  const sweeper = new DeletionSweeper(keys, keystore, (arn) => {
    say(JSON.stringify({ level: 'info', message: 'scheduled deletion: key deleted', arn }));
    // A deleted multi-Region replica may have been the last of a primary pending replica deletion.
    if (arn.includes(':key/mrk-')) wakeTransitions(0);
    audit.notice('DeleteKey', { reason: 'the key reached its deletion date' }, arn);
  });
  const rotator = new KeyRotator({ keys, keystore, random, clock }, (arn, materialId) => {
    say(JSON.stringify({ level: 'info', message: 'automatic rotation: new key material is current', arn, materialId }));
    audit.notice('RotateKey', { rotationType: 'AUTOMATIC', keyMaterialId: materialId }, arn);
  });
  const expirer = new MaterialExpirer(keys, clock, (arn, materialId) => {
    say(JSON.stringify({ level: 'info', message: 'imported key material expired: erased, key pending import', arn, materialId }));
    audit.notice('DeleteExpiredKeyMaterial', { keyMaterialId: materialId }, arn);
  });
  // The scheduled jobs, each held by one node at a time (a lease on PostgreSQL).
  const jobs = [
    { name: 'deletion-sweeper', what: 'the deletion sweeper', run: () => sweeper.sweep() },
    { name: 'key-rotation', what: 'automatic key rotation', run: () => rotator.rotateDue() },
    { name: 'material-expiry', what: 'imported material expiry', run: () => expirer.expireDue() },
    { name: 'multi-region-transitions', what: 'multi-Region transitions', run: () => transitions.completeDue() },
  ].map(({ name, what, run }) => ({
    what,
    job: new LeasedJob(name, lease, run, (held) =>
      say(JSON.stringify({ level: 'info', message: `scheduler: this node ${held ? 'now runs' : 'no longer runs'} ${what}` })),
    ),
  }));
  // Each job's failure is logged on its own: a failing sweep does not hold rotation back, nor the reverse.
  const runJobs = async () => {
    for (const { what, job } of jobs) await job.run().catch((err) => logger.error(`${what} failed`, { error: String(err) }));
  };
  const scheduler = new IntervalScheduler(config.schedulerIntervalSeconds * 1000, runJobs, (err) =>
    logger.error('scheduled jobs failed', { error: String(err) }),
  );

  const health: ExtraRoute = async (req, res) => {
    if (req.method !== 'GET' || req.url !== '/health') return false;
    send(res, 200, { status: 'ok' }, { 'Content-Type': 'application/json' });
    return true;
  };
  const devReset: ExtraRoute = async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/_trent/dev/reset') return false;
    if (!config.dev) {
      send(res, 404, { __type: 'UnknownOperationException', message: 'Not found.' });
      return true;
    }
    // Every node drops its caches (the feed delivers { kind: 'all' }, here too). The audit trail stays (append-only).
    await keys.wipe();
    keystore.forgetAll();
    hsm.close();
    customKeyStores.clear();
    audit.notice('TrentDevReset', { reason: 'trent dev reset: every key, alias and tag was removed; the audit trail is kept' });
    send(res, 200, { status: 'reset' }, { 'Content-Type': 'application/json' });
    return true;
  };

  // Dev mode: move the clock forward, then run the due jobs at once (a run already under way read the old time, so
  // a fresh one follows it). Only this node's clock moves: see docs/rotation.md for several nodes.
  const devClock: ExtraRoute = async (req, res, body) => {
    if (req.url !== '/_trent/dev/clock' || (req.method !== 'POST' && req.method !== 'GET')) return false;
    if (!config.dev) {
      send(res, 404, { __type: 'UnknownOperationException', message: 'Not found.' });
      return true;
    }
    if (req.method === 'POST') {
      let advanceSeconds: unknown;
      try {
        advanceSeconds = (JSON.parse(body.toString('utf8') || '{}') as { advanceSeconds?: unknown }).advanceSeconds;
      } catch {
        advanceSeconds = undefined;
      }
      if (typeof advanceSeconds !== 'number' || !Number.isSafeInteger(advanceSeconds) || advanceSeconds < 0) {
        send(res, 400, { __type: 'ValidationException', message: 'Send {"advanceSeconds": N} with N a non-negative whole number of seconds: the clock only moves forward.' });
        return true;
      }
      try {
        clock.advance(advanceSeconds * 1000);
      } catch (err) {
        send(res, 400, { __type: 'ValidationException', message: (err as Error).message });
        return true;
      }
      await scheduler.runNow();
      await scheduler.runNow();
    }
    send(res, 200, { now: clock.now().toISOString(), offsetSeconds: clock.offsetMs / 1000 }, { 'Content-Type': 'application/json' });
    return true;
  };

  const handler: RequestHandler = createRequestHandler({
    registry: new OperationRegistry(),
    authenticator,
    services,
    requestLog,
    audit,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    quotas,
    maxInFlight: config.maxInFlight,
    extraRoutes: [health, devReset, devClock, lookupEventsRoute({ authenticator: cloudTrailAuthenticator, store: storage, flush: () => audit.flush() })],
  });
  listening.open(handler);
  scheduler.start();
  void scheduler.runNow();
  say(`Trent listening on ${url} (region ${config.region}, default account ${config.defaultAccount}${config.dev ? ', dev mode: any access key accepted' : ''})`);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceSeconds * 1000).unref());
      await Promise.race([Promise.all([...inFlight]), grace]);
      // Answered requests' responses go out at the end of the event loop's turn (protocol/http-handler.ts
      // batchedWriter): let that turn end before the connections close.
      await new Promise((resolve) => setImmediate(resolve));
      server.closeAllConnections();
      await closed;
      await scheduler.stop();
      for (const timer of transitionTimers) clearTimeout(timer);
      for (const { job } of jobs) await job.release().catch((err) => logger.error('could not release the scheduler lease', { error: String(err) }));
      await requestLog.flush();
      // Every queued audit event stored: only then is the marker removed (else the next start reports a possible loss).
      const auditComplete = await audit.stop().catch((err) => {
        logger.error('could not store the last audit events', { error: String(err) });
        return false;
      });
      if (auditStream && auditStream !== io.stdout) await new Promise<void>((resolve) => auditStream.end(resolve));
      await coordination.close();
      hsm.close();
      rootKey.close();
      await storage.close();
      if (auditComplete) sessionMarker.close();
      lock.release();
    })());
  return { url, port, services, clock, stop };
}

interface Coordination {
  readonly feed: ChangeFeed;
  readonly lease: JobLease;
  /** Infinity: no expiry. */
  readonly cacheTtlMs: number;
  close(): Promise<void>;
}

/**
 * SQLite: one node, so an in-process feed, no lease, and (by default) no cache expiry. PostgreSQL: LISTEN/NOTIFY
 * invalidations, a lease row per job held for 3 scheduler intervals, and a 30 s cache expiry by default.
 */
async function openCoordination(config: TrentConfig, logger: { error(message: string, fields?: Record<string, unknown>): void }, say: (line: string) => void): Promise<Coordination> {
  const store = config.store;
  switch (store.kind) {
    case 'sqlite': {
      const feed = new LocalChangeFeed();
      return { feed, lease: new SingleNodeLease(), cacheTtlMs: (config.cacheTtlSeconds ?? Infinity) * 1000, close: () => feed.close() };
    }
    case 'postgres': {
      const feed = await PostgresChangeFeed.open(store.url, {
        onError: (message, err) => logger.error(message, { error: err.message }),
        onReconnect: () => say(JSON.stringify({ level: 'info', message: 'cache invalidation feed reconnected; caches cleared' })),
        timeoutMs: config.storeTimeoutSeconds * 1000,
      });
      const lease = new PostgresJobLease(
        store.url,
        3 * config.schedulerIntervalSeconds * 1000,
        (err) => logger.error('PostgreSQL lease connection error', { error: err.message }),
        config.storeTimeoutSeconds * 1000,
      );
      return {
        feed, lease, cacheTtlMs: (config.cacheTtlSeconds ?? 30) * 1000,
        close: async () => {
          await feed.close();
          await lease.close();
        },
      };
    }
    default:
      return store satisfies never;
  }
}

function openStorage(config: TrentConfig, logger: { error(message: string, fields?: Record<string, unknown>): void }, audit: RequestAuditScope): Storage & AuditStore {
  const store = config.store;
  switch (store.kind) {
    case 'sqlite':
      return new SqliteStorage(store.file, { audit });
    case 'postgres':
      // An idle pooled connection that breaks (server restart) is logged and replaced; requests see the error.
      return new PostgresStorage(store.url, {
        onError: (err) => logger.error('PostgreSQL connection error', { error: err.message }),
        timeoutMs: config.storeTimeoutSeconds * 1000,
        audit,
      });
    default:
      return store satisfies never;
  }
}

/** A log file, appended (mode 0600); a start that fails closes it, and removes it if it made it. */
async function openLogFile(target: string, undo: (() => unknown)[]): Promise<Writable> {
  const made = !existsSync(target);
  const stream = createWriteStream(target, { flags: 'a', mode: 0o600 });
  await new Promise((resolve, reject) => stream.once('open', resolve).once('error', reject));
  undo.push(async () => {
    await new Promise<void>((resolve) => stream.end(resolve));
    if (made) await rm(target, { force: true });
  });
  return stream;
}

/** --audit-log: `-` for stdout, else a file. */
async function openAuditLog(target: string | undefined, io: Io, undo: (() => unknown)[]): Promise<Writable | undefined> {
  if (target === undefined || target === '') return undefined;
  if (target === '-') return io.stdout;
  return openLogFile(target, undo);
}

async function openRequestLog(target: string, io: Io, undo: (() => unknown)[]): Promise<RequestLog> {
  switch (target) {
    case 'off':
      return new NullLog();
    case 'stdout':
      return new JsonLinesLog(io.stdout);
    case 'stderr':
      return new JsonLinesLog(io.stderr);
    default:
      return new JsonLinesLog(await openLogFile(target, undo));
  }
}
