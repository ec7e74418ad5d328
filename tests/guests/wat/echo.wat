;; echo -- process-event returns ok([event]) and process-batch returns ok(events).
;; The argument already sits in guest memory laid out in canonical-ABI form (the host wrote it
;; there through cabi_realloc), so the result list simply points at it.

(func $echo.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (call $ret-ok-list (local.get $event) (i32.const 1)))

(func $echo.process-batch (export "obsrvr:flowctl/processor@1.0.0#process-batch") (param $ptr i32) (param $len i32) (result i32)
  (call $ret-ok-list (local.get $ptr) (local.get $len)))
