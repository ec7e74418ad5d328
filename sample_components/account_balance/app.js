// app.js -- the export obsrvr:flowctl/processor@1.0.0 of the account-balance sample.
//
// World obsrvr:flowctl/flowctl-processor-full: imports logging, metrics, http-client, database,
// key-value and config.  Built with componentize-js with every WASI feature disabled, so the
// component imports nothing else -- and an uncaught JS exception would trap.  Every export
// therefore catches everything and returns a typed processor-error instead.
//
// Host results: an import returning result<T, E> returns T, or throws a ComponentError whose
// `payload` is E (a {tag, val} variant).

import { log, logStructured } from 'obsrvr:flowctl/logging@1.0.0';
import { recordCounter } from 'obsrvr:flowctl/metrics@1.0.0';
import { request, isUrlAllowed } from 'obsrvr:flowctl/http-client@1.0.0';
import {
  query,
  execute,
  beginTransaction,
  commitTransaction,
  rollbackTransaction,
  isQueryAllowed,
} from 'obsrvr:flowctl/database@1.0.0';
import { set as kvSet } from 'obsrvr:flowctl/key-value@1.0.0';
import { listKeys as configListKeys } from 'obsrvr:flowctl/config@1.0.0';

import {
  CONFIG_SCHEMA,
  HTTP_TIMEOUT_MS,
  NAME,
  RuleError,
  SOURCE_COMPONENT,
  VERSION,
  cacheKey,
  clip,
  negate,
  outputData,
  parseConfig,
  parseTransfer,
  perr,
  statements,
} from './rules.js';

// ----------------------------------------------------------------------------- state

let state = null; // {config, sql} once initialized
let eventsApplied = 0;
let lastTimestamp = 0n; // no clock without WASI: health-check reports the newest event's
let lastDbError = null; // message of the last database failure, cleared by a successful call

// ----------------------------------------------------------------------------- helpers

/** The WIT variant carried by a host error (ComponentError.payload), or an unknown-error. */
function hostError(e) {
  if (e && typeof e === 'object' && 'payload' in e && e.payload && typeof e.payload === 'object') {
    return e.payload;
  }
  return { tag: 'unknown-error', val: String(e && e.message ? e.message : e) };
}

function describe(variant) {
  return variant.val === undefined ? variant.tag : `${variant.tag}: ${variant.val}`;
}

/** A database error, already mapped to a processor-error. */
class DbFailure extends Error {
  constructor(what, dbError) {
    super(`database ${what} failed: ${describe(dbError)}`);
    this.dbError = dbError;
  }
  toProcessorError() {
    switch (this.dbError.tag) {
      case 'timeout':
        return perr('timeout');
      case 'permission-denied':
        return perr('permission-denied', this.message);
      default:
        return perr('dependency-error', this.message);
    }
  }
}

function db(what, fn) {
  try {
    return fn();
  } catch (e) {
    throw new DbFailure(what, hostError(e));
  }
}

/** Map anything thrown inside an export to a processor-error (never trap). */
function toProcessorError(e) {
  if (e instanceof RuleError || e instanceof DbFailure) return e.toProcessorError();
  if (e instanceof Error && /out of memory|too much recursion/i.test(e.message)) {
    return perr('resource-exhausted');
  }
  const name = e && e.name ? e.name : 'Error';
  return perr('unknown-error', `${name}: ${e && e.message ? e.message : String(e)}`);
}

function safeLog(level, message, fields) {
  try {
    if (fields) logStructured(level, message, fields);
    else log(level, message);
  } catch (_e) {
    // logging is best effort
  }
}

function counter(name, value, tags = []) {
  try {
    recordCounter(name, value, tags.map(([key, v]) => ({ key, value: String(v) })));
  } catch (_e) {
    // metrics are best effort
  }
}

// ----------------------------------------------------------------------------- capability steps

