;; imports-other -- imports obsrvr:flowctl-test/clock@1.0.0 `now` (an interface no flowctl host
;; provides); process-event calls it, ignores the answer and returns ok([]).

(import "obsrvr:flowctl-test/clock@1.0.0" "now" (func $now (result i64)))

(func $imports-other.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (drop (call $now))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
