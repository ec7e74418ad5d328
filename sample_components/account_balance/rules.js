// rules.js -- the account-balance processor's pure rules: configuration, event validation, SQL
// texts, output shape.  No host calls here (app.js makes them), so everything in this module is
// deterministic and could be unit-tested under plain Node.
//
// Money is never a JS number: amounts stay the decimal strings the event carries, are checked
// against a strict grammar, and are handed to PostgreSQL (NUMERIC) as bound parameters.

export const NAME = 'Account Balance Processor';
export const VERSION = '1.0.0';
export const SOURCE_COMPONENT = 'account-balance-processor';

export const DEFAULT_TABLE = 'balances';
export const DEFAULT_CACHE_TTL_SECONDS = 60;
export const MAX_TTL_SECONDS = 4294967295; // u32, the WIT type of ttl-seconds
export const HTTP_TIMEOUT_MS = 5000;
export const MAX_PRICE_METADATA_CHARS = 256;

export const CONFIG_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  additionalProperties: false,
  properties: {
    table: {
      type: 'string',
      pattern: '^[a-z_][a-z0-9_]{0,62}(\\.[a-z_][a-z0-9_]{0,62})?$',
      default: DEFAULT_TABLE,
      description:
        'PostgreSQL table holding the balances (lower-case identifier, optionally schema-qualified)',
    },
    cache_ttl_seconds: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_TTL_SECONDS,
      default: DEFAULT_CACHE_TTL_SECONDS,
      description: 'TTL of the balance:<account>:<asset> key-value cache entries',
    },
    price_url: {
      type: ['string', 'null'],
      pattern: '^https?://[^\\s\\u0000-\\u001f\\u007f]+$',
      maxLength: 2048,
      default: null,
      description: 'optional URL fetched (GET) once per call that has transfers; answer in metadata',
    },
  },
};

/** A typed processor-error, as the WIT variant's JS form. */
export function perr(tag, val) {
  return val === undefined ? { tag } : { tag, val };
}

export class RuleError extends Error {
  constructor(tag, message) {
    super(message);
    this.tag = tag;
  }
  toProcessorError() {
    return perr(this.tag, this.message);
  }
}

const TABLE_RE = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;
const URL_RE = /^https?:\/\/[^\s\u0000-\u001f\u007f]+$/;
const KNOWN_KEYS = new Set(['table', 'cache_ttl_seconds', 'price_url']);

function configError(message) {
  return new RuleError('configuration-error', `Invalid config: ${message}`);
}

/**
 * Parse and validate the configuration JSON given to initialize / validate-config.
 * Returns {table, cacheTtlSeconds, priceUrl}; throws RuleError('configuration-error').
 */
export function parseConfig(text) {
  if (typeof text !== 'string') throw configError('not a string');
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw configError(`not JSON (${e && e.message ? e.message : e}); give a JSON object, e.g. {}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError('the top level must be a JSON object');
  }
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) {
      throw configError(`unknown key ${JSON.stringify(key)} (known: table, cache_ttl_seconds, price_url)`);
    }
  }
  let table = DEFAULT_TABLE;
  if (raw.table !== undefined) {
    if (typeof raw.table !== 'string' || !TABLE_RE.test(raw.table)) {
      throw configError(
        'table must be a lower-case SQL identifier [a-z_][a-z0-9_]* (at most 63 characters), ' +
          'optionally schema-qualified',
      );
    }
    table = raw.table;
  }
  let cacheTtlSeconds = DEFAULT_CACHE_TTL_SECONDS;
  if (raw.cache_ttl_seconds !== undefined) {
    const v = raw.cache_ttl_seconds;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_TTL_SECONDS) {
      throw configError(`cache_ttl_seconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
    }
    cacheTtlSeconds = v;
  }
  let priceUrl = null;
  if (raw.price_url !== undefined && raw.price_url !== null) {
    const u = raw.price_url;
    if (typeof u !== 'string' || u.length > 2048 || !URL_RE.test(u)) {
      throw configError('price_url must be an http:// or https:// URL without spaces (at most 2048 characters)');
    }
    priceUrl = u;
  }
  return { table, cacheTtlSeconds, priceUrl };
}

