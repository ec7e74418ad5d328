;; sandbox-key-value.wat -- the sandbox probe guest for key-value (see _sandbox.wat).
;;   g get(k)  s set(k, <first metadata value>, no ttl)  d delete(k)  e exists(k)
;;   l list-keys(prefix, no limit)  i increment(k, <timestamp as s64>)  x expire(k, <timestamp>)
;; each -> ok | err:<kv-error case>
(module $sandbox-key-value
(import "obsrvr:flowctl/key-value@1.0.0" "get" (func $get (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "delete" (func $delete (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "exists" (func $exists (param i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "list-keys" (func $list-keys (param i32 i32 i32 i32 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "increment" (func $increment (param i32 i32 i64 i32)))
(import "obsrvr:flowctl/key-value@1.0.0" "expire" (func $expire (param i32 i32 i32 i32)))

;; @include _sandbox.wat

(data (i32.const 512) "\10\02\00\00\09\00\00\00")  ;; [ "key-value" ] at 528
(data (i32.const 528) "key-value")

(func $cap-call (param $op i32) (param $arg i32) (param $arg_len i32)
  (param $meta i32) (param $meta_len i32) (param $num i64)
  (local $value i32) (local $value_len i32)
  (local.set $value (global.get $EMPTY))
  (if (local.get $meta_len)
    (then
      (local.set $value (i32.load offset=8 (local.get $meta)))
      (local.set $value_len (i32.load offset=12 (local.get $meta)))))
  ;; every result here is result<T, kv-error> with the error case at +4, but increment's (s64: +8)
  (if (i32.eq (local.get $op) (i32.const 0x67))  ;; g
    (then
      (call $get (local.get $arg) (local.get $arg_len) (global.get $AREA))
      (call $answer-result (i32.const 4))))
  (if (i32.eq (local.get $op) (i32.const 0x73))  ;; s
    (then
      (call $set (local.get $arg) (local.get $arg_len) (local.get $value) (local.get $value_len)
        (i32.const 0) (i32.const 0) (global.get $AREA))
      (call $answer-result (i32.const 4))))
  (if (i32.eq (local.get $op) (i32.const 0x64))  ;; d
    (then
      (call $delete (local.get $arg) (local.get $arg_len) (global.get $AREA))
      (call $answer-result (i32.const 4))))
  (if (i32.eq (local.get $op) (i32.const 0x65))  ;; e
    (then
      (call $exists (local.get $arg) (local.get $arg_len) (global.get $AREA))
      (call $answer-result (i32.const 4))))
  (if (i32.eq (local.get $op) (i32.const 0x6c))  ;; l
    (then
      (call $list-keys (local.get $arg) (local.get $arg_len) (i32.const 0) (i32.const 0)
        (global.get $AREA))
      (call $answer-result (i32.const 4))))
  (if (i32.eq (local.get $op) (i32.const 0x69))  ;; i
    (then
      (call $increment (local.get $arg) (local.get $arg_len) (local.get $num) (global.get $AREA))
      (call $answer-result (i32.const 8))))
  (if (i32.eq (local.get $op) (i32.const 0x78))  ;; x
    (then
      (call $expire (local.get $arg) (local.get $arg_len) (i32.wrap_i64 (local.get $num))
        (global.get $AREA))
      (call $answer-result (i32.const 4)))))
)
