;; capability-proxy -- not a processor: world obsrvr:flowctl-test/capability-proxy@1.0.0.
;;
;; One pass-through export per function of the six capability interfaces (http-client,
;; database, key-value, logging, metrics, config): `call-<interface>-<function>` has exactly the
;; signature of the imported function, calls it with its core arguments unchanged and returns
;; exactly what the host returned.  Strings and lists arrive as (ptr, len) pairs the host already
;; wrote into guest memory (through cabi_realloc) and are handed on as they are; enums, options
;; and numbers likewise.
;;
;; Results of more than one flat value come back through memory: the export passes $RET (1024,
;; 16-byte aligned, 64 bytes) as the import's retptr -- the import writes the result there in
;; exactly the layout the export must return -- and returns $RET.  Sizes (all <= 64):
;;   result<http-response, http-error>   24 (align 4): 0 disc, 4 response or error
;;   result<query-result, db-error>      32 (align 8): 0 disc, 8 rows, 16 columns, 24 rows-affected
;;   result<string, db-error>            16 (align 4)      result<_, db-error>       16
;;   result<option<string>, kv-error>    16 (align 4)      result<_, kv-error>       16
;;   result<bool, kv-error>              16 (align 4)      result<list<string>, kv-error> 16
;;   result<s64, kv-error>               24 (align 8)      result<s64/f64, config-error> 24
;;   result<string/bool, config-error>   16 (align 4)      list<string>               8
;; Functions returning bool (one flat i32) or nothing call the import directly.
;;
;; Every export has a cabi_post_* function that resets the bump heap (the host's arguments and
;; the import's results live there until the host has lifted the export's results).