/** One GET of price_url per call with transfers; errors are logged and the call goes on. */
function lookUpPrice(url) {
  try {
    const resp = request({ method: 'GET', url, headers: [['accept', 'application/json']], body: undefined, timeoutMs: HTTP_TIMEOUT_MS });
    if (resp.statusCode < 200 || resp.statusCode > 299) {
      safeLog('warn', 'price lookup answered with a non-2xx status', [
        ['url', url],
        ['status', String(resp.statusCode)],
      ]);
      counter('price_lookups', 1, [['status', 'error']]);
      return [];
    }
    counter('price_lookups', 1, [['status', 'ok']]);
    return [
      ['price_url', url],
      ['price_status', String(resp.statusCode)],
      ['price', clip(resp.body.trim())],
    ];
  } catch (e) {
    const err = hostError(e);
    safeLog('warn', 'price lookup failed; continuing without price', [
      ['url', url],
      ['error', describe(err)],
    ]);
    counter('price_lookups', 1, [['status', 'error']]);
    return [];
  }
}

function readBalance(sql, account, asset) {
  const res = db('query', () => query(sql.select, [account, asset]));
  if (!res.rows || res.rows.length !== 1 || res.rows[0].length < 1) {
    throw new DbFailure('query', {
      tag: 'query-failed',
      val: `expected one balance row for ${account} ${asset}, got ${res.rows ? res.rows.length : 0}`,
    });
  }
  return res.rows[0][0];
}

/**
 * Apply every transfer inside ONE database transaction (all or nothing), then refresh the cache.
 * Returns [[transfer, [[account, balance], ...]], ...] in input order.
 */
function applyTransfers(transfers) {
  const { sql, config } = state;
  const txId = db('begin-transaction', () => beginTransaction());
  const applied = [];
  try {
    for (const t of transfers) {
      db('execute', () => execute(sql.upsert, [t.from, t.asset, negate(t.amount)]));
      db('execute', () => execute(sql.upsert, [t.to, t.asset, t.amount]));
      const accounts = t.from === t.to ? [t.from] : [t.from, t.to];
      applied.push([t, accounts.map((a) => [a, readBalance(sql, a, t.asset)])]);
    }
    db('commit-transaction', () => commitTransaction(txId));
  } catch (e) {
    try {
      rollbackTransaction(txId);
    } catch (re) {
      safeLog('error', 'rollback failed', [['transaction_id', txId], ['error', describe(hostError(re))]]);
    }
    throw e;
  }
  // Cache only committed values: one set per distinct balance, with its latest value.
  const latest = new Map();
  for (const [t, balances] of applied) {
    for (const [account, balance] of balances) latest.set(cacheKey(account, t.asset), balance);
  }
  let cacheErrors = 0;
  for (const [key, value] of latest) {
    try {
      kvSet(key, value, config.cacheTtlSeconds);
    } catch (e) {
      cacheErrors += 1;
      if (cacheErrors === 1) {
        safeLog('warn', 'balance cache update failed; the database stays authoritative', [
          ['key', key],
          ['error', describe(hostError(e))],
        ]);
      }
    }
  }
  if (cacheErrors > 0) counter('cache_errors', cacheErrors);
  return applied;
}

// ----------------------------------------------------------------------------- processing

function processEvents(events) {
  if (state === null) return { tag: 'err', val: perr('configuration-error', 'not initialized') };
  try {
    // 1. validate every event before touching any capability
    const work = []; // [event, transfer]
    let skipped = 0;
    for (const ev of events) {
      if (typeof ev.timestamp === 'bigint' && ev.timestamp > lastTimestamp) lastTimestamp = ev.timestamp;
      if (!ev.data || ev.data.tag !== 'token-transfer') {
        skipped += 1;
        continue;
      }
      try {
        work.push([ev, parseTransfer(ev.data.val)]);
      } catch (e) {
        if (e instanceof RuleError) {
          throw new RuleError(e.tag, `event ${JSON.stringify(ev.id)}: ${e.message}`);
        }
        throw e;
      }
    }
    if (skipped > 0) counter('events_skipped', skipped, [['reason', 'not_token_transfer']]);
    if (work.length === 0) return { tag: 'ok', val: [] };

    // 2. optional price lookup (before the transaction: no network wait while it is open)
    const priceMeta = state.config.priceUrl ? lookUpPrice(state.config.priceUrl) : [];

    // 3. database + cache
    let applied;
    try {
      applied = applyTransfers(work.map(([, t]) => t));
    } catch (e) {
      if (e instanceof DbFailure) {
        lastDbError = e.message;
        counter('db_errors', 1, [['case', e.dbError.tag]]);
        safeLog('error', 'balance update rolled back', [
          ['events', String(work.length)],
          ['error', e.message],
        ]);
      }
      throw e;
    }
    lastDbError = null;
    eventsApplied += work.length;
    counter('transfers_applied', work.length);

    // 4. one account-updated event per transfer
    const out = applied.map(([t, balances], i) => {
      const ev = work[i][0];
      return {
        id: `${ev.id}-balances`,
        timestamp: ev.timestamp,
        sourceComponent: SOURCE_COMPONENT,
        eventType: 'account-updated',
        data: { tag: 'generic', val: outputData(t, balances) },
        metadata: [
          ...ev.metadata,
          ['processor', SOURCE_COMPONENT],
          ['processor_version', VERSION],
          ['original_event_id', ev.id],
          ...priceMeta,
        ],
      };
    });
    return { tag: 'ok', val: out };
  } catch (e) {
    return { tag: 'err', val: toProcessorError(e) };
  }
}

