;; call-log -- benchmark guest (benchmarks/peers.py): process-event makes exactly one
;; guest->host import call, logging.log(info, "bench"), and returns ok([]).
;; Spliced after tests/guests/wat/_runtime.wat and _processor.wat (see tests/guests/build.py).
;; Core signature of log(level: log-level, message: string): (i32 level, i32 ptr, i32 len).

(import "obsrvr:flowctl/logging@1.0.0" "log" (func $log (param i32 i32 i32)))

(data (i32.const 512) "bench")

(func $call-log.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  ;; log-level cases: 0 trace 1 debug 2 info 3 warn 4 error
  (call $log (i32.const 2) (i32.const 512) (i32.const 5))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
