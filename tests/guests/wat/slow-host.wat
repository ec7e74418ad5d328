;; slow-host -- process-event calls logging.log(info, "slow-host") in an endless loop, so the
;; time is spent inside host calls rather than in guest code.

(import "obsrvr:flowctl/logging@1.0.0" "log" (func $log (param i32 i32 i32)))

(data (i32.const 512) "slow-host")

(func $slow-host.process-event (export "obsrvr:flowctl/processor@1.0.0#process-event") (param $event i32) (result i32)
  (loop $forever
    ;; log-level cases: 0 trace 1 debug 2 info 3 warn 4 error
    (call $log (i32.const 2) (i32.const 512) (i32.const 9))
    (br $forever))
  unreachable)
