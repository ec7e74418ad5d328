;; imports-wasi -- imports wasi:cli/environment@0.2.0 get-environment; process-event calls it
;; (the host writes the list<tuple<string, string>> as (ptr, len) at $SCRATCH), ignores the
;; answer and returns ok([]).

(import "wasi:cli/environment@0.2.0" "get-environment" (func $get-environment (param i32)))

(func $imports-wasi.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (call $get-environment (global.get $SCRATCH))
  (call $ret-ok-list (global.get $EMPTY_LIST) (i32.const 0)))
