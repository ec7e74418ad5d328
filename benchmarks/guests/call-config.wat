;; call-config -- benchmark guest (benchmarks/peers.py): process-event makes exactly one
;; guest->host import call, config.get-string("mode"), ignores the answer and returns ok([]).
;; Spliced after tests/guests/wat/_runtime.wat and _processor.wat.
;; Core signature of get-string(key: string) -> result<string, config-error>:
;; (i32 key ptr, i32 key len, i32 retptr); the host writes the result (size 16, align 4) at
;; retptr ($SCRATCH) and allocates the returned string with cabi_realloc (the heap is reset by
;; the post-return function of process-event).

(import "obsrvr:flowctl/config@1.0.0" "get-string" (func $get-string (param i32 i32 i32)))

(data (i32.const 512) "mode")

(func $call-config.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (call $get-string (i32.const 512) (i32.const 4) (global.get $SCRATCH))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
