;; echo-types -- not a processor: world obsrvr:flowctl-test/echo-types@1.0.0.
;;
;; echo-<T>: func(x: list<T>) -> list<T> for many flowctl types.  The list argument arrives as
;; (ptr, len) of memory the host already laid out in canonical-ABI form; returning the same
;; (ptr, len) (through the 8-byte result area $RET) echoes it, whatever T is.
;;
;; call-kv-get / call-config-get-int pass a key to the key-value `get` / config `get-int` import
;; with $RET as retptr, and return $RET: the guest returns exactly what the host returned.
;;   result<option<string>, kv-error> (size 16, align 4): 0 discriminant, 4 option discriminant
;;     or kv-error case, 8 ptr, 12 len
;;   result<s64, config-error> (size 24, align 8): 0 discriminant, 8 s64 or config-error case,
;;     12 ptr, 16 len

(import "obsrvr:flowctl/key-value@1.0.0" "get" (func $key-value.get (param i32 i32 i32)))
(import "obsrvr:flowctl/config@1.0.0" "get-int" (func $config.get-int (param i32 i32 i32)))

(func $call-kv-get (export "call-kv-get") (param $key i32) (param $len i32) (result i32)
  (call $key-value.get (local.get $key) (local.get $len) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-kv-get") (param i32) (call $heap-reset))

(func $call-config-get-int (export "call-config-get-int") (param $key i32) (param $len i32) (result i32)
  (call $config.get-int (local.get $key) (local.get $len) (global.get $RET))
  (global.get $RET))
(func (export "cabi_post_call-config-get-int") (param i32) (call $heap-reset))

;; echo-<T>: one line each; all share the (ptr, len) -> $RET body of $ret-list.
(func (export "echo-event") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-event") (param i32) (call $heap-reset))
(func (export "echo-processor-error") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-processor-error") (param i32) (call $heap-reset))
(func (export "echo-processor-info") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-processor-info") (param i32) (call $heap-reset))
(func (export "echo-health-status") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-health-status") (param i32) (call $heap-reset))
(func (export "echo-token-transfer") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-token-transfer") (param i32) (call $heap-reset))
(func (export "echo-stellar-ledger") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-stellar-ledger") (param i32) (call $heap-reset))
(func (export "echo-stellar-operation") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-stellar-operation") (param i32) (call $heap-reset))
(func (export "echo-http-request") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-http-request") (param i32) (call $heap-reset))
(func (export "echo-http-response") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-http-response") (param i32) (call $heap-reset))
(func (export "echo-http-error") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-http-error") (param i32) (call $heap-reset))
(func (export "echo-query-result") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-query-result") (param i32) (call $heap-reset))
(func (export "echo-db-error") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-db-error") (param i32) (call $heap-reset))
(func (export "echo-kv-error") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-kv-error") (param i32) (call $heap-reset))
(func (export "echo-config-error") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-config-error") (param i32) (call $heap-reset))
(func (export "echo-log-level") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-log-level") (param i32) (call $heap-reset))
(func (export "echo-metric-tag") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-metric-tag") (param i32) (call $heap-reset))
(func (export "echo-u64s") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-u64s") (param i32) (call $heap-reset))
(func (export "echo-s64s") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-s64s") (param i32) (call $heap-reset))
(func (export "echo-f64s") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-f64s") (param i32) (call $heap-reset))
(func (export "echo-u32s") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-u32s") (param i32) (call $heap-reset))
(func (export "echo-strings") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-strings") (param i32) (call $heap-reset))
(func (export "echo-kv-get") (param i32 i32) (result i32) (call $ret-list (local.get 0) (local.get 1)))
(func (export "cabi_post_echo-kv-get") (param i32) (call $heap-reset))