function checkGrants(config, sql) {
  for (const [what, text] of [['upsert', sql.upsert], ['select', sql.select]]) {
    let ok;
    try {
      ok = isQueryAllowed(text);
    } catch (e) {
      ok = false;
    }
    if (!ok) {
      throw new RuleError(
        'configuration-error',
        `the host does not allow the ${what} statement on table ${config.table}: ${text}`,
      );
    }
  }
  if (config.priceUrl && !isUrlAllowed(config.priceUrl)) {
    throw new RuleError('configuration-error', `the host does not allow price_url ${config.priceUrl}`);
  }
}

// ----------------------------------------------------------------------------- export

export const processor = {
  processEvent(event) {
    return processEvents([event]);
  },

  processBatch(events) {
    return processEvents(events);
  },

  initialize(configText) {
    try {
      const config = parseConfig(configText);
      const sql = statements(config.table);
      checkGrants(config, sql);
      state = { config, sql };
      lastDbError = null;
      safeLog('info', 'Account balance processor initialized', [
        ['table', config.table],
        ['cache_ttl_seconds', String(config.cacheTtlSeconds)],
        ['price_url', config.priceUrl || ''],
      ]);
      return { tag: 'ok', val: undefined };
    } catch (e) {
      return { tag: 'err', val: toProcessorError(e) };
    }
  },

  validateConfig(configText) {
    try {
      const config = parseConfig(configText);
      statements(config.table);
      return { tag: 'ok', val: undefined };
    } catch (e) {
      return { tag: 'err', val: toProcessorError(e) };
    }
  },

  shutdown() {
    try {
      if (state !== null) {
        safeLog('info', 'Account balance processor shutting down', [
          ['events_applied', String(eventsApplied)],
        ]);
      }
    } finally {
      state = null;
    }
  },

  getInfo() {
    return {
      name: NAME,
      version: VERSION,
      author: 'flowctl conformance team',
      description:
        'Keeps per-account, per-asset balances in a PostgreSQL table from token-transfer events, ' +
        'caches them in the key-value store and emits account-updated events',
      supportedEventTypes: ['token-transfer'],
      outputEventTypes: ['account-updated'],
      capabilitiesRequired: ['logging', 'metrics', 'config', 'database', 'key-value', 'http-client'],
      configurationSchema: JSON.stringify(CONFIG_SCHEMA),
    };
  },

  healthCheck() {
    try {
      if (state === null) {
        return {
          tag: 'ok',
          val: { status: 'unknown', message: 'not initialized', details: [], timestamp: lastTimestamp },
        };
      }
      let hostKeys;
      try {
        hostKeys = String(configListKeys().length);
      } catch (_e) {
        hostKeys = 'unavailable';
      }
      const details = [
        ['table', state.config.table],
        ['cache_ttl_seconds', String(state.config.cacheTtlSeconds)],
        ['price_url', state.config.priceUrl || ''],
        ['events_applied', String(eventsApplied)],
        ['host_config_keys', hostKeys],
      ];
      if (lastDbError !== null) {
        return {
          tag: 'ok',
          val: { status: 'degraded', message: `last database call failed: ${lastDbError}`, details, timestamp: lastTimestamp },
        };
      }
      return { tag: 'ok', val: { status: 'healthy', message: undefined, details, timestamp: lastTimestamp } };
    } catch (e) {
      return { tag: 'err', val: toProcessorError(e) };
    }
  },
};