;; ---- imports (core signatures as printed by `wasm-tools component embed --dummy-names legacy`)
(import "obsrvr:flowctl/http-client@1.0.0" "request"
  (func $http.request (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/http-client@1.0.0" "is-url-allowed"
  (func $http.is-url-allowed (param i32 i32) (result i32)))
(import "obsrvr:flowctl/database@1.0.0" "query" (func $db.query (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/database@1.0.0" "execute" (func $db.execute (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/database@1.0.0" "begin-transaction" (func $db.begin (param i32)))
(import "obsrvr:flowctl/database@1.0.0" "commit-transaction" (func $db.commit (param i32 i32 i32)))
(import "obsrvr:flowctl/database@1.0.0" "rollback-transaction" (func $db.rollback (param i32 i32 i32)))
(import "obsrvr:flowctl/database@1.0.0" "is-query-allowed"
  (func $db.is-query-allowed (param i32 i32) (result i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "get" (func $kv.get (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "set" (func $kv.set (param i32 i32 i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "delete" (func $kv.delete (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "exists" (func $kv.exists (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "list-keys" (func $kv.list-keys (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "increment" (func $kv.increment (param i32 i32 i64 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "expire" (func $kv.expire (param i32 i32 i32 i32)))
(import "obsrvr:flowctl/logging@1.0.0" "log" (func $log.log (param i32 i32 i32)))
(import "obsrvr:flowctl/logging@1.0.0" "log-structured" (func $log.log-structured (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/logging@1.0.0" "set-log-level" (func $log.set-log-level (param i32)))
(import "obsrvr:flowctl/metrics@1.0.0" "record-counter" (func $metrics.counter (param i32 i32 f64 i32 i32)))
(import "obsrvr:flowctl/metrics@1.0.0" "record-gauge" (func $metrics.gauge (param i32 i32 f64 i32 i32)))
(import "obsrvr:flowctl/metrics@1.0.0" "record-histogram" (func $metrics.histogram (param i32 i32 f64 i32 i32)))
(import "obsrvr:flowctl/metrics@1.0.0" "record-timer" (func $metrics.timer (param i32 i32 i64 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "get-string" (func $config.get-string (param i32 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "get-int" (func $config.get-int (param i32 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "get-float" (func $config.get-float (param i32 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "get-bool" (func $config.get-bool (param i32 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "get-json" (func $config.get-json (param i32 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "has-key" (func $config.has-key (param i32 i32) (result i32)))
(import "obsrvr:flowctl/config@1.0.0" "list-keys" (func $config.list-keys (param i32)))

;; ---- http-client
(func (export "call-http-client-request")
  (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
  (call $http.request
    (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
    (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-http-client-request") (param i32) (call $heap-reset))
(func (export "call-http-client-is-url-allowed") (param i32 i32) (result i32)
  (call $http.is-url-allowed (local.get 0) (local.get 1)))
(func (export "cabi_post_call-http-client-is-url-allowed") (param i32) (call $heap-reset))

;; ---- database
(func (export "call-database-query") (param i32 i32 i32 i32) (result i32)
  (call $db.query (local.get 0) (local.get 1) (local.get 2) (local.get 3) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-database-query") (param i32) (call $heap-reset))
(func (export "call-database-execute") (param i32 i32 i32 i32) (result i32)
  (call $db.execute (local.get 0) (local.get 1) (local.get 2) (local.get 3) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-database-execute") (param i32) (call $heap-reset))
(func (export "call-database-begin-transaction") (result i32)
  (call $db.begin (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-database-begin-transaction") (param i32) (call $heap-reset))
(func (export "call-database-commit-transaction") (param i32 i32) (result i32)
  (call $db.commit (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-database-commit-transaction") (param i32) (call $heap-reset))
(func (export "call-database-rollback-transaction") (param i32 i32) (result i32)
  (call $db.rollback (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-database-rollback-transaction") (param i32) (call $heap-reset))
(func (export "call-database-is-query-allowed") (param i32 i32) (result i32)
  (call $db.is-query-allowed (local.get 0) (local.get 1)))
(func (export "cabi_post_call-database-is-query-allowed") (param i32) (call $heap-reset))

;; ---- key-value
(func (export "call-key-value-get") (param i32 i32) (result i32)
  (call $kv.get (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-get") (param i32) (call $heap-reset))
(func (export "call-key-value-set") (param i32 i32 i32 i32 i32 i32) (result i32)
  (call $kv.set
    (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5)
    (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-set") (param i32) (call $heap-reset))
(func (export "call-key-value-delete") (param i32 i32) (result i32)
  (call $kv.delete (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-delete") (param i32) (call $heap-reset))
(func (export "call-key-value-exists") (param i32 i32) (result i32)
  (call $kv.exists (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-exists") (param i32) (call $heap-reset))
(func (export "call-key-value-list-keys") (param i32 i32 i32 i32) (result i32)
  (call $kv.list-keys (local.get 0) (local.get 1) (local.get 2) (local.get 3) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-list-keys") (param i32) (call $heap-reset))
(func (export "call-key-value-increment") (param i32 i32 i64) (result i32)
  (call $kv.increment (local.get 0) (local.get 1) (local.get 2) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-increment") (param i32) (call $heap-reset))
(func (export "call-key-value-expire") (param i32 i32 i32) (result i32)
  (call $kv.expire (local.get 0) (local.get 1) (local.get 2) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-key-value-expire") (param i32) (call $heap-reset))

;; ---- logging (no results: the post-return functions take no parameters)
(func (export "call-logging-log") (param i32 i32 i32)
  (call $log.log (local.get 0) (local.get 1) (local.get 2)))
(func (export "cabi_post_call-logging-log") (call $heap-reset))
(func (export "call-logging-log-structured") (param i32 i32 i32 i32 i32)
  (call $log.log-structured
    (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
(func (export "cabi_post_call-logging-log-structured") (call $heap-reset))
(func (export "call-logging-set-log-level") (param i32)
  (call $log.set-log-level (local.get 0)))
(func (export "cabi_post_call-logging-set-log-level") (call $heap-reset))

;; ---- metrics (no results)
(func (export "call-metrics-record-counter") (param i32 i32 f64 i32 i32)
  (call $metrics.counter (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
(func (export "cabi_post_call-metrics-record-counter") (call $heap-reset))
(func (export "call-metrics-record-gauge") (param i32 i32 f64 i32 i32)
  (call $metrics.gauge (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
(func (export "cabi_post_call-metrics-record-gauge") (call $heap-reset))
(func (export "call-metrics-record-histogram") (param i32 i32 f64 i32 i32)
  (call $metrics.histogram (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
(func (export "cabi_post_call-metrics-record-histogram") (call $heap-reset))
(func (export "call-metrics-record-timer") (param i32 i32 i64 i32 i32)
  (call $metrics.timer (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
(func (export "cabi_post_call-metrics-record-timer") (call $heap-reset))

;; ---- config
(func (export "call-config-get-string") (param i32 i32) (result i32)
  (call $config.get-string (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-get-string") (param i32) (call $heap-reset))
(func (export "call-config-get-int") (param i32 i32) (result i32)
  (call $config.get-int (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-get-int") (param i32) (call $heap-reset))
(func (export "call-config-get-float") (param i32 i32) (result i32)
  (call $config.get-float (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-get-float") (param i32) (call $heap-reset))
(func (export "call-config-get-bool") (param i32 i32) (result i32)
  (call $config.get-bool (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-get-bool") (param i32) (call $heap-reset))
(func (export "call-config-get-json") (param i32 i32) (result i32)
  (call $config.get-json (local.get 0) (local.get 1) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-get-json") (param i32) (call $heap-reset))
(func (export "call-config-has-key") (param i32 i32) (result i32)
  (call $config.has-key (local.get 0) (local.get 1)))
(func (export "cabi_post_call-config-has-key") (param i32) (call $heap-reset))
(func (export "call-config-list-keys") (result i32)
  (call $config.list-keys (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-list-keys") (param i32) (call $heap-reset))