/** The SQL texts the processor runs against `table` (a validated identifier). */
export function statements(table) {
  if (!TABLE_RE.test(table)) throw configError(`bad table name ${JSON.stringify(table)}`);
  return {
    // $1 account, $2 asset key, $3 signed decimal amount (text; PostgreSQL casts it to NUMERIC)
    upsert:
      `INSERT INTO ${table} AS b (account, asset, amount) VALUES ($1, $2, $3) ` +
      'ON CONFLICT (account, asset) DO UPDATE SET amount = b.amount + EXCLUDED.amount',
    // $1 account, $2 asset key; the NUMERIC comes back as PostgreSQL's exact text form
    select: `SELECT amount::text FROM ${table} WHERE account = $1 AND asset = $2`,
  };
}

// Unsigned decimal as PostgreSQL's NUMERIC input accepts it, exponent at most 3 digits.
// No sign, no spaces, no NaN/Infinity, no "_" or "," separators.
const AMOUNT_RE = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$/;
const ACCOUNT_RE = /^[A-Za-z0-9_-]{1,128}$/;
const CODE_RE = /^[A-Za-z0-9]{1,12}$/;
const ISSUER_RE = /^[A-Za-z0-9]{1,128}$/;
const MAX_AMOUNT_CHARS = 64;

function invalid(message) {
  return new RuleError('invalid-event', message);
}

/** The asset key of a stellar-asset: "native" or "CODE:ISSUER". */
export function assetKey(asset) {
  if (asset === null || typeof asset !== 'object') throw invalid('asset is missing');
  switch (asset.assetType) {
    case 'native':
      return 'native';
    case 'credit-alphanum4':
    case 'credit-alphanum12': {
      const code = asset.assetCode;
      const issuer = asset.assetIssuer;
      if (typeof code !== 'string' || !CODE_RE.test(code)) {
        throw invalid(`${asset.assetType} asset needs an asset-code of 1-12 letters or digits`);
      }
      if (typeof issuer !== 'string' || !ISSUER_RE.test(issuer)) {
        throw invalid(`${asset.assetType} asset needs an asset-issuer (letters and digits)`);
      }
      return `${code}:${issuer}`;
    }
    case 'liquidity-pool-shares':
      throw invalid('liquidity-pool-shares transfers are not supported');
    default:
      throw invalid(`unknown asset-type ${JSON.stringify(asset.assetType)}`);
  }
}

/** "-x" for "x" (amounts are validated unsigned decimals, so this is exact). */
export function negate(amount) {
  return `-${amount}`;
}

/**
 * Validate a token-transfer payload; returns {from, to, asset, amount, transactionHash,
 * operationIndex}.  Throws RuleError('invalid-event') with the reason.
 */
export function parseTransfer(t) {
  if (t === null || typeof t !== 'object') throw invalid('token-transfer payload is missing');
  for (const [field, value] of [['from', t.from], ['to', t.to]]) {
    if (typeof value !== 'string' || !ACCOUNT_RE.test(value)) {
      throw invalid(
        `${field} must be an account id of 1-128 letters, digits, "_" or "-", got ${JSON.stringify(value)}`,
      );
    }
  }
  const amount = t.amount;
  if (typeof amount !== 'string' || amount.length > MAX_AMOUNT_CHARS || !AMOUNT_RE.test(amount)) {
    throw invalid(
      `amount must be an unsigned decimal string such as "10.5000000", got ${JSON.stringify(amount)}`,
    );
  }
  return {
    from: t.from,
    to: t.to,
    asset: assetKey(t.asset),
    amount,
    transactionHash: typeof t.transactionHash === 'string' ? t.transactionHash : '',
    operationIndex: typeof t.operationIndex === 'number' ? t.operationIndex : 0,
  };
}

/** The kv cache key of one balance. */
export function cacheKey(account, asset) {
  return `balance:${account}:${asset}`;
}

/**
 * The `generic` payload of the account-updated event for one applied transfer.
 * `balances` is [[account, balance], ...] in the order from, to (one entry if from === to).
 */
export function outputData(transfer, balances) {
  return JSON.stringify({
    transfer: {
      from: transfer.from,
      to: transfer.to,
      asset: transfer.asset,
      amount: transfer.amount,
      transaction_hash: transfer.transactionHash,
      operation_index: transfer.operationIndex,
    },
    balances: balances.map(([account, balance]) => ({ account, asset: transfer.asset, balance })),
  });
}

/** Shorten a string for metadata / messages. */
export function clip(s, n = MAX_PRICE_METADATA_CHARS) {
  const str = String(s);
  return str.length <= n ? str : `${str.slice(0, n)}...`;
}
